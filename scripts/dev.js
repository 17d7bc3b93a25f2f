#!/usr/bin/env node
'use strict';
// `npm run dev`: prepares the development database, starts the WeChat simulator and the service
// wired to it, and stops both on Ctrl-C.
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const bin = name => path.join(root, 'node_modules', '.bin', name);
const simPort = process.env.SIM_PORT || '9999';
const appPort = process.env.PORT || '7001';

function run(cmd, args) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'development' } });
  if (res.status !== 0) {
    console.error(`\n${path.basename(cmd)} ${args.join(' ')} failed: is MariaDB running on 127.0.0.1:3306?`);
    process.exit(res.status || 1);
  }
}

run(process.execPath, [ 'scripts/db-create.js', '--env', 'development' ]);
run(bin('sequelize-cli'), [ 'db:migrate', '--env', 'development' ]);
run(bin('sequelize-cli'), [ 'db:seed:all', '--env', 'development' ]);
spawnSync(bin('ets'), [ 'clean' ], { cwd: root, stdio: 'ignore' });

const simUrl = `http://127.0.0.1:${simPort}`;
const appUrl = `http://127.0.0.1:${appPort}`;
const children = [];
function start(name, cmd, args, env) {
  const child = spawn(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  child.on('exit', code => {
    console.log(`[dev] ${name} exited (${code})`);
    shutdown(code || 0);
  });
  children.push(child);
}
let stopping = false;
function shutdown(code) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  setTimeout(() => process.exit(code), 500);
}
process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

// Refunds need mutual TLS: the simulator also serves HTTPS and writes a throwaway CA and the
// merchant's client certificate and key to tlsDir, which the service is pointed at.
const simHttpsPort = process.env.SIM_HTTPS_PORT || '9998';
const tlsDir = path.join(root, 'run', 'simulator-tls');
const tlsFiles = [ 'ca.pem', 'apiclient_cert.pem', 'apiclient_key.pem' ].map(name => path.join(tlsDir, name));
for (const file of tlsFiles) fs.rmSync(file, { force: true });
start('simulator', process.execPath, [ '-r', 'ts-node/register/transpile-only', 'simulator/main.ts' ],
  { SIM_PORT: simPort, SIM_HTTPS_PORT: simHttpsPort, SIM_TLS_DIR: tlsDir });

// The service checks the certificate as it starts: wait for the simulator to have written it.
const waitedSince = Date.now();
const waitForCerts = setInterval(() => {
  const ready = tlsFiles.every(file => fs.existsSync(file));
  if (!ready && Date.now() - waitedSince < 20000) return;
  clearInterval(waitForCerts);
  if (stopping) return;
  if (!ready) console.log('[dev] the simulator wrote no client certificate: refunds are off');
  start('service', bin('egg-bin'), [ 'dev', '--port', appPort ], {
    WECHAT_PAY_BASE_URL: simUrl,
    WECHAT_LOGIN_BASE_URL: simUrl,
    WECHAT_NOTIFY_URL: `${appUrl}/payment/notify`,
    WECHAT_REFUND_NOTIFY_URL: `${appUrl}/payment/refund-notify`,
    ...(ready ? {
      WECHAT_SECAPI_BASE_URL: `https://127.0.0.1:${simHttpsPort}`,
      WECHAT_CA_PATH: tlsFiles[0],
      WECHAT_CERT_PEM_PATH: tlsFiles[1],
      WECHAT_KEY_PEM_PATH: tlsFiles[2],
    } : {}),
  });
  console.log(`[dev] service ${appUrl}  simulator ${simUrl}/simulator/ (refunds over https://127.0.0.1:${simHttpsPort})`);
}, 200);
