'use strict';
// sequelize-cli settings, from the same environment variables as config/config.default.ts.
const fs = require('fs');

function fromEnv(name, fallback) {
  const file = process.env[`${name}_FILE`];
  if (file) return fs.readFileSync(file, 'utf8').trim();
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

function settings(defaultDatabase) {
  return {
    dialect: 'mysql',
    host: fromEnv('MYSQL_HOST', '127.0.0.1'),
    port: Number(fromEnv('MYSQL_PORT', '3306')),
    username: fromEnv('MYSQL_USER', 'root'),
    password: fromEnv('MYSQL_PASSWORD', ''),
    database: defaultDatabase,
    timezone: '+00:00',
    logging: false,
    seederStorage: 'sequelize',
    migrationStorageTableName: 'sequelize_meta',
    seederStorageTableName: 'sequelize_data',
  };
}

module.exports = {
  development: settings(fromEnv('MYSQL_DATABASE', 'wxpay_dev')),
  local: settings(fromEnv('MYSQL_DATABASE', 'wxpay_dev')),
  unittest: settings(fromEnv('MYSQL_TEST_DATABASE', 'wxpay_test')),
  test: settings(fromEnv('MYSQL_TEST_DATABASE', 'wxpay_test')),
  production: settings(fromEnv('MYSQL_DATABASE', 'wxpay')),
  prod: settings(fromEnv('MYSQL_DATABASE', 'wxpay')),
};
