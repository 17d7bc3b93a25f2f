/**
 * `npm run bench`: load tests of the service started the production way (the compiled build under
 * egg-scripts, one worker per core) against a bare node:http baseline doing the essential work
 * (bench/baseline.ts), in the same run, on loopback, each bounded in requests and time.
 *
 *   1. notifications for distinct unpaid orders     3. order creation (unified order at the simulator)
 *   2. notifications repeated for paid orders        4. the sign + XML core alone (bench/core.ts)
 *
 * Uses its own database (BENCH_MYSQL_DATABASE, default wxpay_bench, created and migrated here)
 * and Redis db (BENCH_REDIS_DB, default 15). Prints a table and writes bench/results/latest.json.
 * Reports each level (service / baseline within a round) and each target's throughput: its best
 * req/s over the levels with p99 under 50 ms, the issue's target being stated on that.
 * Settings: BENCH_WORKERS (cores), BENCH_CONNECTIONS (10,16,32,64: each level is measured), BENCH_NOTIFY_COUNT (3000),
 * BENCH_ORDER_COUNT (1000), BENCH_WARMUP (300), BENCH_ROUNDS (3), BENCH_MAX_SECONDS (60 per run), BENCH_SKIP_BUILD=1,
 * BENCH_SIGN_TYPE (MD5, the service's default, or HMAC-SHA256: the service's WECHAT_SIGN_TYPE, the baseline's too),
 * BENCH_SERVICE_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the service),
 * BENCH_GUARDED_NODE_FLAGS (the same for the same-guarantee baseline), BENCH_ALLOCATIONS=1 (KB allocated per
 * request in every target's processes, by scenario and by where: bench/allocations.ts; it slows the targets a little).
 */
import { ChildProcess, fork, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import mysql from 'mysql2/promise';
import { runCore, runTenpayComparison, sampleNotification } from './core';
import { flashSale, FlashSaleResult } from './flashSale';
import { Allocated, ALLOCATIONS, prepareAllocations, SAMPLER, startSampling, stopSampling } from './allocations';
import type { SignType } from '../lib/wechatpay';
import { BENCH_DATABASE, CREDENTIALS, cpuMs, databasePids, insertUnpaidOrders, median, MYSQL_SERVER, pidsMatching, prepareBenchDatabase } from './fixtures';

// autocannon ships no types; the little used here is described below.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const autocannon = require('autocannon');

const root = path.join(__dirname, '..');
/** Inside the project, so the compiled baseline still finds node_modules; dist/ is the service's. */
const BASELINE_BUILD = path.join(root, 'dist', '.bench-baseline');
const env = process.env;
const WORKERS = Number(env.BENCH_WORKERS ?? os.cpus().length);
/**
 * Concurrency levels, each measured in full: a target's throughput is only found by loading it
 * until it stops answering more per second, and the two targets need not stop at the same level
 * (on 2 cores the baseline stops gaining at about 16 connections).
 */
const CONNECTION_LEVELS = (env.BENCH_CONNECTIONS ?? '10,16,32,64').split(',').map(Number);
const NOTIFY_COUNT = Number(env.BENCH_NOTIFY_COUNT ?? 3000);
const ORDER_COUNT = Number(env.BENCH_ORDER_COUNT ?? 1000);
const WARMUP = Number(env.BENCH_WARMUP ?? 300);
const MAX_SECONDS = Number(env.BENCH_MAX_SECONDS ?? 60);
/**
 * Rounds of every scenario on both targets, alternating which goes first. The machine's speed
 * drifts by tens of percent over a minute (shared host): a ratio is taken within each round, where
 * service and baseline ran back to back, and the median over rounds is reported.
 */
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3);
const REDIS_DB = env.BENCH_REDIS_DB ?? '15';
/** The service's WECHAT_SIGN_TYPE (its default, MD5, unless set): its orders, the bench's and the baseline's carry it. */
const SIGN_TYPE = (env.BENCH_SIGN_TYPE ?? 'MD5') as SignType;
if (SIGN_TYPE !== 'MD5' && SIGN_TYPE !== 'HMAC-SHA256') throw new Error('BENCH_SIGN_TYPE must be MD5 or HMAC-SHA256');
const USERS = 20;
/** The issue's latency bound: a level counts towards a target's throughput only if its p99 stayed under it. */
const P99_BOUND_MS = 50;
const SERVICE_TITLE = env.BENCH_SERVICE_TITLE ?? 'wxpay-bench-service';
/** Orders whose current attempt holds a prepay_id: every order the service or the same-guarantee baseline answers. */
const PREPAID_ORDERS_SQL = 'SELECT COUNT(*) AS n FROM orders o JOIN payment_attempts a ON a.id = o.current_attempt_id ' +
  'WHERE a.status = \'PREPAID\' AND a.prepay_id IS NOT NULL';
/** Which scenarios to run: any of notify, repeat, order, core, flash (all by default). repeat needs notify. */
const SCENARIOS = new Set((env.BENCH_SCENARIOS ?? 'notify,repeat,order,core,flash').split(',').map(s => s.trim()));
/** Scenario 5, the flash sale: sessions buying at once, the products they buy, the status poll interval (the example mini-program's). */
const FLASH_SESSIONS = Number(env.BENCH_FLASH_SESSIONS ?? 500);
const FLASH_PRODUCTS = [ 1, 2, 3 ];
const FLASH_POLL_MS = Number(env.BENCH_FLASH_POLL_MS ?? 1500);
/**
 * The soak (`npm run bench:soak`, or `soak` in BENCH_SCENARIOS; not in the default set): mixed
 * traffic at a steady rate on the service for BENCH_SOAK_SECONDS (600), its processes' RSS sampled
 * every 5 s. Each second: BENCH_SOAK_CHECKOUTS_PER_SEC (5) checkouts as the flash sale does them
 * (order, payment at the simulator and its notification, status polls) and
 * BENCH_SOAK_NOTIFY_PER_SEC (10) notifications of orders inserted beforehand, each sent again as a
 * repeat a few seconds later.
 */
