'use strict';

// A notification's parsed copy is JSON: escaping can make it several times the body's size (a
// control character becomes \u0001), which outgrew TEXT's 64 KB. MEDIUMTEXT holds any body the
// size limit admits, so an audit row can always be written.
module.exports = {
  async up(queryInterface, Sequelize) {
    await queryInterface.changeColumn('payment_notifications', 'raw_body', { type: Sequelize.TEXT('medium'), allowNull: false });
    await queryInterface.changeColumn('payment_notifications', 'parsed', { type: Sequelize.TEXT('medium'), allowNull: true, comment: 'JSON' });
  },

  async down(queryInterface, Sequelize) {
    await queryInterface.changeColumn('payment_notifications', 'raw_body', { type: Sequelize.TEXT, allowNull: false });
    await queryInterface.changeColumn('payment_notifications', 'parsed', { type: Sequelize.TEXT, allowNull: true, comment: 'JSON' });
  },
};
