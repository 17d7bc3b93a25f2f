'use strict';

/**
 * What a payment was made of, as WeChat reports it in the notification and the order query: the
 * cash the payer paid, the coupons that paid the rest, and what the merchant is settled. Kept on
 * the payment attempt that was paid; the coupons as a JSON list (id, type, fee), because they are
 * only ever read with their payment. total_fee stays the order's amount and is what is matched.
 */
module.exports = {
  async up(queryInterface, Sequelize) {
    const { INTEGER, TEXT } = Sequelize;
    await queryInterface.addColumn('payment_attempts', 'cash_fee', { type: INTEGER.UNSIGNED, allowNull: true });
    await queryInterface.addColumn('payment_attempts', 'coupon_fee', { type: INTEGER.UNSIGNED, allowNull: true });
    await queryInterface.addColumn('payment_attempts', 'coupon_count', { type: INTEGER.UNSIGNED, allowNull: true });
    await queryInterface.addColumn('payment_attempts', 'settlement_total_fee', { type: INTEGER.UNSIGNED, allowNull: true });
    await queryInterface.addColumn('payment_attempts', 'coupons', { type: TEXT, allowNull: true });
    // Reconciliation shows the day's coupon amounts on both sides (the bill's coupon column, ours).
    await queryInterface.addColumn('reconciliations', 'bill_coupon_total', { type: Sequelize.BIGINT, allowNull: false, defaultValue: 0 });
    await queryInterface.addColumn('reconciliations', 'local_coupon_total', { type: Sequelize.BIGINT, allowNull: false, defaultValue: 0 });
  },
  async down(queryInterface) {
    for (const column of [ 'local_coupon_total', 'bill_coupon_total' ]) await queryInterface.removeColumn('reconciliations', column);
    for (const column of [ 'coupons', 'settlement_total_fee', 'coupon_count', 'coupon_fee', 'cash_fee' ]) {
      await queryInterface.removeColumn('payment_attempts', column);
    }
  },
};
