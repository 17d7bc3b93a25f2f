'use strict';

/**
 * The unified order's optional fields (docs/decisions/0008-unified-order-options.md): a product
 * may carry a coupon tag (goods_tag) and refuse credit cards (limit_pay=no_credit); an order keeps
 * what it was sent with (goods_tag, limit_pay, receipt, detail), fixed at creation so a repeated
 * unified order for the same number is identical.
 */
module.exports = {
  async up(queryInterface, Sequelize) {
    const { STRING, BOOLEAN, TEXT } = Sequelize;
    await queryInterface.addColumn('products', 'goods_tag', { type: STRING(32), allowNull: true });
    await queryInterface.addColumn('products', 'no_credit', { type: BOOLEAN, allowNull: false, defaultValue: false });
    await queryInterface.addColumn('orders', 'goods_tag', { type: STRING(32), allowNull: true });
    await queryInterface.addColumn('orders', 'limit_pay', { type: STRING(16), allowNull: true });
    await queryInterface.addColumn('orders', 'receipt', { type: BOOLEAN, allowNull: false, defaultValue: false });
    await queryInterface.addColumn('orders', 'detail', { type: TEXT, allowNull: true });
  },
  async down(queryInterface) {
    for (const column of [ 'detail', 'receipt', 'limit_pay', 'goods_tag' ]) await queryInterface.removeColumn('orders', column);
    for (const column of [ 'no_credit', 'goods_tag' ]) await queryInterface.removeColumn('products', column);
  },
};