const SOAK_SECONDS = Number(env.BENCH_SOAK_SECONDS ?? 600);
const SOAK_CHECKOUTS = Number(env.BENCH_SOAK_CHECKOUTS_PER_SEC ?? 5);
const SOAK_NOTIFY = Number(env.BENCH_SOAK_NOTIFY_PER_SEC ?? 10);


interface LoadResult {
  requests: number;
  seconds: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  peakRssMb: number;
  /** True if BENCH_MAX_SECONDS stopped the run before every request was answered. */
  cutShort: boolean;
  /** CPU time per request, in ms: the target's own processes, and MariaDB's (mysqld/mariadbd). */
  cpuMsPerRequest: { target: number; database: number };
  /** With BENCH_ALLOCATIONS=1: what the target's processes allocated during the run (bench/allocations.ts). */
  allocated?: Allocated;
}

type TargetName = 'service' | 'baseline' | 'guarded';
type Scenario = 'distinctNotifications' | 'repeatedNotifications' | 'orderCreation';
/** How the report names each target: `guarded` is the same-guarantee baseline (bench/guardedBaseline.ts). */
const LABEL: Record<TargetName, string> = { service: 'service', baseline: 'bare baseline', guarded: 'same-guarantee baseline' };

interface Target {
  name: TargetName;
  url: string;
  pids: () => number[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    }).on('error', reject);
  });
}

