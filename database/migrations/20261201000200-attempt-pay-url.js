'use strict';

/**
 * Channels (issue 16): a NATIVE attempt's code_url or an MWEB attempt's mweb_url, kept like its
 * prepay_id so a repeated /pay (or the QR code image) gives the same one while it is valid.
 */
module.exports = {
  async up(queryInterface, Sequelize) {
    await queryInterface.addColumn('payment_attempts', 'pay_url', { type: Sequelize.STRING(512), allowNull: true });
  },

  async down(queryInterface) {
    await queryInterface.removeColumn('payment_attempts', 'pay_url');
  },
};
