import assert from 'node:assert/strict';
import { ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { closedPort } from '../support/closedPort';
import { testEnv } from '../support/env';
import { resetWorld } from '../support/fixtures';
import { parsePromText, PromText, sample } from '../support/promText';

// GET /metrics of the app as production runs it: an egg-cluster with an agent and two app workers
// (a child process), WeChat played by the test's simulator. Whichever worker handled the payment
// and whichever answers the scrape, the scrape shows it.

const WORKERS = 2;
const METRICS_TOKEN = 'cluster-test-metrics-token';

describe('GET /metrics across Egg workers (a cluster of 2 app workers)', function() {
  // The master, agent and workers each compile the app with ts-node on a shared machine.
  this.timeout(600_000);
  let master: ChildProcess | undefined;
  let base = '';
  let logDir = '';

  before(async () => {
    const port = await closedPort();
    base = `http://127.0.0.1:${port}`;
    logDir = mkdtempSync(path.join(tmpdir(), 'wxpay-metrics-cluster-'));
    master = fork('test/support/clusterMaster.ts', [], {
      execArgv: [ '-r', 'ts-node/register/transpile-only' ],
      env: {
        ...process.env,
        EGG_SERVER_ENV: 'unittest',
        EGG_TYPESCRIPT: 'true',
        CLUSTER_PORT: String(port),
        CLUSTER_WORKERS: String(WORKERS),
        EGG_LOG_DIR: logDir,
        METRICS_TOKEN,
        WECHAT_PAY_BASE_URL: testEnv.sim.url,
        WECHAT_LOGIN_BASE_URL: testEnv.sim.url,
        WECHAT_NOTIFY_URL: `${base}/payment/notify`,
      },
      stdio: [ 'ignore', 'ignore', 'inherit', 'ipc' ],
    });
    const exited = once(master, 'exit');
    await Promise.race([
      once(master, 'message'),
      exited.then(([ code ]) => { throw new Error(`the cluster exited with ${code} before it was ready`); }),
    ]);
    // The agent learns the workers' pids from the master once all listen: until then a scrape has only its own worker.
    await until(async () => sample(await scrape(), 'wxpay_metrics_workers{state="answered"}') === WORKERS, 'both workers answer a scrape');
  });

  after(async () => {
    if (master && master.exitCode === null && master.signalCode === null) {
      const exited = once(master, 'exit');
      master.kill('SIGTERM');
      await exited;
    }
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  });

  beforeEach(resetWorld);

  /** Polls `check` until it holds, failing with `what` after 30 s. */
  async function until(check: () => Promise<boolean>, what: string) {
    const deadline = Date.now() + 30_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise(resolve => setTimeout(resolve, 200));
    }
  }

  /** A new connection per request, so the cluster hands requests to its workers in turn. */
  function call(pathname: string, init: RequestInit = {}) {
    return fetch(`${base}${pathname}`, { ...init, headers: { Connection: 'close', ...init.headers as Record<string, string> } });
  }

  async function scrape(): Promise<PromText> {
    const res = await call('/metrics', { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    return parsePromText(await res.text());
  }

  it('4 orders and a payment, handled by whichever workers: every scrape, from either worker, counts all of them', async () => {
    const code = testEnv.sim.issueLoginCode({});
    const login = await call('/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code }) });
    assert.equal(login.status, 200);
    const { token } = await login.json() as { token: string };
    const orders: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await call('/payment/order', {
        method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        body: JSON.stringify({ items: [{ productId: 1, quantity: 1 }] }),
      });
      assert.equal(res.status, 200);
      orders.push((await res.json() as { outTradeNo: string }).outTradeNo);
    }
    // WeChat's notification goes to the cluster's port: one of the workers applies it.
    await testEnv.sim.pay(orders[0]);
    await testEnv.sim.waitForDelivery(orders[0], { kind: 'payment', acknowledged: true });

    const expected = {
      'wxpay_orders_created_total{trade_type="JSAPI"}': 4,
      'wxpay_wechat_calls_total{api="/pay/unifiedorder",code="",result="SUCCESS"}': 4,
      'wxpay_wechat_call_duration_seconds_count{api="/pay/unifiedorder",result="SUCCESS"}': 4,
      'wxpay_wechat_calls_total{api="/sns/jscode2session",code="",result="SUCCESS"}': 1,
      'wxpay_notifications_total{kind="pay",outcome="APPLIED"}': 1,
      'wxpay_payments_applied_total{event="PAID",source="notify",trade_type="JSAPI"}': 1,
      'wxpay_metrics_workers{state="answered"}': WORKERS,
      'wxpay_metrics_workers{state="missing"}': 0,
      wxpay_mysql_up: 1,
      wxpay_redis_up: 1,
    };
    // Requests go to the workers in turn: six scrapes are answered by both, three each.
    for (let i = 0; i < 6; i++) {
      const m = await scrape();
      assert.deepEqual(Object.fromEntries(Object.keys(expected).map(k => [ k, m.samples.get(k) ])), expected, `scrape ${i + 1}`);
    }
  });

  it('401 without the token, with a wrong one, and with the admin token (METRICS_TOKEN is set, so only it opens /metrics)', async () => {
    for (const header of [ undefined, 'Bearer wrong', 'Bearer dev-admin-token-not-for-production' ]) {
      const res = await call('/metrics', { headers: header ? { Authorization: header } : {} });
      assert.equal(res.status, 401, String(header));
      assert.deepEqual(await res.json(), { code: 'METRICS_UNAUTHORIZED', message: 'GET /metrics needs Authorization: Bearer <metrics token>' });
    }
  });
});
