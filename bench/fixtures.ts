/**
 * What the bench (bench/run.ts) and its baselines (bench/baseline.ts, bench/guardedBaseline.ts) share: the bench's
 * credentials, the MariaDB server and bench database, the baseline's payment UPDATE; and for
 * bench/run.ts, unpaid orders inserted straight into the bench database, and CPU time read from /proc.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import cluster from 'node:cluster';
import type mysql from 'mysql2/promise';
import { SignType, WechatPayClient } from '../lib/wechatpay';

// Production-like credentials (config.prod.ts refuses the development ones); the simulator gets the same.
export const CREDENTIALS = {
  WECHAT_APPID: 'wxbench00000000001',
  WECHAT_APP_SECRET: 'bench-app-secret-0123456789abcdef',
  WECHAT_MCH_ID: '1900009999',
  WECHAT_API_KEY: 'benchkey0123456789abcdef01234567',
  ADMIN_TOKEN: 'bench-admin-token-0123456789abcdef',
  EGG_KEYS: 'bench-egg-keys-0123456789abcdef',
};

/** MariaDB, from the variables the service's config reads (MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD). */
export const MYSQL_SERVER = {
  host: process.env.MYSQL_HOST ?? '127.0.0.1', port: Number(process.env.MYSQL_PORT ?? 3306),
  user: process.env.MYSQL_USER ?? 'root', password: process.env.MYSQL_PASSWORD ?? '',
};

/**
 * A baseline's settings, from the environment bench/run.ts starts it with (the service's own
 * variables): workers, port, the merchant's credentials and the service's sign type.
 */
export function baselineSettings() {
  const env = process.env;
  return {
    workers: Number(env.BENCH_WORKERS ?? 1),
    port: Number(env.PORT),
    appId: env.WECHAT_APPID!,
    mchId: env.WECHAT_MCH_ID!,
    apiKey: env.WECHAT_API_KEY!,
    /** The service's default sign type, which its orders (and so the bench's notifications) carry. */
    signType: (env.WECHAT_SIGN_TYPE ?? 'MD5') as SignType,
  };
}

/**
 * A baseline's primary process (node:cluster): forks `workers`, tells bench/run.ts once all
 * listen, reports a worker that dies, and stops them all on SIGTERM.
 */
export function runBaselinePrimary(label: string, workers: number, port: number): void {
  let listening = 0;
  let stopping = false;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('listening', () => {
    if (++listening === workers) process.send?.({ ready: true, port });
  });
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) console.error(`${label} worker ${worker.process.pid} died (${code ?? signal})`);
  });
  process.on('SIGTERM', () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
    cluster.disconnect(() => process.exit(0));
  });
}

/** A baseline worker's Redis (ioredis, egg-redis's client) and WeChat Pay client (lib/wechatpay, as the service's). */
export function baselineClients(settings: ReturnType<typeof baselineSettings>) {
  const env = process.env;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const Redis = require('ioredis');
  const redis = new Redis({ host: env.REDIS_HOST ?? '127.0.0.1', port: Number(env.REDIS_PORT ?? 6379), db: Number(env.REDIS_DB ?? 0) });
  const pay = new WechatPayClient({
    appId: settings.appId, mchId: settings.mchId, apiKey: settings.apiKey, signType: settings.signType, baseUrl: env.WECHAT_PAY_BASE_URL!, timeoutMs: 5000,
  });
  return { redis, pay };
}

/** The bench's own database (created and migrated by it): never the development or test one. */
export const BENCH_DATABASE = process.env.BENCH_MYSQL_DATABASE ?? 'wxpay_bench';

/** The baseline's whole database work for a payment (bench/baseline.ts): one conditional UPDATE. */
export const BASELINE_PAY_SQL = 'UPDATE orders SET status = \'SUCCESS\', transaction_id = ?, paid_at = NOW(3), updated_at = NOW(3) ' +
  'WHERE out_trade_no = ? AND total_fee = ? AND status = \'NOTPAY\'';

