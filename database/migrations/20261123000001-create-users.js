'use strict';

module.exports = {
  async up(queryInterface, Sequelize) {
    const { BIGINT, STRING, DATE } = Sequelize;
    await queryInterface.createTable('users', {
      id: { type: BIGINT.UNSIGNED, primaryKey: true, autoIncrement: true },
      openid: { type: STRING(64), allowNull: false },
      unionid: { type: STRING(64), allowNull: true },
      last_login_at: { type: DATE(3), allowNull: true },
      created_at: { type: DATE(3), allowNull: false },
      updated_at: { type: DATE(3), allowNull: false },
    }, { charset: 'utf8mb4' });
    await queryInterface.addIndex('users', [ 'openid' ], { unique: true, name: 'uk_users_openid' });
    await queryInterface.addIndex('users', [ 'unionid' ], { name: 'idx_users_unionid' });
  },
  async down(queryInterface) {
    await queryInterface.dropTable('users');
  },
};
