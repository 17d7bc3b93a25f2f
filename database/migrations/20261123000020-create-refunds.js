'use strict';

module.exports = {
  async up(queryInterface, Sequelize) {
    const { BIGINT, INTEGER, STRING, DATE } = Sequelize;
    // One refund asked of WeChat (/secapi/pay/refund): its own out_refund_no, against one paid
    // payment attempt of an order (the order's payment, or an extra one flagged refund_required).
    await queryInterface.createTable('refunds', {
      id: { type: BIGINT.UNSIGNED, primaryKey: true, autoIncrement: true },
      order_id: { type: BIGINT.UNSIGNED, allowNull: false },
      attempt_id: { type: BIGINT.UNSIGNED, allowNull: false, comment: 'the paid payment_attempts row refunded' },
      out_trade_no: { type: STRING(32), allowNull: false, comment: 'that attempt\'s out_trade_no, as sent to WeChat' },
      transaction_id: { type: STRING(32), allowNull: false, comment: 'that attempt\'s WeChat transaction_id' },
      out_refund_no: { type: STRING(64), allowNull: false },
      refund_id: { type: STRING(32), allowNull: true, comment: 'WeChat\'s refund number, once WeChat accepted' },
      amount: { type: INTEGER.UNSIGNED, allowNull: false, comment: 'refund_fee, fen' },
      reason: { type: STRING(80), allowNull: false, comment: 'sent as refund_desc' },
      status: { type: STRING(16), allowNull: false, defaultValue: 'PROCESSING', comment: 'PROCESSING SUCCESS CHANGE REFUNDCLOSE FAILED' },
      idempotency_key: { type: STRING(64), allowNull: true },
      err_code: { type: STRING(32), allowNull: true },
      err_code_des: { type: STRING(255), allowNull: true },
      success_at: { type: DATE(3), allowNull: true },
      created_at: { type: DATE(3), allowNull: false },
      updated_at: { type: DATE(3), allowNull: false },
    }, { charset: 'utf8mb4' });
    await queryInterface.addIndex('refunds', [ 'out_refund_no' ], { unique: true, name: 'uk_refunds_out_refund_no' });
    await queryInterface.addIndex('refunds', [ 'refund_id' ], { unique: true, name: 'uk_refunds_refund_id' });
    await queryInterface.addIndex('refunds', [ 'order_id', 'idempotency_key' ], { unique: true, name: 'uk_refunds_order_idempotency' });
    await queryInterface.addIndex('refunds', [ 'attempt_id' ], { name: 'idx_refunds_attempt' });
    // The overdue-refund job walks PROCESSING refunds by when they were last looked at.
    await queryInterface.addIndex('refunds', [ 'status', 'updated_at' ], { name: 'idx_refunds_status_updated' });
  },
  async down(queryInterface) {
    await queryInterface.dropTable('refunds');
  },
};