/** Creates the bench database if missing and migrates it (and seeds it: the demo products), as production would. */
export function prepareBenchDatabase(root: string, database: string, options: { seed: boolean }): void {
  const bin = (name: string) => path.join(root, 'node_modules', '.bin', name);
  const steps = [
    [ process.execPath, 'scripts/db-create.js', '--env', 'production' ],
    [ bin('sequelize-cli'), 'db:migrate', '--env', 'production' ],
    ...(options.seed ? [[ bin('sequelize-cli'), 'db:seed:all', '--env', 'production' ]] : []),
  ];
  for (const [ cmd, ...args ] of steps) {
    const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, MYSQL_DATABASE: database, NODE_ENV: 'production' } });
    if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${res.status})`);
  }
}

/** An unpaid order as inserted, with what its payment notification should carry. */
export interface UnpaidOrder {
  outTradeNo: string;
  openid: string;
  transactionId: string;
}

let transactions = 0;

/**
 * Empties the order tables, then inserts `count` unpaid orders of 1200 fen with sign type `signType`
 * (the service's default, as its own orders get), each with its first attempt (PREPAID), owned by
 * `users` in turn; each gets a transaction_id never given before.
 */
export async function insertUnpaidOrders(db: mysql.Connection, count: number, prefix: string, users: Array<{ id: number; openid: string }>,
  signType: SignType, appId: string): Promise<UnpaidOrder[]> {
  for (const table of [ 'outbox_events', 'order_events', 'payment_notifications', 'payment_attempts', 'orders' ]) await db.query(`DELETE FROM ${table}`);
  const inserted: UnpaidOrder[] = [];
  const now = new Date();
  const expires = new Date(Date.now() + 3600 * 1000);
  for (let start = 0; start < count; start += 500) {
    const rows: unknown[][] = [];
    const outTradeNos: string[] = [];
    for (let i = start; i < Math.min(count, start + 500); i++) {
      const outTradeNo = `${prefix}${String(i).padStart(12, '0')}`;
      const user = users[i % users.length];
      outTradeNos.push(outTradeNo);
      inserted.push({ outTradeNo, openid: user.openid, transactionId: `42000${String(++transactions).padStart(23, '0')}` });
      rows.push([ outTradeNo, user.id, appId, 1200, 'Coffee', '[{"productId":1,"name":"Coffee","unitPriceFen":1200,"quantity":1}]', 'NOTPAY', signType, expires, now, now ]);
    }
    await db.query('INSERT INTO orders (out_trade_no, user_id, appid, total_fee, body, items, status, sign_type, expires_at, created_at, updated_at) VALUES ?', [ rows ]);
    await db.query(
      'INSERT INTO payment_attempts (order_id, out_trade_no, appid, total_fee, sign_type, status, time_start, time_expire, prepay_id, prepay_expires_at, created_at, updated_at) ' +
      'SELECT id, out_trade_no, appid, total_fee, sign_type, \'PREPAID\', \'20261123000000\', \'20261123235959\', CONCAT(\'wx\', out_trade_no), expires_at, created_at, updated_at FROM orders WHERE out_trade_no IN (?)',
      [ outTradeNos ]);
  }
  await db.query('UPDATE orders o JOIN payment_attempts a ON a.order_id = o.id SET o.current_attempt_id = a.id');
  return inserted;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux: /proc/<pid>/stat counts CPU time in 1/100 s.

/** CPU time (user + system) of a set of processes, in ms. */
export function cpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch { /* exited */ }
  }
  return ticks * 1000 / CLOCK_TICKS;
}

/** Processes whose command line contains `text`. */
export function pidsMatching(text: string): number[] {
  const out = spawnSync('ps', [ '-eo', 'pid=,args=' ], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter(line => line.includes(text) && !line.includes('egg-scripts stop')).map(line => Number(line.trim().split(/\s+/)[0]));
}

/** The database server's processes. */
export const databasePids = () => [ ...pidsMatching('mariadbd'), ...pidsMatching('mysqld') ];

export function median(values: number[]): number {
  const sorted = [ ...values ].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
