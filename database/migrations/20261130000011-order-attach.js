'use strict';

/**
 * The merchant's own data sent as the unified order's `attach` and echoed by WeChat in the
 * notification and the order query: at most 127 bytes there, so at most 127 characters here.
 */
module.exports = {
  async up(queryInterface, Sequelize) {
    await queryInterface.addColumn('orders', 'attach', { type: Sequelize.STRING(127), allowNull: true });
  },
  async down(queryInterface) {
    await queryInterface.removeColumn('orders', 'attach');
  },
};
