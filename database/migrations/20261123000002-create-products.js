'use strict';

module.exports = {
  async up(queryInterface, Sequelize) {
    const { BIGINT, INTEGER, STRING, BOOLEAN, DATE } = Sequelize;
    await queryInterface.createTable('products', {
      id: { type: BIGINT.UNSIGNED, primaryKey: true, autoIncrement: true },
      name: { type: STRING(64), allowNull: false },
      price_fen: { type: INTEGER.UNSIGNED, allowNull: false },
      active: { type: BOOLEAN, allowNull: false, defaultValue: true },
      created_at: { type: DATE(3), allowNull: false },
      updated_at: { type: DATE(3), allowNull: false },
    }, { charset: 'utf8mb4' });
  },
  async down(queryInterface) {
    await queryInterface.dropTable('products');
  },
};
