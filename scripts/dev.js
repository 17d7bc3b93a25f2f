#!/usr/bin/env node
'use strict';
// `npm run dev`: prepares the development database, starts the WeChat simulator and the service
// wired to it, and stops both on Ctrl-C.
const { fork, spawn, spawnSync } = require('child_process');
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
function watch(name, child) {
  child.on('exit', code => {
    console.log(`[dev] ${name} exited (${code})`);
    shutdown(code || 0);
  });
  children.push(child);
  return child;
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
// merchant's client certificate and key to tlsDir, which the service is pointed at. It says when
// all of that is done (simulator/main.ts), and the service, which checks the certificate as it
// starts, is started then.
const simHttpsPort = process.env.SIM_HTTPS_PORT || '9998';
const tlsDir = path.join(root, 'run', 'simulator-tls');
const simulator = watch('simulator', fork(path.join(root, 'simulator', 'main.ts'), [], {
  cwd: root, execArgv: [ '-r', 'ts-node/register/transpile-only' ], stdio: 'inherit',
  env: {
    ...process.env, SIM_PORT: simPort, SIM_HTTPS_PORT: simHttpsPort, SIM_TLS_DIR: tlsDir,
    // NATIVE mode 1: the merchant platform's scan callback, pointed at this service.
    SIM_SCAN_CALLBACK_URL: process.env.SIM_SCAN_CALLBACK_URL || `http://127.0.0.1:${appPort}/payment/native-scan`,
  },
}));
// Issue 17: a small receiver that logs the events the service delivers (examples/webhook-receiver),
// so "order.paid" shows here within a second of a payment. AMQP_URL set: RabbitMQ gets them too.
const receiverPort = process.env.WEBHOOK_RECEIVER_PORT || '7070';
const webhookSecret = process.env.OUTBOX_WEBHOOK_SECRET || 'dev-webhook-secret-not-for-production';
watch('receiver', fork(path.join(root, 'examples', 'webhook-receiver', 'server.js'), [], {
  cwd: root, stdio: 'inherit', env: { ...process.env, WEBHOOK_RECEIVER_PORT: receiverPort, WEBHOOK_SECRET: webhookSecret },
}));

simulator.once('message', ready => {
  if (stopping) return;
  const cert = name => path.join(ready.dir, name);
  watch('service', spawn(bin('egg-bin'), [ 'dev', '--port', appPort ], {
    cwd: root, stdio: 'inherit',
    env: {
      ...process.env,
      WECHAT_PAY_BASE_URL: simUrl,
      WECHAT_LOGIN_BASE_URL: simUrl,
      WECHAT_NOTIFY_URL: `${appUrl}/payment/notify`,
      WECHAT_REFUND_NOTIFY_URL: `${appUrl}/payment/refund-notify`,
      WECHAT_SECAPI_BASE_URL: ready.httpsUrl,
      WECHAT_CA_PATH: cert('ca.pem'),
      WECHAT_CERT_PEM_PATH: cert('apiclient_cert.pem'),
      WECHAT_KEY_PEM_PATH: cert('apiclient_key.pem'),
      OUTBOX_WEBHOOK_URL: process.env.OUTBOX_WEBHOOK_URL || `http://127.0.0.1:${receiverPort}/events`,
      OUTBOX_WEBHOOK_SECRET: webhookSecret,
    },
  }));
  console.log(`[dev] service ${appUrl}  simulator ${simUrl}/simulator/ (refunds over ${ready.httpsUrl})`);
});
