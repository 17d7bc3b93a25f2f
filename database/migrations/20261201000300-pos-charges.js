'use strict';

/**
 * Payment-code charges at the counter (docs/pos.md). A POS order has no logged-in owner (the payer
 * is whoever's code the cashier scans), so orders.user_id becomes nullable; the charge itself
 * (its idempotency key, the store, who charged, the outcome) is a row of pos_charges.
 */
module.exports = {
  async up(queryInterface, Sequelize) {
    const { BIGINT, STRING, TEXT, DATE } = Sequelize;
    await queryInterface.changeColumn('orders', 'user_id', { type: BIGINT.UNSIGNED, allowNull: true });
    await queryInterface.createTable('pos_charges', {
      id: { type: BIGINT.UNSIGNED, primaryKey: true, autoIncrement: true },
      order_id: { type: BIGINT.UNSIGNED, allowNull: false },
      idempotency_key: { type: STRING(64), allowNull: false, comment: 'a retried charge with the same key never charges again' },
      fingerprint: { type: STRING(64), allowNull: false, comment: 'SHA-256 of the request: the same key with another request is refused' },
      status: { type: STRING(16), allowNull: false, defaultValue: 'PROCESSING', comment: 'PROCESSING PAID FAILED REVERSED' },
      operator: { type: STRING(16), allowNull: false, comment: 'admin cashier' },
      store_info: { type: TEXT, allowNull: true, comment: 'JSON: scene_info.store_info as sent' },
      payer_openid: { type: STRING(128), allowNull: true },
      failure_code: { type: STRING(32), allowNull: true, comment: 'our code: why the charge failed or was reversed' },
      wechat_code: { type: STRING(32), allowNull: true, comment: 'WeChat err_code (or trade_state) of a failed charge' },
      failure_message: { type: STRING(255), allowNull: true },
      created_at: { type: DATE(3), allowNull: false },
      updated_at: { type: DATE(3), allowNull: false },
    }, { charset: 'utf8mb4' });
    await queryInterface.addIndex('pos_charges', [ 'idempotency_key' ], { unique: true, name: 'uk_pos_charges_idempotency' });
    await queryInterface.addIndex('pos_charges', [ 'order_id' ], { unique: true, name: 'uk_pos_charges_order' });
  },

  async down(queryInterface, Sequelize) {
    await queryInterface.dropTable('pos_charges');
    await queryInterface.changeColumn('orders', 'user_id', { type: Sequelize.BIGINT.UNSIGNED, allowNull: false });
  },
};