function run(cmd: string, args: string[], extraEnv: Record<string, string> = {}) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...env, ...extraEnv } });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${res.status})`);
}

const bin = (name: string) => path.join(root, 'node_modules', '.bin', name);

/** Resident memory of a set of processes, summed, in MB. */
function rssMb(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match) kb += Number(match[1]);
    } catch { /* exited */ }
  }
  return kb / 1024;
}

function childPids(pid: number): number[] {
  const out = spawnSync('ps', [ '-o', 'pid=', '--ppid', String(pid) ], { encoding: 'utf8' }).stdout;
  return [ pid, ...out.split('\n').filter(Boolean).map(Number) ];
}

/** One autocannon run; `next` gives each request its body and headers. Peak RSS sampled every 100 ms. */
async function load(target: Target, opts: { path: string; amount: number; connections: number; next: (i: number) => { body: string; headers: Record<string, string> } }): Promise<LoadResult> {
  let i = 0;
  const pids = target.pids();
  let peak = rssMb(pids);
  const dbPids = databasePids();
  if (ALLOCATIONS) await startSampling(pids);
  const cpuBefore = { target: cpuMs(pids), database: cpuMs(dbPids) };
  const sampler = setInterval(() => { peak = Math.max(peak, rssMb(pids)); }, 100);
  try {
    // autocannon's own duration ends on its 1-second sample tick; time the responses instead.
    let responses = 0;
    let lastResponseAt = 0;
    let cutShort = false;
    const startedAt = process.hrtime.bigint();
    const result: any = await new Promise((resolve, reject) => {
      const instance = autocannon({
        url: target.url,
        connections: opts.connections,
        amount: opts.amount,
        timeout: 10,
        requests: [{
          method: 'POST',
          path: opts.path,
          setupRequest: (req: any) => {
            const { body, headers } = opts.next(i++);
            return { ...req, body, headers };
          },
        }],
      }, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res)));
      instance.on('response', () => { responses++; lastResponseAt = Number(process.hrtime.bigint() - startedAt) / 1e9; });
      const guard = setTimeout(() => {
        cutShort = true;
        console.warn(`bench: ${target.name} ${opts.path} at ${opts.connections} connections stopped after ${MAX_SECONDS} s (BENCH_MAX_SECONDS), ` +
          `${responses} of ${opts.amount} answered`);
        instance.stop();
      }, MAX_SECONDS * 1000);
      instance.on('done', () => clearTimeout(guard));
    });
    const cpuAfter = { target: cpuMs(pids), database: cpuMs(dbPids) };
    return {
      requests: responses,
      seconds: lastResponseAt,
      reqPerSec: responses / lastResponseAt,
      p50: result.latency.p50,
      p99: result.latency.p99,
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
      cutShort,
      peakRssMb: Math.max(peak, rssMb(pids)),
      cpuMsPerRequest: {
        target: (cpuAfter.target - cpuBefore.target) / responses,
        database: (cpuAfter.database - cpuBefore.database) / responses,
      },
      allocated: ALLOCATIONS ? await stopSampling(pids) : undefined,
    };
  } finally {
    clearInterval(sampler);
  }
}

interface Throughput { connections: number; reqPerSec: number; p99: number }

/** A target's throughput in one round: its fastest run whose p99 stayed under the bound, and the level that gave it. */
function throughputOf(runs: Array<{ connections: number; run: LoadResult }>): Throughput | undefined {
  let best: Throughput | undefined;
  for (const { connections, run } of runs) {
    if (run.p99 < P99_BOUND_MS && (!best || run.reqPerSec > best.reqPerSec)) best = { connections, reqPerSec: run.reqPerSec, p99: run.p99 };
  }
  return best;
}

async function main() {
  const date = new Date().toISOString();
  console.log(`bench: ${WORKERS} workers, ${CONNECTION_LEVELS.join(' and ')} connections, sign type ${SIGN_TYPE}, ` +
    `${os.cpus().length} x ${os.cpus()[0].model}, node ${process.version}, load average ${os.loadavg().map(l => l.toFixed(2)).join(' ')}`);
  if (env.BENCH_SKIP_BUILD !== '1') run(process.execPath, [ 'scripts/build.js' ]);

  prepareBenchDatabase(root, BENCH_DATABASE, { seed: true });
  const db = await mysql.createConnection({ ...MYSQL_SERVER, database: BENCH_DATABASE, timezone: '+00:00' });

  const [ simPort, servicePort, baselinePort, guardedPort ] = [ await freePort(), await freePort(), await freePort(), await freePort() ];
  const simUrl = `http://127.0.0.1:${simPort}`;
  const logDir = path.join(os.tmpdir(), 'wxpay-bench-logs');
  if (ALLOCATIONS) prepareAllocations();
  const serviceEnv: Record<string, string> = {
    ...CREDENTIALS,
    NODE_ENV: 'production',
    MYSQL_DATABASE: BENCH_DATABASE,
    REDIS_DB,
    WECHAT_SIGN_TYPE: SIGN_TYPE,
    WECHAT_PAY_BASE_URL: simUrl,
    WECHAT_LOGIN_BASE_URL: simUrl,
    WECHAT_NOTIFY_URL: `http://127.0.0.1:${servicePort}/payment/notify`,
    WECHAT_REFUND_NOTIFY_URL: `http://127.0.0.1:${servicePort}/payment/refund-notify`,
    EGG_LOG_DIR: logDir,
    // The limits are counted on every request, as in production, but set out of reach.
    RATE_LIMIT_LOGIN_PER_IP: '1000000',
    RATE_LIMIT_ORDER_PER_USER: '1000000',
    RATE_LIMIT_STATUS_PER_USER: '1000000',
    // The once-a-minute jobs would query the simulator about the bench's unpaid orders mid-run.
    ORDER_JOBS_ENABLED: 'false',
  };

  const children: ChildProcess[] = [];
  const stopAll = () => {
    spawnSync(bin('egg-scripts'), [ 'stop', `--title=${SERVICE_TITLE}` ], { cwd: root, stdio: 'ignore' });
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  };
  process.on('SIGINT', () => { stopAll(); process.exit(130); });

  try {
    const sim = fork(path.join(root, 'simulator', 'main.ts'), [], {
      cwd: root, execArgv: [ '-r', 'ts-node/register/transpile-only' ], stdio: [ 'ignore', 'ignore', 'inherit', 'ipc' ],
      env: { ...env, SIM_PORT: String(simPort), SIM_APPID: CREDENTIALS.WECHAT_APPID, SIM_APP_SECRET: CREDENTIALS.WECHAT_APP_SECRET,
        SIM_MCH_ID: CREDENTIALS.WECHAT_MCH_ID, SIM_API_KEY: CREDENTIALS.WECHAT_API_KEY, SIM_RETRY_SCALE: '1' },
    });
    children.push(sim);
    await once(sim, 'message');

    run(bin('egg-scripts'), [ 'start', '--daemon', `--title=${SERVICE_TITLE}`, `--workers=${WORKERS}`, `--port=${servicePort}`,
      `--stdout=${logDir}/master-stdout.log`, `--stderr=${logDir}/master-stderr.log`,
      // Node flags for the master, which its agent and workers inherit (e.g. --cpu-prof).
      ...(env.BENCH_SERVICE_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean).map(flag => flag.replace(/^--/, '--node-options--')),
      // egg-scripts takes --require for itself: the sampler comes in through --import.
      ...(ALLOCATIONS ? [ `--node-options--import=${SAMPLER}` ] : []),
      './dist' ], serviceEnv);

    // Compiled like the service (no ts-node in the measured processes), into its own folder: the
    // service's build under dist/ (with its source maps) stays as scripts/build.js made it.
    run(bin('tsc'), [ '--outDir', BASELINE_BUILD, '--rootDir', '.', '--module', 'commonjs', '--target', 'ES2021', '--esModuleInterop',
      '--skipLibCheck', '--resolveJsonModule', '--strict', 'bench/baseline.ts', 'bench/guardedBaseline.ts' ]);
    const baseline = fork(path.join(BASELINE_BUILD, 'bench', 'baseline.js'), [], {
      cwd: root, execArgv: ALLOCATIONS ? [ '--require', SAMPLER ] : [],
      env: { ...env, ...serviceEnv, PORT: String(baselinePort), BENCH_WORKERS: String(WORKERS) },
    });
    children.push(baseline);
    await once(baseline, 'message');
    const guarded = fork(path.join(BASELINE_BUILD, 'bench', 'guardedBaseline.js'), [], {
      // Node flags for the same-guarantee baseline's primary and workers (e.g. --cpu-prof, to set its profile beside the service's).
      cwd: root, execArgv: [ ...(env.BENCH_GUARDED_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean), ...(ALLOCATIONS ? [ '--require', SAMPLER ] : []) ],
      env: { ...env, ...serviceEnv, PORT: String(guardedPort), BENCH_WORKERS: String(WORKERS) },
    });
    children.push(guarded);
    await once(guarded, 'message');

    const targets: Target[] = [
      { name: 'service', url: `http://127.0.0.1:${servicePort}`, pids: () => pidsMatching(SERVICE_TITLE) },
      { name: 'baseline', url: `http://127.0.0.1:${baselinePort}`, pids: () => childPids(baseline.pid!) },
      { name: 'guarded', url: `http://127.0.0.1:${guardedPort}`, pids: () => childPids(guarded.pid!) },
    ];

    // Users, logged in through the service (the baseline reads the same sessions from Redis).
    const users: Array<{ id: number; openid: string; token: string }> = [];
    for (let u = 0; u < USERS; u++) {
      const { code } = await (await fetch(`${simUrl}/simulator/login-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json() as any;
      const login = await (await fetch(`${targets[0].url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })).json() as any;
      if (!login.token) throw new Error(`login failed: ${JSON.stringify(login)}`);
      users.push({ id: login.user.id, openid: login.user.openid, token: login.token });
    }

    /** count unpaid orders inserted straight into the database, and their signed notifications. */
    const unpaidOrders = async (count: number, prefix: string) => (await insertUnpaidOrders(db, count, prefix, users, SIGN_TYPE, CREDENTIALS.WECHAT_APPID)).map(o =>
      sampleNotification(CREDENTIALS.WECHAT_API_KEY, {
        appid: CREDENTIALS.WECHAT_APPID, mch_id: CREDENTIALS.WECHAT_MCH_ID, nonce_str: `n${o.outTradeNo}`, openid: o.openid,
        transaction_id: o.transactionId, out_trade_no: o.outTradeNo,
      }, SIGN_TYPE));
    const count = async (sql: string, args: unknown[] = []) => Number(((await db.query(sql, args)) as any)[0][0].n);
    /** Polls `ok` until it holds; throws after `ms`. */
    const until = async (what: string, ms: number, ok: () => Promise<boolean>) => {
      for (const deadline = Date.now() + ms; !await ok();) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
        await new Promise(resolve => setTimeout(resolve, 500));
      }
    };
    /** Every order and attempt row's state, hashed: a repeated notification must leave it as it was. */
    const fingerprint = async () => `${await count('SELECT BIT_XOR(CRC32(CONCAT_WS(\'|\', id, status, transaction_id, paid_at, updated_at))) AS n FROM orders')}/` +
      `${await count('SELECT BIT_XOR(CRC32(CONCAT_WS(\'|\', id, status, transaction_id, updated_at))) AS n FROM payment_attempts')}`;
    const xml = (bodies: string[]) => (i: number) => ({ body: bodies[i % bodies.length], headers: { 'content-type': 'text/xml' } });

    const rounds: Array<{ round: number; connections: number; results: Record<Scenario, Record<string, LoadResult>> }> = [];
    // Every level within each round, so a round's throughput (its best level, below) is taken
    // from runs minutes apart at most.
    for (let round = 0; round < ROUNDS; round++) {
      for (const connections of CONNECTION_LEVELS) {
        const results: Record<Scenario, Record<string, LoadResult>> = { distinctNotifications: {}, repeatedNotifications: {}, orderCreation: {} };
        rounds.push({ round, connections, results });
        console.log(`bench: round ${round + 1} of ${ROUNDS}, ${connections} connections`);
        // Each round starts with another target, so none always runs on the machine's freshest (or tiredest) minute.
        for (const target of [ ...targets.slice(round % targets.length), ...targets.slice(0, round % targets.length) ]) {
          if (SCENARIOS.has('notify')) {
          // 1. Distinct orders: each notification pays one order.
            const bodies = await unpaidOrders(WARMUP + NOTIFY_COUNT, { service: 'S', baseline: 'B', guarded: 'G' }[target.name]);
            await load(target, { path: '/payment/notify', amount: WARMUP, connections, next: xml(bodies) });
            const measured = bodies.slice(WARMUP);
            const distinct = await load(target, { path: '/payment/notify', amount: measured.length, connections, next: xml(measured) });
            // Every order paid: a run cut short leaves some unpaid and cannot be checked (lower the counts or raise BENCH_MAX_SECONDS).
            if (distinct.cutShort) throw new Error(`${target.name}: distinct notifications cut short at ${MAX_SECONDS} s, ${distinct.requests} of ${measured.length} answered`);
            const paid = await count('SELECT COUNT(*) AS n FROM orders WHERE status = \'SUCCESS\'');
            if (paid !== bodies.length) throw new Error(`${target.name}: ${paid} of ${bodies.length} orders paid`);
            if (target.name !== 'baseline') {
              // Paid exactly once: one paid attempt and one PAID event per order (the bare baseline keeps neither).
              const attempts = await count('SELECT COUNT(*) AS n FROM payment_attempts WHERE status = \'PAID\'');
              const events = await count('SELECT COUNT(*) AS n FROM order_events WHERE type = \'PAID\'');
              if (attempts !== bodies.length || events !== bodies.length) throw new Error(`${target.name}: ${attempts} paid attempts and ${events} PAID events for ${bodies.length} orders`);
            }
            results.distinctNotifications[target.name] = distinct;

            if (SCENARIOS.has('repeat')) {
            // 2. The same notifications again: each is a repeat, answered SUCCESS, changing nothing.
              // The service also records each as a DUPLICATE audit row (so each was recognised as a repeat, not refused).
              const guarantees = target.name !== 'baseline';
              const events = guarantees ? await count('SELECT COUNT(*) AS n FROM order_events') : 0;
              const duplicates = () => count('SELECT COUNT(*) AS n FROM payment_notifications WHERE outcome = \'DUPLICATE\'');
              const duplicatesBefore = guarantees ? await duplicates() : 0;
              const before = await fingerprint();
              results.repeatedNotifications[target.name] = await load(target, { path: '/payment/notify', amount: measured.length, connections, next: xml(measured) });
              if (await fingerprint() !== before) throw new Error(`${target.name}: a repeated notification changed an order or attempt`);
              if (guarantees) {
                if (await count('SELECT COUNT(*) AS n FROM order_events') !== events) throw new Error(`${target.name}: a repeated notification added an order event`);
                const recorded = await duplicates() - duplicatesBefore;
                if (recorded !== measured.length) throw new Error(`${target.name}: ${recorded} of ${measured.length} repeats recorded as DUPLICATE`);
              }
            }
          }

          if (SCENARIOS.has('order')) {
          // 3. Order creation, unified order at the simulator included.
            const before = await count('SELECT COUNT(*) AS n FROM orders');
            const prepaidBefore = await count(PREPAID_ORDERS_SQL);
            const orderBody = JSON.stringify({ items: [{ productId: 1, quantity: 1 }] });
            // A new Idempotency-Key per order, as the example mini-program sends (examples/miniprogram/lib/checkout.js).
            const next = (run: string) => (i: number) => ({ body: orderBody, headers: {
              'content-type': 'application/json', authorization: `Bearer ${users[i % users.length].token}`,
              'idempotency-key': `${target.name[0]}${round}-${connections}-${run}-${i}`,
            } });
            const warm = await load(target, { path: '/payment/order', amount: Math.min(WARMUP, ORDER_COUNT), connections, next: next('w') });
            const measuredOrders = results.orderCreation[target.name] = await load(target, { path: '/payment/order', amount: ORDER_COUNT, connections, next: next('m') });
            const created = await count('SELECT COUNT(*) AS n FROM orders') - before;
            if (created !== Math.min(WARMUP, ORDER_COUNT) + ORDER_COUNT) throw new Error(`${target.name}: ${created} orders created`);
            // Each order answered 200 has its prepay_id stored on its current attempt (the bare baseline keeps no attempt); one
            // answered otherwise (the unified order timed out on a loaded machine, say) is left for the client's retry.
            const prepaid = await count(PREPAID_ORDERS_SQL) - prepaidBefore;
            const answered = created - warm.non2xx - measuredOrders.non2xx - warm.errors - measuredOrders.errors;
            if (target.name !== 'baseline' && (prepaid < answered || prepaid > created)) throw new Error(`${target.name}: ${prepaid} of ${answered} orders answered 200 prepaid`);
          }
        }
      }
    }

    // 5. The flash sale, on the service and the same-guarantee baseline (the bare one has no status route).
    const flash: Array<{ round: number; results: Partial<Record<TargetName, FlashSaleResult>> }> = [];
    const sessions: Array<{ token: string }> = [];
    if (SCENARIOS.has('flash') || SCENARIOS.has('soak')) {
      const login = async () => {
        const { code } = await (await fetch(`${simUrl}/simulator/login-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json() as any;
        const reply = await (await fetch(`${targets[0].url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })).json() as any;
        if (!reply.token) throw new Error(`login failed: ${JSON.stringify(reply)}`);
        sessions.push({ token: reply.token });
      };
      const wanted = SCENARIOS.has('flash') ? FLASH_SESSIONS : 50;
      while (sessions.length < wanted) await Promise.all(Array.from({ length: Math.min(20, wanted - sessions.length) }, login));
    }
    if (SCENARIOS.has('flash')) {
      for (let round = 0; round < ROUNDS; round++) {
        const results: Partial<Record<TargetName, FlashSaleResult>> = {};
        flash.push({ round, results });
        const flashTargets = targets.filter(t => t.name !== 'baseline');
        for (const target of round % 2 === 0 ? flashTargets : [ ...flashTargets ].reverse()) {
          console.log(`bench: flash sale, round ${round + 1} of ${ROUNDS}, ${target.name}, ${sessions.length} sessions`);
          const result = await flashSale({ url: target.url, simUrl, sessions, productIds: FLASH_PRODUCTS, pollMs: FLASH_POLL_MS,
            deadlineMs: MAX_SECONDS * 1000, keyPrefix: `flash-${target.name}-${round}-${Date.now().toString(36)}` });
          results[target.name] = result;
          // Sessions that failed are reported (not every buyer of a flash sale gets through); every order made must be paid exactly once.
          if (result.succeeded !== result.sessions) console.warn(`bench: ${target.name}: flash sale: ${result.succeeded} of ${result.sessions} sessions saw SUCCESS: ${JSON.stringify(result.failures)}`);
          // Paid exactly once: each order SUCCESS with one paid attempt and one PAID event, nothing to refund.
          const ids = result.outTradeNos;
          await until(`${target.name}: every flash-sale order made paid`, 120_000,
            async () => await count(`SELECT COUNT(*) AS n FROM orders WHERE status = 'SUCCESS' AND out_trade_no IN (${ids.map(() => '?').join(',')})`, ids) === ids.length);
          const bad = await count('SELECT COUNT(*) AS n FROM orders o WHERE o.out_trade_no IN (?) AND (o.status <> \'SUCCESS\' OR o.refund_required = 1 ' +
            'OR (SELECT COUNT(*) FROM payment_attempts a WHERE a.order_id = o.id AND a.status = \'PAID\') <> 1 ' +
            'OR (SELECT COUNT(*) FROM order_events e WHERE e.order_id = o.id AND e.type IN (\'PAID\', \'DOUBLE_PAYMENT\', \'PAID_AFTER_CLOSE\')) <> 1 ' +
            'OR NOT EXISTS (SELECT 1 FROM order_events e WHERE e.order_id = o.id AND e.type = \'PAID\'))'.replace('(?)', `(${ids.map(() => '?').join(',')})`), ids);
          const found = await count(`SELECT COUNT(*) AS n FROM orders WHERE out_trade_no IN (${ids.map(() => '?').join(',')})`, ids);
          if (bad !== 0 || found !== ids.length) throw new Error(`${target.name}: flash sale: ${bad} of ${found} orders not paid exactly once`);
        }
      }
    }

    // The soak: steady mixed traffic on the service, its RSS sampled.
    let soak: { samples: Array<{ second: number; rssMb: number }>; checkouts: FlashSaleResult[]; notified: number; baselineRssMb: number } | undefined;
    if (SCENARIOS.has('soak')) {
      const service = targets[0];
      const unpaid = await unpaidOrders(SOAK_SECONDS * SOAK_NOTIFY, 'K');
      const samples: Array<{ second: number; rssMb: number }> = [];
      const checkouts: FlashSaleResult[] = [];
      const pending: Array<Promise<unknown>> = [];
      const sendUntilAcknowledged = async (body: string) => {
        for (let tries = 0; tries < 50; tries++) {
          const reply = await fetch(`${service.url}/payment/notify`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body }).then(r => r.text(), () => '');
          if (reply.includes('SUCCESS')) return;
          await new Promise(resolve => setTimeout(resolve, 500));
        }
        throw new Error('soak: a notification was never acknowledged');
      };
      console.log(`bench: soak, ${SOAK_SECONDS} s: ${SOAK_CHECKOUTS} checkouts and ${SOAK_NOTIFY} notifications (+ as many repeats) a second`);
      const started = Date.now();
      let notified = 0;
      for (let second = 0; second < SOAK_SECONDS; second++) {
        if (second % 5 === 0) samples.push({ second, rssMb: rssMb(service.pids()) });
        pending.push(flashSale({ url: service.url, simUrl, sessions: Array.from({ length: SOAK_CHECKOUTS }, (_, k) => sessions[(second * SOAK_CHECKOUTS + k) % sessions.length]),
          productIds: FLASH_PRODUCTS, pollMs: FLASH_POLL_MS, deadlineMs: 60_000, keyPrefix: `soak-${second}-${started}` }).then(r => checkouts.push(r)));
        for (let k = 0; k < SOAK_NOTIFY; k++) {
          const body = unpaid[notified++];
          pending.push(sendUntilAcknowledged(body).then(() => new Promise(resolve => setTimeout(resolve, 3000))).then(() => sendUntilAcknowledged(body)));
        }
        const wait = started + (second + 1) * 1000 - Date.now();
        if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait));
      }
      await Promise.all(pending);
      samples.push({ second: Math.round((Date.now() - started) / 1000), rssMb: rssMb(service.pids()) });
      // The memory figures first: they are the soak's point, and a failed check below must not lose them.
      console.log(`bench: soak RSS samples (second: MB): ${samples.map(x => `${x.second}: ${x.rssMb.toFixed(0)}`).join(', ')}`);
      const failed = checkouts.filter(c => c.succeeded !== c.sessions);
      if (failed.length) throw new Error(`soak: ${failed.length} checkout batches had failures: ${JSON.stringify(failed[0].failures)}`);
      const paid = await count('SELECT COUNT(*) AS n FROM orders WHERE out_trade_no LIKE \'K%\' AND status = \'SUCCESS\'');
      const events = await count('SELECT COUNT(*) AS n FROM order_events e JOIN orders o ON o.id = e.order_id WHERE o.out_trade_no LIKE \'K%\' AND e.type = \'PAID\'');
      if (paid !== notified || events !== notified) throw new Error(`soak: ${paid} orders paid and ${events} PAID events for ${notified} notified`);
      soak = { samples, checkouts, notified, baselineRssMb: rssMb(targets[2].pids()) };
    }

    stopAll();
    // 4. The core, with the servers stopped so it has the machine to itself.
    const core = SCENARIOS.has('core') ? runCore(CREDENTIALS.WECHAT_API_KEY, 3000) : undefined;
    // The issue's protocol-core target: against tenpay's parseXML + _getSign, same input, same process.
    const tenpay = SCENARIOS.has('core') ? await runTenpayComparison(CREDENTIALS.WECHAT_API_KEY, 2000) : undefined;

    const rows: string[] = [];
    const fmt = (n: number, d = 0) => n.toFixed(d);
    rows.push(`Medians over ${ROUNDS} rounds; a ratio is the median of each round's service / baseline req/s; the CPU column of a ratio row ` +
      'is service / baseline CPU per request (target + MariaDB).', '',
    '| scenario | target | req/s | p50 ms | p99 ms | peak RSS MB | CPU ms/req (target + MariaDB) | non-2xx | errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|');
    const summary: Record<string, unknown> = {};
    for (const connections of CONNECTION_LEVELS) {
      for (const scenario of [ 'distinctNotifications', 'repeatedNotifications', 'orderCreation' ] as Scenario[]) {
        const measured = rounds.filter(r => r.connections === connections && r.results[scenario].service && r.results[scenario].baseline &&
          r.results[scenario].guarded).map(r => r.results[scenario]);
        if (!measured.length) continue;
        const label = `${scenario} @${connections}`;
        const perTarget: Record<string, Record<string, number>> = {};
        for (const name of [ 'service', 'baseline', 'guarded' ] as TargetName[]) {
          const runs = measured.map(m => m[name]);
          const m = perTarget[name] = {
            reqPerSec: median(runs.map(r => r.reqPerSec)), p50: median(runs.map(r => r.p50)), p99: median(runs.map(r => r.p99)),
            peakRssMb: Math.max(...runs.map(r => r.peakRssMb)), cpuTarget: median(runs.map(r => r.cpuMsPerRequest.target)),
            cpuDatabase: median(runs.map(r => r.cpuMsPerRequest.database)),
            non2xx: runs.reduce((n, r) => n + r.non2xx, 0), errors: runs.reduce((n, r) => n + r.errors, 0),
          };
          rows.push(`| ${label} | ${LABEL[name]} | ${fmt(m.reqPerSec)} | ${fmt(m.p50, 1)} | ${fmt(m.p99, 1)} | ${fmt(m.peakRssMb)} | ` +
          `${fmt(m.cpuTarget, 2)} + ${fmt(m.cpuDatabase, 2)} | ${m.non2xx} | ${m.errors} |`);
        }
        const ratioSummary: Record<string, unknown> = {};
        for (const against of [ 'baseline', 'guarded' ] as TargetName[]) {
          const ratios = measured.map(m => m.service.reqPerSec / m[against].reqPerSec);
          // CPU per request, the target's processes and MariaDB's together, service / this baseline.
          const cpu = (t: Record<string, number>) => t.cpuTarget + t.cpuDatabase;
          const cpuRatio = cpu(perTarget.service) / cpu(perTarget[against]);
          rows.push(`| ${label} | **service / ${LABEL[against]}** | **${fmt(median(ratios), 2)}** (rounds: ${ratios.map(r => fmt(r, 2)).join(', ')}) | | | ` +
          `${fmt(perTarget.service.peakRssMb / perTarget[against].peakRssMb, 2)} | ${fmt(cpuRatio, 2)}x | | |`);
          ratioSummary[against] = { ratio: median(ratios), ratios, cpuRatio };
        }
        summary[label] = { ...perTarget, ...ratioSummary };
      }
    }
    if (ALLOCATIONS) rows.push('', ...allocationRows(rounds), '');
    // Throughput, as the issue sets its target: the most requests per second a target answered at
    // any level measured with p99 under the latency bound, taken in each round (its levels ran
    // minutes apart at most), the ratio being the median of the rounds' ratios.
    rows.push('', `Throughput: each target's highest req/s over the levels measured (${CONNECTION_LEVELS.join(', ')} connections) ` +
      `with p99 under ${P99_BOUND_MS} ms, per round; the ratio is the median of the rounds' service / baseline.`, '',
    '| scenario | target | throughput req/s (level, p99 ms) per round | median req/s |', '|---|---|---|---:|');
    for (const scenario of [ 'distinctNotifications', 'repeatedNotifications', 'orderCreation' ] as Scenario[]) {
      const perRound: Array<Partial<Record<TargetName, Throughput>>> = [];
      for (let round = 0; round < ROUNDS; round++) {
        const of = (name: TargetName) => throughputOf(rounds.filter(r => r.round === round && r.results[scenario][name])
          .map(r => ({ connections: r.connections, run: r.results[scenario][name] })));
        perRound.push({ service: of('service'), baseline: of('baseline'), guarded: of('guarded') });
      }
      const throughputSummary: Record<string, unknown> = { rounds: perRound };
      for (const name of [ 'service', 'baseline', 'guarded' ] as TargetName[]) {
        const found = perRound.filter(r => r[name]).map(r => r[name]!);
        rows.push(`| ${scenario} | ${LABEL[name]} | ${perRound.map(r => (r[name] ? `${fmt(r[name]!.reqPerSec)} (@${r[name]!.connections}, ${fmt(r[name]!.p99)})` : 'none under the bound')).join('; ')} | ` +
          `${found.length ? fmt(median(found.map(t => t.reqPerSec))) : '-'} |`);
      }
      for (const against of [ 'baseline', 'guarded' ] as TargetName[]) {
        const ratios = perRound.filter(r => r.service && r[against]).map(r => r.service!.reqPerSec / r[against]!.reqPerSec);
        rows.push(`| ${scenario} | **service / ${LABEL[against]}** | rounds: ${ratios.length ? ratios.map(r => fmt(r, 2)).join(', ') : 'no round with both under the bound'} | ` +
          `**${ratios.length ? fmt(median(ratios), 2) : '-'}** |`);
        throughputSummary[against] = { ratio: ratios.length ? median(ratios) : null, ratios };
      }
      summary[`${scenario} throughput`] = throughputSummary;
    }
    if (flash.length) {
      rows.push('', `Flash sale (scenario 5): ${FLASH_SESSIONS} sessions press Buy at once (products ${FLASH_PRODUCTS.join(', ')}), pay at the simulator, ` +
        `poll the status every ${FLASH_POLL_MS} ms; every order checked paid exactly once. Medians over rounds.`, '',
      '| target | sessions that saw SUCCESS | orders/s | Buy to order p50 / p99 ms | Buy to SUCCESS p50 / p99 ms | polls per session | order retries (503) | failed polls | seconds |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|');
      const flashSummary: Record<string, unknown> = {};
      for (const name of [ 'service', 'guarded' ] as TargetName[]) {
        const runs = flash.map(f => f.results[name]).filter((r): r is FlashSaleResult => !!r);
        if (!runs.length) continue;
        const med = (f: (r: FlashSaleResult) => number) => median(runs.map(f));
        rows.push(`| ${LABEL[name]} | ${runs.map(r => `${r.succeeded} of ${r.sessions}${r.succeeded < r.sessions ? ` (${JSON.stringify(r.failures)})` : ''}`).join('; ')} | ${fmt(med(r => r.ordersPerSec))} | ${fmt(med(r => r.orderP50))} / ${fmt(med(r => r.orderP99))} | ` +
          `${fmt(med(r => r.successP50))} / ${fmt(med(r => r.successP99))} | ${fmt(med(r => r.polls / r.sessions), 1)} | ${fmt(med(r => r.retries))} | ` +
          `${fmt(med(r => Object.values(r.pollErrors).reduce((a, b) => a + b, 0)))} | ${fmt(med(r => r.seconds), 1)} |`);
        flashSummary[name] = runs.map(({ outTradeNos, ...r }) => r);
      }
      const ratios = flash.filter(f => f.results.service && f.results.guarded).map(f => f.results.service!.ordersPerSec / f.results.guarded!.ordersPerSec);
      if (ratios.length) rows.push(`| **service / same-guarantee baseline, orders/s** | | **${fmt(median(ratios), 2)}** (rounds: ${ratios.map(r => fmt(r, 2)).join(', ')}) | | | | | | |`);
      summary.flashSale = flashSummary;
    }
    if (soak) {
      const perMinute = new Map<number, number[]>();
      for (const { second, rssMb: mb } of soak.samples) perMinute.set(Math.floor(second / 60), [ ...(perMinute.get(Math.floor(second / 60)) ?? []), mb ]);
      const ordered = soak.checkouts.reduce((n, c) => n + c.sessions, 0);
      rows.push('', `Soak: ${SOAK_SECONDS} s of mixed traffic on the service: ${ordered} checkouts (order, payment, notification, status polls), ` +
        `${soak.notified} notifications and as many repeats; every order paid exactly once. Service RSS (master, agent, workers), median per minute:`, '',
      '| minute | RSS MB |', '|---:|---:|', ...[ ...perMinute ].map(([ m, values ]) => `| ${m + 1} | ${fmt(median(values))} |`));
      const minutes = [ ...perMinute.values() ].map(median);
      if (minutes.length >= 3) {
        rows.push('', `From minute 2 to the last: ${fmt(minutes[minutes.length - 1] - minutes[1], 1)} MB ` +
        `(${fmt(100 * (minutes[minutes.length - 1] - minutes[1]) / minutes[1], 1)}%). Same-guarantee baseline's RSS at the end: ${fmt(soak.baselineRssMb)} MB.`);
      }
      summary.soak = { samples: soak.samples, notified: soak.notified, checkouts: ordered };
    }
    if (core) {
      rows.push('', '| core (scenario 4) | ops/s |', '|---|---:|',
        `| service: parseXml + verifySign + reply | ${fmt(core.serviceOpsPerSec)} |`,
        `| baseline: regex + HMAC + template | ${fmt(core.baselineOpsPerSec)} |`,
        `| **service / baseline** | **${fmt(core.serviceOpsPerSec / core.baselineOpsPerSec, 2)}** |`);
    }
    if (tenpay) {
      rows.push('', '| notification read + verified (MD5), awaited per operation | ops/s (median of 3 alternating runs) |', '|---|---:|',
        `| lib/wechatpay: readNotification + verifySign | ${fmt(tenpay.serviceOpsPerSec)} |`,
        `| tenpay: util.parseXML + _getSign | ${fmt(tenpay.tenpayOpsPerSec)} |`,
        `| **lib/wechatpay / tenpay** | **${fmt(tenpay.serviceOpsPerSec / tenpay.tenpayOpsPerSec, 2)}** (runs: ${tenpay.rounds.map(r => fmt(r.service / r.tenpay, 2)).join(', ')}) |`);
      summary.tenpay = tenpay;
    }
    const report = rows.join('\n');
    console.log(`\n${report}\n`);
    mkdirSync(path.join(__dirname, 'results'), { recursive: true });
    writeFileSync(path.join(__dirname, 'results', 'latest.json'), `${JSON.stringify({
      date, machine: { cpus: os.cpus().length, model: os.cpus()[0].model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
      settings: { workers: WORKERS, connections: CONNECTION_LEVELS, notifications: NOTIFY_COUNT, orders: ORDER_COUNT, warmup: WARMUP, rounds: ROUNDS },
      summary, rounds, core, report,
    }, null, 2)}\n`);
  } finally {
    stopAll();
    await db.end();
  }
}

