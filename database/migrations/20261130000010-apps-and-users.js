'use strict';

/**
 * Several apps under one merchant (docs/decisions/0006-apps-and-users.md): a user is an
 * (appid, openid) pair, and every order and payment attempt records the appid and trade type it
 * was made for. Rows from before were all the mini-program's JSAPI payments: they get its appid
 * (WECHAT_APPID, as the app reads it; the development appid when unset).
 */
function miniProgramAppId() {
  const file = process.env.WECHAT_APPID_FILE;
  if (file) return require('fs').readFileSync(file, 'utf8').trim();
  return process.env.WECHAT_APPID || 'wx0000000000000001';
}

module.exports = {
  async up(queryInterface, Sequelize) {
    const { STRING } = Sequelize;
    const appid = miniProgramAppId();
    // Added nullable, backfilled, then made NOT NULL: no row ever lacks an appid afterwards.
    for (const table of [ 'users', 'orders', 'payment_attempts' ]) {
      await queryInterface.addColumn(table, 'appid', { type: STRING(32), allowNull: true });
      await queryInterface.sequelize.query(`UPDATE ${table} SET appid = ? WHERE appid IS NULL`, { replacements: [ appid ] });
      await queryInterface.changeColumn(table, 'appid', { type: STRING(32), allowNull: false });
    }
    for (const table of [ 'orders', 'payment_attempts' ]) {
      await queryInterface.addColumn(table, 'trade_type', { type: STRING(16), allowNull: false, defaultValue: 'JSAPI' });
    }
    // An openid is only unique within its app; the unionid (already indexed) links one person's
    // users across apps but never authorises anything.
    await queryInterface.addIndex('users', [ 'appid', 'openid' ], { unique: true, name: 'uk_users_appid_openid' });
    await queryInterface.removeIndex('users', 'uk_users_openid');
  },

  async down(queryInterface) {
    await queryInterface.addIndex('users', [ 'openid' ], { unique: true, name: 'uk_users_openid' });
    await queryInterface.removeIndex('users', 'uk_users_appid_openid');
    for (const table of [ 'orders', 'payment_attempts' ]) await queryInterface.removeColumn(table, 'trade_type');
    for (const table of [ 'users', 'orders', 'payment_attempts' ]) await queryInterface.removeColumn(table, 'appid');
  },
};
