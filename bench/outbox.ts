/**
 * `npm run bench:outbox`: what writing the outbox event adds to a payment notification's cost.
 * Side by side in one process: the app (egg.start, one process, relay off, so only the writing is
 * measured) answers POST /payment/notify for distinct unpaid orders, alternately as it is and with
 * recordOrderEvent cut back to the audit row alone (the work before the outbox), round after round,
 * so drift of a shared machine hits both. Prints median latency and throughput of each.
 * Settings: BENCH_OUTBOX_COUNT (400 per run), BENCH_OUTBOX_ROUNDS (4), BENCH_OUTBOX_CONNECTIONS (1,8),
 * BENCH_OUTBOX_DATABASE (wxpay_bench_outbox), BENCH_REDIS_DB (14).
 */
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as path from 'node:path';
import mysql from 'mysql2/promise';
import { sampleNotification } from './core';
import { CREDENTIALS, insertUnpaidOrders, median, MYSQL_SERVER, prepareBenchDatabase } from './fixtures';

const root = path.join(__dirname, '..');
const env = process.env;
const COUNT = Number(env.BENCH_OUTBOX_COUNT ?? 400);
const ROUNDS = Number(env.BENCH_OUTBOX_ROUNDS ?? 4);
const LEVELS = (env.BENCH_OUTBOX_CONNECTIONS ?? '1,8').split(',').map(Number);
const DATABASE = env.BENCH_OUTBOX_DATABASE ?? 'wxpay_bench_outbox';

type Variant = 'with outbox' | 'audit row only';

async function main() {
  prepareBenchDatabase(root, DATABASE, { seed: false });
  Object.assign(process.env, CREDENTIALS, {
    MYSQL_DATABASE: DATABASE, REDIS_DB: env.BENCH_REDIS_DB ?? '14', OUTBOX_RELAY_ENABLED: 'false', ORDER_JOBS_ENABLED: 'false',
    RECONCILE_JOB_ENABLED: 'false', EGG_TYPESCRIPT: 'true', EGG_LOG: 'NONE', RATE_LIMIT_STATUS_PER_USER: '0',
  });
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const egg = require('egg');
  const app = await egg.start({ baseDir: root, ignoreWarning: true, plugins: { schedule: { enable: false }, logrotator: { enable: false } } });
  const server = http.createServer(app.callback());
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/payment/notify`;
  const db = await mysql.createConnection({ ...MYSQL_SERVER, database: DATABASE });

  // The variant without the outbox: the audit row, as every writer wrote it before.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const outboxModule = require('../app/repository/outboxRepository');
  const withOutbox = outboxModule.recordOrderEvent;
  const auditOnly = async (model: any, input: any, transaction: any) => {
    await model.OrderEvent.create({ orderId: input.orderId, type: input.type, source: input.source, detail: input.detail }, { transaction });
  };

  await db.query('DELETE FROM users');
  const users: Array<{ id: number; openid: string }> = [];
  for (let i = 0; i < 20; i++) {
    const openid = `obench${String(i).padStart(22, '0')}`;
    const [ result ] = await db.query('INSERT INTO users (appid, openid, created_at, updated_at) VALUES (?, ?, NOW(3), NOW(3))', [ CREDENTIALS.WECHAT_APPID, openid ]) as any;
    users.push({ id: result.insertId, openid });
  }

  const results: Array<{ round: number; connections: number; variant: Variant; medianMs: number; p99Ms: number; perSecond: number }> = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const connections of LEVELS) {
      const variants: Variant[] = round % 2 === 0 ? [ 'with outbox', 'audit row only' ] : [ 'audit row only', 'with outbox' ];
      for (const variant of variants) {
        outboxModule.recordOrderEvent = variant === 'with outbox' ? withOutbox : auditOnly;
        const orders = await insertUnpaidOrders(db, COUNT, `O${round}${connections}`, users, 'MD5', CREDENTIALS.WECHAT_APPID);
        const bodies = orders.map(o => sampleNotification(CREDENTIALS.WECHAT_API_KEY, {
          appid: CREDENTIALS.WECHAT_APPID, mch_id: CREDENTIALS.WECHAT_MCH_ID, nonce_str: `n${o.outTradeNo}`, openid: o.openid,
          transaction_id: o.transactionId, out_trade_no: o.outTradeNo,
        }, 'MD5'));
        const latencies: number[] = [];
        let next = 0;
        const started = process.hrtime.bigint();
        await Promise.all(Array.from({ length: connections }, async () => {
          while (next < bodies.length) {
            const body = bodies[next++];
            const t0 = process.hrtime.bigint();
            const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/xml' } });
            const text = await res.text();
            if (!text.includes('SUCCESS')) throw new Error(`notification refused: ${text}`);
            latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          }
        }));
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const [[{ n }]] = await db.query('SELECT COUNT(*) AS n FROM outbox_events') as any;
        if ((variant === 'with outbox') !== (Number(n) === COUNT)) throw new Error(`${variant}: ${n} outbox rows for ${COUNT} payments`);
        latencies.sort((a, b) => a - b);
        const row = { round: round + 1, connections, variant, medianMs: median(latencies), p99Ms: latencies[Math.floor(latencies.length * 0.99)], perSecond: COUNT / seconds };
        results.push(row);
        console.log(`round ${row.round}, ${connections} connection(s), ${variant.padEnd(14)}: median ${row.medianMs.toFixed(2)} ms, p99 ${row.p99Ms.toFixed(2)} ms, ${row.perSecond.toFixed(0)} notifications/s`);
      }
    }
  }
  outboxModule.recordOrderEvent = withOutbox;
  console.log('\nmedians over rounds (with outbox / audit row only):');
  for (const connections of LEVELS) {
    const of = (variant: Variant, key: 'medianMs' | 'perSecond') => median(results.filter(r => r.connections === connections && r.variant === variant).map(r => r[key]));
    const ratios = [ ...new Set(results.map(r => r.round)) ].map(round => {
      const pick = (variant: Variant) => results.find(r => r.round === round && r.connections === connections && r.variant === variant)!;
      return pick('with outbox').medianMs / pick('audit row only').medianMs;
    });
    console.log(`${connections} connection(s): latency ${of('with outbox', 'medianMs').toFixed(2)} / ${of('audit row only', 'medianMs').toFixed(2)} ms ` +
      `(ratio per round ${ratios.map(r => r.toFixed(2)).join(', ')}), throughput ${of('with outbox', 'perSecond').toFixed(0)} / ${of('audit row only', 'perSecond').toFixed(0)} per second`);
  }
  await db.end();
  server.close();
  await app.close();
  await app.agent.close();
}

main().then(() => process.exit(0), err => {
  console.error(err);
  process.exit(1);
});
