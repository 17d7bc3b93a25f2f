'use strict';

module.exports = {
  async up(queryInterface, Sequelize) {
    const { BIGINT, INTEGER, STRING, DATE, TEXT, BOOLEAN } = Sequelize;
    // The business order: what was bought, for how much, and whether it is paid.
    await queryInterface.createTable('orders', {
      id: { type: BIGINT.UNSIGNED, primaryKey: true, autoIncrement: true },
      out_trade_no: { type: STRING(32), allowNull: false, comment: 'public order number; also the first payment attempt' },
      user_id: { type: BIGINT.UNSIGNED, allowNull: false },
      idempotency_key: { type: STRING(64), allowNull: true },
      total_fee: { type: INTEGER.UNSIGNED, allowNull: false, comment: 'fen' },
      body: { type: STRING(128), allowNull: false },
      items: { type: TEXT, allowNull: false, comment: 'JSON: [{productId,name,unitPriceFen,quantity}]' },
      status: { type: STRING(16), allowNull: false, defaultValue: 'NOTPAY', comment: 'NOTPAY SUCCESS CLOSED REFUND' },
      sign_type: { type: STRING(16), allowNull: false },
      expires_at: { type: DATE(3), allowNull: false },
      current_attempt_id: { type: BIGINT.UNSIGNED, allowNull: true },
      paid_attempt_id: { type: BIGINT.UNSIGNED, allowNull: true },
      transaction_id: { type: STRING(32), allowNull: true },
      paid_at: { type: DATE(3), allowNull: true },
      bank_type: { type: STRING(32), allowNull: true },
      closed_at: { type: DATE(3), allowNull: true },
      refund_required: { type: BOOLEAN, allowNull: false, defaultValue: false, comment: 'money arrived that must be returned' },
      refunded_fee: { type: INTEGER.UNSIGNED, allowNull: false, defaultValue: 0 },
      created_at: { type: DATE(3), allowNull: false },
      updated_at: { type: DATE(3), allowNull: false },
    }, { charset: 'utf8mb4' });
    await queryInterface.addIndex('orders', [ 'out_trade_no' ], { unique: true, name: 'uk_orders_out_trade_no' });
    await queryInterface.addIndex('orders', [ 'transaction_id' ], { unique: true, name: 'uk_orders_transaction_id' });
    await queryInterface.addIndex('orders', [ 'user_id', 'idempotency_key' ], { unique: true, name: 'uk_orders_user_idempotency' });
    // Expiry and overdue-query jobs scan NOTPAY orders by age.
    await queryInterface.addIndex('orders', [ 'status', 'expires_at' ], { name: 'idx_orders_status_expires' });
    await queryInterface.addIndex('orders', [ 'user_id', 'created_at' ], { name: 'idx_orders_user_created' });

    // One call to WeChat's unified order: an order may need several (expired prepay, changed
    // parameters), each with its own out_trade_no because WeChat refuses a reused one.
    await queryInterface.createTable('payment_attempts', {
      id: { type: BIGINT.UNSIGNED, primaryKey: true, autoIncrement: true },
      order_id: { type: BIGINT.UNSIGNED, allowNull: false },
      out_trade_no: { type: STRING(32), allowNull: false },
      total_fee: { type: INTEGER.UNSIGNED, allowNull: false },
      sign_type: { type: STRING(16), allowNull: false },
      status: { type: STRING(16), allowNull: false, defaultValue: 'CREATED', comment: 'CREATED PREPAID FAILED PAID CLOSED' },
      time_start: { type: STRING(14), allowNull: false, comment: 'yyyyMMddHHmmss UTC+8 as sent' },
      time_expire: { type: STRING(14), allowNull: false, comment: 'yyyyMMddHHmmss UTC+8 as sent' },
      prepay_id: { type: STRING(64), allowNull: true },
      prepay_expires_at: { type: DATE(3), allowNull: true },
      transaction_id: { type: STRING(32), allowNull: true },
      err_code: { type: STRING(32), allowNull: true },
      err_code_des: { type: STRING(255), allowNull: true },
      created_at: { type: DATE(3), allowNull: false },
      updated_at: { type: DATE(3), allowNull: false },
    }, { charset: 'utf8mb4' });
    await queryInterface.addIndex('payment_attempts', [ 'out_trade_no' ], { unique: true, name: 'uk_attempts_out_trade_no' });
    await queryInterface.addIndex('payment_attempts', [ 'transaction_id' ], { unique: true, name: 'uk_attempts_transaction_id' });
    await queryInterface.addIndex('payment_attempts', [ 'order_id' ], { name: 'idx_attempts_order' });

    // Every notification received, raw and parsed, whatever became of it.
    await queryInterface.createTable('payment_notifications', {
      id: { type: BIGINT.UNSIGNED, primaryKey: true, autoIncrement: true },
      kind: { type: STRING(8), allowNull: false, comment: 'pay refund' },
      out_trade_no: { type: STRING(32), allowNull: true },
      transaction_id: { type: STRING(32), allowNull: true },
      raw_body: { type: TEXT, allowNull: false },
      parsed: { type: TEXT, allowNull: true, comment: 'JSON' },
      outcome: { type: STRING(16), allowNull: false, defaultValue: 'RECEIVED', comment: 'RECEIVED APPLIED DUPLICATE REJECTED ERROR' },
      reason: { type: STRING(255), allowNull: true },
      remote_ip: { type: STRING(64), allowNull: true },
      created_at: { type: DATE(3), allowNull: false },
      updated_at: { type: DATE(3), allowNull: false },
    }, { charset: 'utf8mb4' });
    await queryInterface.addIndex('payment_notifications', [ 'out_trade_no' ], { name: 'idx_notifications_out_trade_no' });
    await queryInterface.addIndex('payment_notifications', [ 'created_at' ], { name: 'idx_notifications_created' });

    // One row per order state change: the audit trail and the single place side effects hang on.
    await queryInterface.createTable('order_events', {
      id: { type: BIGINT.UNSIGNED, primaryKey: true, autoIncrement: true },
      order_id: { type: BIGINT.UNSIGNED, allowNull: false },
      type: { type: STRING(32), allowNull: false },
      source: { type: STRING(16), allowNull: false, comment: 'notify query client job admin' },
      detail: { type: TEXT, allowNull: true, comment: 'JSON' },
      created_at: { type: DATE(3), allowNull: false },
    }, { charset: 'utf8mb4' });
    await queryInterface.addIndex('order_events', [ 'order_id' ], { name: 'idx_order_events_order' });
    // A payment side effect happens once per order however it is learned.
    await queryInterface.addIndex('order_events', [ 'order_id', 'type' ], { name: 'idx_order_events_order_type' });
  },
  async down(queryInterface) {
    await queryInterface.dropTable('order_events');
    await queryInterface.dropTable('payment_notifications');
    await queryInterface.dropTable('payment_attempts');
    await queryInterface.dropTable('orders');
  },
};
