/**
 * `npm run multihost` (root only; not part of `npm test`): the service on several hosts behind a
 * load balancer, on this one machine. It makes MULTIHOST_HOSTS (3) network namespaces joined by a
 * bridge (wxmh-br0, 10.231.7.1/24; host i is 10.231.7.1i), runs the compiled service in each
 * (egg-scripts, one worker), HAProxy (Debian's package) in front on 10.231.7.1, and shares the
 * one MariaDB and Redis, which listen on 127.0.0.1, through two TCP forwarders on the bridge
 * address. The simulator plays WeChat and sends its notifications through the balancer. Then:
 *
 *   1. sessions: a user logs in through the balancer, and the session works on every host;
 *   2. the storm: 1,000 payment notifications, each delivered twice, through the balancer, 50 at
 *      a time, each delivery resent (as WeChat does) until answered SUCCESS; one host is killed
 *      (SIGKILL of every process in its namespace) when 40% have been answered;
 *   3. checks: every order paid exactly once (one paid attempt, one PAID event, one APPLIED audit
 *      row), no payment lost, every delivery acknowledged in the end;
 *   4. the scheduled jobs: orders made through the balancer, then expired, are closed by the
 *      close-expired job (every 2 s on every host) exactly once cluster-wide (one CLOSED event
 *      each; the hosts' logs show the runs and the ticks skipped under another host's lock);
 *   5. sessions again, on the hosts still up.
 *
 * Everything is removed on exit (namespaces, bridge, processes), also after a failure or Ctrl-C.
 * Settings: MULTIHOST_HOSTS (3), MULTIHOST_NOTIFICATIONS (1000), MULTIHOST_SKIP_BUILD=1,
 * MULTIHOST_MYSQL_DATABASE (wxpay_multihost), MULTIHOST_REDIS_DB (14). Exit status 0 only if every
 * check passed; 2 if the network namespaces could not be set up (not root, no `ip netns`).
 */
import { ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import mysql from 'mysql2/promise';
import { sampleNotification } from './core';
import { CREDENTIALS, insertUnpaidOrders, MYSQL_SERVER, prepareBenchDatabase } from './fixtures';

const root = path.join(__dirname, '..');
const env = process.env;
const HOSTS = Number(env.MULTIHOST_HOSTS ?? 3);
const NOTIFICATIONS = Number(env.MULTIHOST_NOTIFICATIONS ?? 1000);
const DATABASE = env.MULTIHOST_MYSQL_DATABASE ?? 'wxpay_multihost';
const REDIS_DB = env.MULTIHOST_REDIS_DB ?? '14';
const BRIDGE = 'wxmh-br0';
const NET = '10.231.7';
const GATEWAY = `${NET}.1`;
const PORTS = { lb: 18080, mysql: 13306, redis: 16379, sim: 19999, service: 7001 };
const EXPIRED_ORDERS = 12;
/** The hosts' job-lock TTL (ORDER_JOB_LOCK_TTL_SECONDS): well inside step 4's wait for the jobs. */
const JOB_LOCK_TTL_SECONDS = 8;
const ns = (i: number) => `wxmh-h${i}`;
const hostIp = (i: number) => `${NET}.${10 + i}`;
const workDir = path.join(os.tmpdir(), 'wxpay-multihost');
const bin = (name: string) => path.join(root, 'node_modules', '.bin', name);

class SetupError extends Error {}

function sh(cmd: string, args: string[], opts: { allowFail?: boolean } = {}): string {
  const res = spawnSync(cmd, args, { encoding: 'utf8' });
  if (res.status !== 0 && !opts.allowFail) throw new SetupError(`${cmd} ${args.join(' ')}: ${(res.stderr || res.error?.message || '').trim()}`);
  return res.stdout ?? '';
}

const log = (msg: string) => console.log(`[multihost] ${msg}`);
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** Kills every process in a host's namespace (SIGKILL: a host dying, not shutting down). */
function killHost(i: number): number {
  const pids = sh('ip', [ 'netns', 'pids', ns(i) ], { allowFail: true }).split('\n').filter(Boolean)
    .map(Number);
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  return pids.length;
}

function teardownNetwork() {
  for (let i = 1; i <= HOSTS; i++) {
    killHost(i);
    sh('ip', [ 'netns', 'del', ns(i) ], { allowFail: true });
  }
  sh('ip', [ 'link', 'del', BRIDGE ], { allowFail: true });
}

function setupNetwork() {
  if (process.getuid?.() !== 0) throw new SetupError('must run as root (it creates network namespaces)');
  sh('ip', [ 'netns', 'list' ]);
  teardownNetwork(); // leftovers of an interrupted run
  sh('ip', [ 'link', 'add', BRIDGE, 'type', 'bridge' ]);
  sh('ip', [ 'addr', 'add', `${GATEWAY}/24`, 'dev', BRIDGE ]);
  sh('ip', [ 'link', 'set', BRIDGE, 'up' ]);
  for (let i = 1; i <= HOSTS; i++) {
    sh('ip', [ 'netns', 'add', ns(i) ]);
    sh('ip', [ 'link', 'add', `wxmh-v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns(i) ]);
    sh('ip', [ 'link', 'set', `wxmh-v${i}`, 'master', BRIDGE, 'up' ]);
    sh('ip', [ '-n', ns(i), 'addr', 'add', `${hostIp(i)}/24`, 'dev', 'eth0' ]);
    sh('ip', [ '-n', ns(i), 'link', 'set', 'eth0', 'up' ]);
    sh('ip', [ '-n', ns(i), 'link', 'set', 'lo', 'up' ]);
    sh('ip', [ '-n', ns(i), 'route', 'add', 'default', 'via', GATEWAY ]);
  }
}

/** A TCP forwarder from the bridge address to a server that listens on loopback only. */
function forward(port: number, to: number): Promise<net.Server> {
  const server = net.createServer(client => {
    const upstream = net.connect(to, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    const close = () => { client.destroy(); upstream.destroy(); };
    client.on('error', close);
    upstream.on('error', close);
  });
  return new Promise((resolve, reject) => server.listen(port, GATEWAY, () => resolve(server)).on('error', reject));
}

function haproxyConfig(): string {
  const servers = Array.from({ length: HOSTS }, (_, k) => `  server h${k + 1} ${hostIp(k + 1)}:${PORTS.service} check inter 1s fall 3 rise 2`);
  return [
    'global', '  maxconn 4096', `  pidfile ${workDir}/haproxy.pid`,
    'defaults', '  mode http', '  timeout connect 2s', '  timeout client 30s', '  timeout server 30s',
    // A host slow to answer its health check on a loaded machine is not down: only a dead one is.
    '  timeout check 3s',
    // A connection refused by a dead host is tried on another; a request already sent is not (WeChat resends it).
    '  retries 3', '  option redispatch', '  option forwardfor',
    `frontend pay\n  bind ${GATEWAY}:${PORTS.lb}\n  default_backend hosts`,
    'backend hosts', '  balance roundrobin', '  option httpchk GET /health', ...servers, '',
  ].join('\n');
}

async function main() {
  if (!spawnSync('haproxy', [ '-v' ]).stdout) throw new SetupError('haproxy is not installed (apt-get install haproxy)');
  mkdirSync(workDir, { recursive: true });
  setupNetwork();
  log(`${HOSTS} hosts in network namespaces ${Array.from({ length: HOSTS }, (_, k) => `${ns(k + 1)} (${hostIp(k + 1)})`).join(', ')}`);
  if (env.MULTIHOST_SKIP_BUILD !== '1') {
    const res = spawnSync(process.execPath, [ 'scripts/build.js' ], { cwd: root, stdio: 'inherit' });
    if (res.status !== 0) throw new Error('build failed');
  }
  prepareBenchDatabase(root, DATABASE, { seed: true });
  const db = await mysql.createConnection({ ...MYSQL_SERVER, database: DATABASE, timezone: '+00:00' });
  const forwarders = [ await forward(PORTS.mysql, MYSQL_SERVER.port), await forward(PORTS.redis, Number(env.REDIS_PORT ?? 6379)) ];
  const children: ChildProcess[] = [];
  const lb = `http://${GATEWAY}:${PORTS.lb}`;
  try {
    const sim = fork(path.join(root, 'simulator', 'main.ts'), [], {
      cwd: root, execArgv: [ '-r', 'ts-node/register/transpile-only' ], stdio: [ 'ignore', 'ignore', 'inherit', 'ipc' ],
      env: { ...env, SIM_PORT: String(PORTS.sim), SIM_HOST: GATEWAY, SIM_APPID: CREDENTIALS.WECHAT_APPID, SIM_APP_SECRET: CREDENTIALS.WECHAT_APP_SECRET,
        SIM_MCH_ID: CREDENTIALS.WECHAT_MCH_ID, SIM_API_KEY: CREDENTIALS.WECHAT_API_KEY, SIM_RETRY_SCALE: '0.01' },
    });
    children.push(sim);
    await once(sim, 'message');
    const cfg = path.join(workDir, 'haproxy.cfg');
    writeFileSync(cfg, haproxyConfig());
    const haproxy = spawn('haproxy', [ '-db', '-f', cfg ], { stdio: [ 'ignore', 'ignore', 'inherit' ] });
    children.push(haproxy);

    const hostEnv = (i: number): NodeJS.ProcessEnv => ({
      ...env, ...CREDENTIALS, NODE_ENV: 'production', MYSQL_HOST: GATEWAY, MYSQL_PORT: String(PORTS.mysql), MYSQL_DATABASE: DATABASE,
      REDIS_HOST: GATEWAY, REDIS_PORT: String(PORTS.redis), REDIS_DB,
      WECHAT_PAY_BASE_URL: `http://${GATEWAY}:${PORTS.sim}`, WECHAT_LOGIN_BASE_URL: `http://${GATEWAY}:${PORTS.sim}`,
      WECHAT_NOTIFY_URL: `${lb}/payment/notify`, WECHAT_REFUND_NOTIFY_URL: `${lb}/payment/refund-notify`,
      TRUST_PROXY: 'true', EGG_LOG_DIR: path.join(workDir, `host${i}`),
      RATE_LIMIT_LOGIN_PER_IP: '100000', RATE_LIMIT_ORDER_PER_USER: '100000',
      // The jobs run on every host; ticks often, so a short run sees many of them.
      ORDER_CLOSE_EXPIRED_INTERVAL_SECONDS: '2',
      // The host killed mid-storm may die inside a job run, holding that job's lock: the lock then
      // lasts its TTL (120 s by default), and the others skip their ticks until it expires, as in
      // production. A short TTL lets step 4 see the jobs resume on the survivors within its wait.
      ORDER_JOB_LOCK_TTL_SECONDS: String(JOB_LOCK_TTL_SECONDS),
    });
    log('starting the service on every host');
    await Promise.all(Array.from({ length: HOSTS }, async (_, k) => {
      const i = k + 1;
      const logDir = path.join(workDir, `host${i}`);
      mkdirSync(logDir, { recursive: true });
      for (const f of readdirSync(logDir)) writeFileSync(path.join(logDir, f), '');
      const start = spawn('ip', [ 'netns', 'exec', ns(i), bin('egg-scripts'), 'start', '--daemon', `--title=wxmh-host${i}`, '--workers=1',
        `--port=${PORTS.service}`, `--stdout=${logDir}/master-stdout.log`, `--stderr=${logDir}/master-stderr.log`, './dist' ],
      { cwd: root, env: hostEnv(i), stdio: 'ignore' });
      const [ code ] = await once(start, 'exit');
      if (code !== 0) throw new Error(`host ${i} did not start (see ${logDir})`);
    }));
    const until = async (what: string, ms: number, ok: () => Promise<boolean>) => {
      const deadline = Date.now() + ms;
      while (!await ok().catch(() => false)) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
        await sleep(200);
      }
    };
    await until('every host healthy behind the balancer', 30000, async () => {
      for (let i = 1; i <= HOSTS; i++) if ((await fetch(`http://${hostIp(i)}:${PORTS.service}/health`)).status !== 200) return false;
      return (await fetch(`${lb}/health`)).status === 200;
    });
    log('every host is up behind HAProxy');

    const json = async (url: string, init: RequestInit = {}) => {
      const res = await fetch(url, { ...init, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } });
      return { status: res.status, body: await res.json() as any };
    };
    const login = async () => {
      const { body: { code } } = await json(`http://${GATEWAY}:${PORTS.sim}/simulator/login-code`, { method: 'POST', body: '{}' });
      const { status, body } = await json(`${lb}/api/login`, { method: 'POST', body: JSON.stringify({ code }) });
      if (status !== 200) throw new Error(`login through the balancer: ${status} ${JSON.stringify(body)}`);
      return { id: body.user.id as number, openid: body.user.openid as string, token: body.token as string };
    };
    const failures: string[] = [];
    const check = (ok: boolean, what: string) => { log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); if (!ok) failures.push(what); };

    // 1. Sessions on every host, and orders (made through the balancer, on whichever host) for the job check.
    const users = [ await login(), await login(), await login() ];
    // The storm's unpaid orders (inserted straight into the database; this empties the order tables first).
    const orders = await insertUnpaidOrders(db, NOTIFICATIONS, 'M', users, 'MD5', CREDENTIALS.WECHAT_APPID);
    const expired: string[] = [];
    for (let n = 0; n < EXPIRED_ORDERS; n++) {
      const { status, body } = await json(`${lb}/payment/order`, { method: 'POST', headers: { authorization: `Bearer ${users[n % 3].token}` },
        body: JSON.stringify({ items: [{ productId: 1, quantity: 1 }] }) });
      if (status !== 200) throw new Error(`order through the balancer: ${status} ${JSON.stringify(body)}`);
      expired.push(body.outTradeNo);
    }
    const sessionOn = async (hosts: number[]) => {
      const codes = await Promise.all(hosts.map(async i => (await fetch(`http://${hostIp(i)}:${PORTS.service}/payment/orders/${expired[0]}`,
        { headers: { authorization: `Bearer ${users[0].token}` } })).status));
      return codes.every(c => c === 200) ? '' : `answers ${codes.join(', ')}`;
    };
    const allHosts = Array.from({ length: HOSTS }, (_, k) => k + 1);
    const sessionProblem = await sessionOn(allHosts);
    check(!sessionProblem, `a session made through the balancer works on every host directly ${sessionProblem}`);

    // 2. The storm.
    const bodies = orders.map(o => sampleNotification(CREDENTIALS.WECHAT_API_KEY, {
      appid: CREDENTIALS.WECHAT_APPID, mch_id: CREDENTIALS.WECHAT_MCH_ID, nonce_str: `n${o.outTradeNo}`, openid: o.openid,
      transaction_id: o.transactionId, out_trade_no: o.outTradeNo,
    }, 'MD5'));
    const deliveries = [ ...bodies, ...bodies ].map((body, n) => ({ body, n })).sort(() => Math.random() - 0.5);
    const victim = 2;
    let acknowledged = 0;
    let resent = 0;
    let killedAt = -1;
    let next = 0;
    const deadline = Date.now() + 180_000;
    log(`storm: ${bodies.length} notifications, each delivered twice, 50 at a time; host ${victim} is killed at 40%`);
    const startedAt = Date.now();
    await Promise.all(Array.from({ length: 50 }, async () => {
      while (next < deliveries.length) {
        const { body } = deliveries[next++];
        for (;;) {
          const reply = await fetch(`${lb}/payment/notify`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body })
            .then(async r => (r.status === 200 ? r.text() : ''), () => '');
          if (reply.includes('<return_code><![CDATA[SUCCESS]]>')) break;
          resent++;
          if (Date.now() > deadline) throw new Error('storm: a notification was not acknowledged within 180 s');
          await sleep(100);
        }
        if (++acknowledged === Math.floor(deliveries.length * 0.4) && killedAt < 0) {
          killedAt = acknowledged;
          log(`killing host ${victim}: ${killHost(victim)} processes`);
        }
      }
    }));
    log(`storm: ${deliveries.length} deliveries acknowledged in ${((Date.now() - startedAt) / 1000).toFixed(1)} s, ${resent} resent after a failure`);

    // 3. Exactly once, nothing lost.
    const count = async (sql: string) => Number(((await db.query(sql)) as any)[0][0].n);
    check(await count('SELECT COUNT(*) AS n FROM orders WHERE out_trade_no LIKE \'M%\' AND status = \'SUCCESS\'') === NOTIFICATIONS, `all ${NOTIFICATIONS} orders paid`);
    check(await count('SELECT COUNT(*) AS n FROM payment_attempts WHERE out_trade_no LIKE \'M%\' AND status = \'PAID\'') === NOTIFICATIONS, 'one paid attempt per order');
    check(await count('SELECT COUNT(*) AS n FROM (SELECT o.id FROM orders o LEFT JOIN order_events e ON e.order_id = o.id AND e.type = \'PAID\' ' +
      'WHERE o.out_trade_no LIKE \'M%\' GROUP BY o.id HAVING COUNT(e.id) <> 1) x') === 0, 'exactly one PAID event per order');
    check(await count('SELECT COUNT(*) AS n FROM payment_notifications WHERE out_trade_no LIKE \'M%\' AND outcome = \'APPLIED\'') === NOTIFICATIONS,
      'exactly one APPLIED audit row per payment (the rest DUPLICATE)');
    check(acknowledged === deliveries.length, `every delivery acknowledged SUCCESS in the end (${acknowledged} of ${deliveries.length})`);
    check(killedAt > 0 && (await fetch(`http://${hostIp(victim)}:${PORTS.service}/health`, { signal: AbortSignal.timeout(1000) }).then(() => false, () => true)),
      `host ${victim} was down for the rest of the storm`);

    // 4. The jobs: the orders made in step 1, expired now, closed once cluster-wide.
    await db.query(`UPDATE orders SET expires_at = NOW(3) - INTERVAL 1 MINUTE WHERE out_trade_no IN (${expired.map(() => '?').join(',')})`, expired);
    const closed = () => count(`SELECT COUNT(*) AS n FROM orders WHERE status = 'CLOSED' AND out_trade_no IN ('${expired.join('\',\'')}')`);
    await until('expired orders closed by the job', 60000, async () => await closed() === EXPIRED_ORDERS);
    await sleep(4000); // two more ticks on every host: nothing more may happen
    check(await count(`SELECT COUNT(*) AS n FROM order_events e JOIN orders o ON o.id = e.order_id WHERE e.type = 'CLOSED' AND o.out_trade_no IN ('${expired.join('\',\'')}')`) === EXPIRED_ORDERS,
      `the close-expired job closed each of the ${EXPIRED_ORDERS} expired orders exactly once (one CLOSED event each)`);
    const jobLines = allHosts.map(i => {
      let text = '';
      try { text = readFileSync(path.join(workDir, `host${i}`, 'wxpay-backend-web.log'), 'utf8'); } catch { /* none */ }
      const closedHere = [ ...text.matchAll(/closeExpiredOrders: closed=(\d+)/g) ].reduce((n, m) => n + Number(m[1]), 0);
      const skipped = (text.match(/\[job\] closeExpiredOrders skipped: another worker holds the lock/g) ?? []).length;
      return { i, closedHere, skipped };
    });
    log(`close-expired job per host: ${jobLines.map(j => `host ${j.i} closed ${j.closedHere}, skipped ${j.skipped} ticks under another's lock`).join('; ')}`);
    check(jobLines.reduce((n, j) => n + j.closedHere, 0) === EXPIRED_ORDERS, 'the job runs together closed each order once (their logs agree)');

    // 5. Sessions on the hosts still up, and a new login through the balancer.
    const survivors = allHosts.filter(i => i !== victim);
    const again = await sessionOn(survivors);
    check(!again, `the session still works on hosts ${survivors.join(', ')} ${again}`);
    const fresh = await login().then(() => true, () => false);
    check(fresh, 'a new login through the balancer works with a host down');

    if (failures.length) {
      log(`${failures.length} check(s) failed; the hosts' logs are in ${workDir}`);
      process.exitCode = 1;
    } else {
      log('every check passed');
    }
  } finally {
    for (let i = 1; i <= HOSTS; i++) {
      spawnSync(bin('egg-scripts'), [ 'stop', `--title=wxmh-host${i}` ], { cwd: root, stdio: 'ignore', timeout: 15000 });
    }
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    for (const server of forwarders) server.close();
    await db.end();
    teardownNetwork();
  }
}

for (const signal of [ 'SIGINT', 'SIGTERM' ] as const) {
  process.on(signal, () => { teardownNetwork(); process.exit(130); });
}

main().then(() => process.exit(process.exitCode ?? 0), err => {
  teardownNetwork();
  if (err instanceof SetupError) {
    console.error(`[multihost] could not set up the hosts: ${err.message}`);
    process.exit(2);
  }
  console.error(`[multihost] failed: ${err.stack ?? err}`);
  process.exit(1);
});
