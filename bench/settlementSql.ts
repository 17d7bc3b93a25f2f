/**
 * `npm run bench:sql`: what a notification costs in the database, without HTTP, XML or Egg: the
 * service's settlement path (app/service/settlement.ts: micro-batches, row locks, the rules, the
 * attempt and order updates, the PAID event, the audit row, one commit per batch) against the
 * baseline's one conditional UPDATE (bench/baseline.ts), both in this process, on the same MariaDB,
 * with the same driver.
 *
 * Each level keeps K payments in flight (K "clients", each submitting its next payment when the
 * last is answered), as one worker of the HTTP bench sees them: 10 connections over 2 workers is
 * K = 5, 32 connections is K = 16. Settlement's batches form by themselves, as in the service.
 * Reported per payment: CPU of this process (the client side: driver, rules) and of MariaDB, and
 * throughput; ratios are service / baseline within a round, median over rounds.
 *
 * Settings: BENCH_SQL_LEVELS (1,5,16), BENCH_SQL_PAYMENTS (2000 per run), BENCH_ROUNDS (3),
 * BENCH_MYSQL_DATABASE (wxpay_bench, created and migrated here).
 */
import * as path from 'node:path';
import mysql from 'mysql2/promise';
import { createSettlementPool } from '../app/lib/settlementStore';
import { settleNotification, settlementStore } from '../app/service/settlement';
import { sampleNotificationFields } from './core';
import { BASELINE_PAY_SQL, BENCH_DATABASE, CREDENTIALS, cpuMs, databasePids, insertUnpaidOrders, median, MYSQL_SERVER, prepareBenchDatabase } from './fixtures';
import { buildXml } from '../lib/wechatpay';

const env = process.env;
const root = path.join(__dirname, '..');
const LEVELS = (env.BENCH_SQL_LEVELS ?? '1,5,16').split(',').map(Number);
const PAYMENTS = Number(env.BENCH_SQL_PAYMENTS ?? 2000);
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3);

interface RunResult { perSecond: number; clientMs: number; databaseMs: number; meanBatch?: number }

const clientCpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

/** Runs `pay(i)` for every payment with `level` in flight; CPU and time per payment. */
async function measure(count: number, level: number, pay: (i: number) => Promise<void>): Promise<RunResult> {
  let next = 0;
  const client = async () => {
    while (next < count) await pay(next++);
  };
  const [ database0, client0, t0 ] = [ cpuMs(databasePids()), clientCpuMs(), process.hrtime.bigint() ];
  await Promise.all(Array.from({ length: level }, client));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { perSecond: count / seconds, clientMs: (clientCpuMs() - client0) / count, databaseMs: (cpuMs(databasePids()) - database0) / count };
}

