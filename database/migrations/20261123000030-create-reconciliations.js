'use strict';

module.exports = {
  async up(queryInterface, Sequelize) {
    const { BIGINT, BOOLEAN, INTEGER, STRING, DATE, DATEONLY, TEXT } = Sequelize;
    // One row per Beijing calendar day compared with WeChat's bill; reconciling a day again
    // replaces its row.
    await queryInterface.createTable('reconciliations', {
      id: { type: BIGINT.UNSIGNED, primaryKey: true, autoIncrement: true },
      bill_date: { type: DATEONLY, allowNull: false, comment: 'the Beijing (UTC+8) day of the bill' },
      status: { type: STRING(16), allowNull: false, comment: 'OK MISMATCH NO_BILL ERROR' },
      has_bill: { type: BOOLEAN, allowNull: false, defaultValue: false, comment: 'WeChat had a bill for the day' },
      bill_payment_count: { type: INTEGER.UNSIGNED, allowNull: false, defaultValue: 0 },
      bill_payment_total: { type: BIGINT, allowNull: false, defaultValue: 0, comment: 'fen' },
      bill_refund_count: { type: INTEGER.UNSIGNED, allowNull: false, defaultValue: 0 },
      bill_refund_total: { type: BIGINT, allowNull: false, defaultValue: 0, comment: 'fen' },
      bill_fee_total: { type: BIGINT, allowNull: false, defaultValue: 0, comment: 'fen, WeChat\'s fees' },
      local_payment_count: { type: INTEGER.UNSIGNED, allowNull: false, defaultValue: 0 },
      local_payment_total: { type: BIGINT, allowNull: false, defaultValue: 0, comment: 'fen' },
      local_refund_count: { type: INTEGER.UNSIGNED, allowNull: false, defaultValue: 0 },
      local_refund_total: { type: BIGINT, allowNull: false, defaultValue: 0, comment: 'fen' },
      discrepancy_count: { type: INTEGER.UNSIGNED, allowNull: false, defaultValue: 0 },
      discrepancies: { type: TEXT('medium'), allowNull: false, comment: 'JSON list' },
      error: { type: STRING(512), allowNull: true, comment: 'why the day could not be reconciled (ERROR)' },
      started_at: { type: DATE(3), allowNull: false },
      finished_at: { type: DATE(3), allowNull: false },
      created_at: { type: DATE(3), allowNull: false },
      updated_at: { type: DATE(3), allowNull: false },
    }, { charset: 'utf8mb4' });
    await queryInterface.addIndex('reconciliations', [ 'bill_date' ], { unique: true, name: 'uk_reconciliations_bill_date' });

    // Reconciliation reads one day of payments and refunds at a time.
    await queryInterface.addIndex('orders', [ 'paid_at' ], { name: 'idx_orders_paid_at' });
    await queryInterface.addIndex('payment_attempts', [ 'status', 'updated_at' ], { name: 'idx_attempts_status_updated' });
    await queryInterface.addIndex('refunds', [ 'created_at' ], { name: 'idx_refunds_created' });
  },
  async down(queryInterface) {
    await queryInterface.removeIndex('refunds', 'idx_refunds_created');
    await queryInterface.removeIndex('payment_attempts', 'idx_attempts_status_updated');
    await queryInterface.removeIndex('orders', 'idx_orders_paid_at');
    await queryInterface.dropTable('reconciliations');
  },
};
