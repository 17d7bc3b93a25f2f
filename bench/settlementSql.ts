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
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import mysql from 'mysql2/promise';
import { sign } from '../lib/wechatpay';
import { createSettlementPool } from '../app/lib/settlementStore';
import { settleNotification, settlementStore } from '../app/service/settlement';

const env = process.env;
const root = path.join(__dirname, '..');
const LEVELS = (env.BENCH_SQL_LEVELS ?? '1,5,16').split(',').map(Number);
const PAYMENTS = Number(env.BENCH_SQL_PAYMENTS ?? 2000);
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3);
const DATABASE = env.BENCH_MYSQL_DATABASE ?? 'wxpay_bench';
const API_KEY = 'benchkey0123456789abcdef01234567';
const CLOCK_TICKS = 100;
const db = { host: env.MYSQL_HOST ?? '127.0.0.1', port: Number(env.MYSQL_PORT ?? 3306), user: env.MYSQL_USER ?? 'root', password: env.MYSQL_PASSWORD ?? '' };

interface RunResult { perSecond: number; clientMs: number; databaseMs: number; meanBatch?: number }

function mariadbCpuMs(): number {
  let ticks = 0;
  const out = spawnSync('ps', [ '-eo', 'pid=,comm=' ], { encoding: 'utf8' }).stdout;
  for (const line of out.split('\n')) {
    const [ pid, comm ] = line.trim().split(/\s+/);
    if (comm !== 'mariadbd' && comm !== 'mysqld') continue;
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * 1000 / CLOCK_TICKS;
}

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
  const [ database0, client0, t0 ] = [ mariadbCpuMs(), clientCpuMs(), process.hrtime.bigint() ];
  await Promise.all(Array.from({ length: level }, client));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { perSecond: count / seconds, clientMs: (clientCpuMs() - client0) / count, databaseMs: (mariadbCpuMs() - database0) / count };
}

const median = (values: number[]) => [ ...values ].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const dbEnv = { ...env, MYSQL_DATABASE: DATABASE, NODE_ENV: 'production' };
  for (const args of [ [ process.execPath, 'scripts/db-create.js', '--env', 'production' ], [ path.join(root, 'node_modules', '.bin', 'sequelize-cli'), 'db:migrate', '--env', 'production' ] ]) {
    const res = spawnSync(args[0], args.slice(1), { cwd: root, stdio: 'ignore', env: dbEnv });
    if (res.status !== 0) throw new Error(`${args.join(' ')} failed`);
  }
  const conn = await mysql.createConnection({ ...db, database: DATABASE, timezone: '+00:00' });
  const baselinePool = mysql.createPool({ ...db, database: DATABASE, connectionLimit: 10, timezone: '+00:00' });
  const settlementPool = createSettlementPool({ ...db, username: db.user, database: DATABASE, poolSize: 4 });
  // What settlement reads of the app: its pool, config and logger; ctxStorage for the batcher.
  const app = {
    settlementPool,
    config: { payment: { settlementBatchMax: 32, settlementLockWaitSeconds: 5 }, wechat: { apiKey: API_KEY } },
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
  let txn = 0;
  /** Fresh unpaid orders (each with its attempt) and, for each, the fields of its signed notification. */
  async function unpaidOrders(prefix: string): Promise<Array<Record<string, string>>> {
    for (const table of [ 'order_events', 'payment_notifications', 'payment_attempts', 'orders' ]) await conn.query(`DELETE FROM ${table}`);
    const notifications: Array<Record<string, string>> = [];
    for (let start = 0; start < PAYMENTS; start += 500) {
      const rows: unknown[][] = [];
      for (let i = start; i < Math.min(PAYMENTS, start + 500); i++) {
        const outTradeNo = `${prefix}${String(i).padStart(12, '0')}`;
        rows.push([ outTradeNo, user.id, 1200, 'Coffee', '[]', 'NOTPAY', 'HMAC-SHA256', new Date(Date.now() + 3600e3), new Date(), new Date() ]);
        const fields: Record<string, string> = {
          return_code: 'SUCCESS', appid: 'wxbench00000000001', mch_id: '1900009999', nonce_str: `n${outTradeNo}`, result_code: 'SUCCESS',
          openid: user.openid, is_subscribe: 'N', trade_type: 'JSAPI', bank_type: 'OTHERS', total_fee: '1200', fee_type: 'CNY', cash_fee: '1200',
          transaction_id: `42000${String(++txn).padStart(23, '0')}`, out_trade_no: outTradeNo, time_end: '20261123171500',
        };
        notifications.push({ ...fields, sign: sign(fields, API_KEY, 'HMAC-SHA256') });
      }
      await conn.query('INSERT INTO orders (out_trade_no, user_id, total_fee, body, items, status, sign_type, expires_at, created_at, updated_at) VALUES ?', [ rows ]);
      await conn.query('INSERT INTO payment_attempts (order_id, out_trade_no, total_fee, sign_type, status, time_start, time_expire, created_at, updated_at) ' +
        'SELECT id, out_trade_no, total_fee, sign_type, \'PREPAID\', \'20261123000000\', \'20261123235959\', created_at, updated_at FROM orders WHERE out_trade_no IN (?)',
      [ rows.map(r => r[0]) ]);
    }
    await conn.query('UPDATE orders o JOIN payment_attempts a ON a.order_id = o.id SET o.current_attempt_id = a.id');
    return notifications;
  }

  const service = async (level: number): Promise<RunResult> => {
    const notifications = await unpaidOrders('Q');
    const batches0 = batches;
    const result = await measure(notifications.length, level, async i => {
      const fields = notifications[i];
      const outcome = await settleNotification(app, { outTradeNo: fields.out_trade_no, fields, rawBody: `<xml>${JSON.stringify(fields)}</xml>`, remoteIp: '127.0.0.1' }, app.logger);
      if (outcome.result !== 'APPLIED') throw new Error(`service: ${JSON.stringify(outcome)}`);
    });
    return { ...result, meanBatch: notifications.length / (batches - batches0) };
  };
  const baseline = async (level: number): Promise<RunResult> => {
    const notifications = await unpaidOrders('R');
    return measure(notifications.length, level, async i => {
      const fields = notifications[i];
      const [ result ] = await baselinePool.execute<mysql.ResultSetHeader>(
        'UPDATE orders SET status = \'SUCCESS\', transaction_id = ?, paid_at = NOW(3), updated_at = NOW(3) ' +
        'WHERE out_trade_no = ? AND total_fee = ? AND status = \'NOTPAY\'', [ fields.transaction_id, fields.out_trade_no, Number(fields.total_fee) ]);
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