async function main() {
  prepareBenchDatabase(root, BENCH_DATABASE, { seed: false });
  const conn = await mysql.createConnection({ ...MYSQL_SERVER, database: BENCH_DATABASE, timezone: '+00:00' });
  const baselinePool = mysql.createPool({ ...MYSQL_SERVER, database: BENCH_DATABASE, connectionLimit: 10, timezone: '+00:00' });
  const settlementPool = createSettlementPool({ ...MYSQL_SERVER, username: MYSQL_SERVER.user, database: BENCH_DATABASE, poolSize: 4 });
  // What settlement reads of the app: its pool, config and logger; ctxStorage for the batcher.
  const app = {
    settlementPool,
    config: { payment: { settlementBatchMax: 32, settlementLockWaitSeconds: 5 }, wechat: { apiKey: CREDENTIALS.WECHAT_API_KEY } },
    logger: { info() {}, warn: console.warn, error: console.error },
    ctxStorage: { exit: (fn: () => void) => fn() },
  } as any;
  let batches = 0;
  const lock = settlementStore.lock.bind(settlementStore);
  settlementStore.lock = (...args: Parameters<typeof lock>) => {
    batches++;
    return lock(...args);
  };

  await conn.query('INSERT IGNORE INTO users (openid, created_at, updated_at) VALUES (\'oBenchSql0000000000000000001\', NOW(3), NOW(3))');
  const [ [ user ] ] = await conn.query('SELECT id, openid FROM users WHERE openid = \'oBenchSql0000000000000000001\'') as any;
  /** Fresh unpaid orders and, for each, the fields of its signed notification. */
  const unpaidOrders = async (prefix: string) => (await insertUnpaidOrders(conn, PAYMENTS, prefix, [ user ])).map(o =>
    sampleNotificationFields(CREDENTIALS.WECHAT_API_KEY, {
      appid: CREDENTIALS.WECHAT_APPID, mch_id: CREDENTIALS.WECHAT_MCH_ID, nonce_str: `n${o.outTradeNo}`, openid: o.openid,
      transaction_id: o.transactionId, out_trade_no: o.outTradeNo,
    }));

  const service = async (level: number): Promise<RunResult> => {
    const notifications = await unpaidOrders('Q');
    const batches0 = batches;
    const result = await measure(notifications.length, level, async i => {
      const fields = notifications[i];
      const outcome = await settleNotification(app, { outTradeNo: fields.out_trade_no, fields, rawBody: buildXml(fields), remoteIp: '127.0.0.1' }, app.logger);
      if (outcome.result !== 'APPLIED') throw new Error(`service: ${JSON.stringify(outcome)}`);
    });
    return { ...result, meanBatch: notifications.length / (batches - batches0) };
  };
  const baseline = async (level: number): Promise<RunResult> => {
    const notifications = await unpaidOrders('R');
    return measure(notifications.length, level, async i => {
      const fields = notifications[i];
      const [ result ] = await baselinePool.execute<mysql.ResultSetHeader>(BASELINE_PAY_SQL, [ fields.transaction_id, fields.out_trade_no, Number(fields.total_fee) ]);
      if (result.affectedRows !== 1) throw new Error('baseline: no row paid');
    });
  };

  // Warm both paths (JIT, buffer pool) before anything is counted.
  await service(5);
  await baseline(5);
  console.log('\n| in flight | target | payments/s | mean batch | CPU ms/payment (client + MariaDB) | service / baseline: payments/s | CPU |');
  console.log('|---:|---|---:|---:|---:|---:|---:|');
  for (const level of LEVELS) {
    const runs: Array<{ service: RunResult; baseline: RunResult }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternating which goes first: the machine's speed drifts.
      if (round % 2 === 0) runs.push({ service: await service(level), baseline: await baseline(level) });
      else { const b = await baseline(level); runs.push({ service: await service(level), baseline: b }); }
    }
    const pick = (target: 'service' | 'baseline', key: keyof RunResult) => median(runs.map(r => r[target][key] ?? 0));
    const cpu = (r: RunResult) => r.clientMs + r.databaseMs;
    const speed = runs.map(r => r.service.perSecond / r.baseline.perSecond);
    const cpuRatio = runs.map(r => cpu(r.service) / cpu(r.baseline));
    for (const target of [ 'service', 'baseline' ] as const) {
      const batch = target === 'service' ? pick(target, 'meanBatch').toFixed(1) : '1';
      const ratios = target === 'service'
        ? `**${median(speed).toFixed(2)}** (${speed.map(v => v.toFixed(2)).join(', ')}) | **${median(cpuRatio).toFixed(2)}** (${cpuRatio.map(v => v.toFixed(2)).join(', ')})`
        : ' | ';
      console.log(`| ${level} | ${target} | ${pick(target, 'perSecond').toFixed(0)} | ${batch} | ${pick(target, 'clientMs').toFixed(3)} + ${pick(target, 'databaseMs').toFixed(3)} | ${ratios} |`);
    }
  }
  await conn.end();
  await baselinePool.end();
  await settlementPool.end();
}

main().catch(err => {
  console.error('bench:sql failed:', err);
  process.exit(1);
});