/**
 * BENCH_ALLOCATIONS=1: KB allocated per request answered, per scenario and level (medians over
 * rounds), then per scenario by where it was allocated (all its levels and rounds together), the
 * service beside the same-guarantee baseline.
 */
function allocationRows(rounds: Array<{ connections: number; results: Record<Scenario, Partial<Record<TargetName, LoadResult>>> }>): string[] {
  const kb = (run: LoadResult) => run.allocated!.bytes / 1024 / run.requests;
  const scenarios = [ 'distinctNotifications', 'repeatedNotifications', 'orderCreation' ] as Scenario[];
  const rows = [ 'Allocated per request (BENCH_ALLOCATIONS=1: V8\'s sampling heap profiler in every process of each target, freed objects ' +
    'counted too), KB, medians over rounds:', '',
  '| scenario | service | same-guarantee baseline | bare baseline | service / same-guarantee |', '|---|---:|---:|---:|---:|' ];
  for (const connections of CONNECTION_LEVELS) {
    for (const scenario of scenarios) {
      const runs = rounds.filter(r => r.connections === connections && r.results[scenario].service?.allocated && r.results[scenario].guarded?.allocated)
        .map(r => r.results[scenario]);
      if (!runs.length) continue;
      const [ service, guarded, bare ] = ([ 'service', 'guarded', 'baseline' ] as TargetName[])
        .map(name => median(runs.filter(r => r[name]?.allocated).map(r => kb(r[name]!))));
      rows.push(`| ${scenario} @${connections} | ${service.toFixed(1)} | ${guarded.toFixed(1)} | ${bare.toFixed(1)} | ${(service / guarded).toFixed(2)} |`);
    }
  }
  for (const scenario of scenarios) {
    const byTarget = (name: TargetName) => {
      const runs = rounds.map(r => r.results[scenario][name]).filter((r): r is LoadResult => !!r?.allocated);
      const requests = runs.reduce((n, r) => n + r.requests, 0);
      const sums = new Map<string, number>();
      for (const r of runs) for (const [ where, bytes ] of Object.entries(r.allocated!.byBucket)) sums.set(where, (sums.get(where) ?? 0) + bytes);
      return { requests, kbOf: (where: string) => (sums.get(where) ?? 0) / 1024 / Math.max(requests, 1), buckets: [ ...sums.keys() ] };
    };
    const service = byTarget('service');
    const guarded = byTarget('guarded');
    if (!service.requests) continue;
    const where = [ ...new Set([ ...service.buckets, ...guarded.buckets ]) ]
      .sort((a, b) => Math.max(service.kbOf(b), guarded.kbOf(b)) - Math.max(service.kbOf(a), guarded.kbOf(a))).slice(0, 15);
    rows.push('', `${scenario}, KB allocated per request by where (the 15 largest):`, '',
      '| where | service | same-guarantee baseline |', '|---|---:|---:|',
      ...where.map(w => `| ${w} | ${service.kbOf(w).toFixed(1)} | ${guarded.kbOf(w).toFixed(1)} |`));
  }
  return rows;
}

main().catch(err => {
  console.error(`bench failed: ${err.stack ?? err}`);
  process.exit(1);
});
