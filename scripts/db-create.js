#!/usr/bin/env node
'use strict';
// Creates the database named by database/config.js for --env (default: NODE_ENV or development).
const mysql = require('mysql2/promise');
const configs = require('../database/config');

async function main() {
  const i = process.argv.indexOf('--env');
  const env = i > 0 ? process.argv[i + 1] : (process.env.NODE_ENV || 'development');
  const cfg = configs[env];
  if (!cfg) throw new Error(`no database settings for env ${env}`);
  if (!/^[A-Za-z0-9_]+$/.test(cfg.database)) throw new Error(`refusing database name ${cfg.database}`);
  const conn = await mysql.createConnection({ host: cfg.host, port: cfg.port, user: cfg.username, password: cfg.password });
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${cfg.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    console.log(`database ${cfg.database} is ready`);
  } finally {
    await conn.end();
  }
}

main().catch(err => {
  console.error(`db-create failed: ${err.message}`);
  process.exit(1);
});
