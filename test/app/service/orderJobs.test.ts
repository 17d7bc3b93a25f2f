import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import mm, { MockApplication } from 'egg-mock';
import { app, mock } from 'egg-mock/bootstrap';
import { RedisLock } from '../../../app/infra/redisLock';
import { jobLockKey } from '../../../app/service/jobLock';
import { closedPort, closedUrl } from '../../support/closedPort';
import { testEnv } from '../../support/env';
import { createOrder, login, resetWorld } from '../../support/fixtures';

const CLOSE_EXPIRED = 'closeExpiredOrders';
const QUERY_OVERDUE = 'queryOverdueOrders';

/** Moves an order's expiry into the past (WeChat's copy keeps its own time_expire). */
async function expire(outTradeNo: string, secondsAgo = 60, now = Date.now()) {
  await app.model.query('UPDATE orders SET expires_at = ? WHERE out_trade_no = ?', {
    replacements: [ new Date(now - secondsAgo * 1000), outTradeNo ],
  });
}

/** Makes an order's current prepay look this old, as if its notification were long overdue. */
async function agePrepay(outTradeNo: string, secondsAgo: number) {
  await app.model.query(
    'UPDATE payment_attempts a JOIN orders o ON o.current_attempt_id = a.id SET a.updated_at = ? WHERE o.out_trade_no = ?',
    { replacements: [ new Date(Date.now() - secondsAgo * 1000), outTradeNo ] },
  );
}

async function statusOf(outTradeNo: string) {
  return (await app.model.Order.findOne({ where: { outTradeNo } }))!.status;
}

async function eventsOf(outTradeNo: string) {
  const order = await app.model.Order.findOne({ where: { outTradeNo } });
  const events = await app.model.OrderEvent.findAll({ where: { orderId: order!.id }, order: [[ 'id', 'ASC' ]] });
  return events.map(e => [ e.type, e.source ]);
}

const closeRequests = () => testEnv.sim.requests('closeorder').map(r => r.params.out_trade_no);

describe('scheduled jobs', () => {
  let token: string;
  beforeEach(async () => {
    await resetWorld();
    ({ token } = await login());
  });
  afterEach(() => { mock.restore(); testEnv.sim.clearFaults(); });

  async function newOrder(): Promise<string> {
    return (await createOrder(token).expect(200)).body.outTradeNo;
  }

  /** An order whose payment notification goes to a closed port: only a query can reveal it. */
  async function orderWithLostNotification(): Promise<string> {
    mock(app.config.wechat, 'notifyUrl', await closedUrl('/payment/notify'));
    const outTradeNo = await newOrder();
    mock.restore();
    return outTradeNo;
  }

  it('both jobs are registered as worker jobs, with intervals from config, off in unittest', () => {
    const items = Object.values((app as any).scheduleWorker.scheduleItems as Record<string, { key: string; schedule: any }>);
    const byName = (name: string) => items.find(item => item.key.includes(`app/schedule/${name}.`))!.schedule;
    const jobs = app.config.payment.jobs;
    assert.deepEqual(byName(CLOSE_EXPIRED), { type: 'worker', interval: jobs.closeExpiredIntervalMs, disable: true });
    assert.deepEqual(byName(QUERY_OVERDUE), { type: 'worker', interval: jobs.queryOverdueIntervalMs, disable: true });
    assert.equal(jobs.closeExpiredIntervalMs, 60_000);
  });

  describe('closeExpiredOrders', () => {
    it('closes only expired NOTPAY orders, at WeChat and here, with a CLOSED event from the job', async () => {
      const expired = await newOrder();
      await expire(expired);
      const fresh = await newOrder();
      const paid = await newOrder();
      await testEnv.sim.pay(paid);
      await testEnv.sim.waitForDelivery(paid, { acknowledged: true });
      await expire(paid);

      const run = await app.runSchedule(CLOSE_EXPIRED);
      assert.deepEqual(run, { ran: true, result: { closed: 1, paid: 0, failed: 0 } });
      assert.deepEqual(closeRequests(), [ expired ]);
      assert.equal(await statusOf(expired), 'CLOSED');
      assert.deepEqual(await eventsOf(expired), [[ 'CLOSED', 'job' ]]);
      assert.equal(testEnv.sim.order(expired)!.tradeState, 'CLOSED');
      const attempts = await app.model.PaymentAttempt.findAll({ where: { outTradeNo: expired } });
      assert.deepEqual(attempts.map(a => a.status), [ 'CLOSED' ]);

      assert.equal(await statusOf(fresh), 'NOTPAY');
      assert.equal(testEnv.sim.order(fresh)!.tradeState, 'NOTPAY');
      assert.equal(await statusOf(paid), 'SUCCESS');
      assert.deepEqual(await eventsOf(paid), [[ 'PAID', 'notify' ]]);

      // Nothing left: the next tick does nothing.
      assert.deepEqual(await app.runSchedule(CLOSE_EXPIRED), { ran: true, result: { closed: 0, paid: 0, failed: 0 } });
      assert.equal(closeRequests().length, 1);
    });

    it('walks every page when more orders expired than one batch holds', async () => {
      mock(app.config.payment.jobs, 'batchSize', 2);
      const orders: string[] = [];
      // One reference time: the expiry order must not depend on how long creating orders takes.
      const now = Date.now();
      for (let i = 0; i < 5; i++) {
        orders.push(await newOrder());
        await expire(orders[i], 60 + i, now);
      }
      const run = await app.runSchedule(CLOSE_EXPIRED);
      assert.deepEqual(run, { ran: true, result: { closed: 5, paid: 0, failed: 0 } });
      // Oldest expiry first.
      assert.deepEqual(closeRequests(), [ ...orders ].reverse());
      for (const outTradeNo of orders) assert.equal(await statusOf(outTradeNo), 'CLOSED');
    });

    it('an expired order WeChat reports paid gets its payment applied, not closed', async () => {
      const outTradeNo = await orderWithLostNotification();
      const payment = await testEnv.sim.pay(outTradeNo);
      await expire(outTradeNo);

      const run = await app.runSchedule(CLOSE_EXPIRED);
      assert.deepEqual(run, { ran: true, result: { closed: 0, paid: 1, failed: 0 } });
      const order = await app.model.Order.findOne({ where: { outTradeNo } });
      assert.equal(order!.status, 'SUCCESS');
      assert.equal(order!.transactionId, payment.transactionId);
      assert.equal(order!.closedAt, null);
      assert.deepEqual(await eventsOf(outTradeNo), [[ 'PAID', 'query' ]]);
    });

    it('an order WeChat could not close stays NOTPAY and is closed on a later tick', async () => {
      const now = Date.now();
      const first = await newOrder();
      await expire(first, 120, now);
      const second = await newOrder();
      await expire(second, 60, now);
      testEnv.sim.setFault('closeorder', { kind: 'systemerror' }, 1);

      const run = await app.runSchedule(CLOSE_EXPIRED);
      assert.deepEqual(run, { ran: true, result: { closed: 1, paid: 0, failed: 1 } });
      assert.equal(await statusOf(first), 'NOTPAY');
      assert.deepEqual(await eventsOf(first), []);
      assert.equal(await statusOf(second), 'CLOSED');

      assert.deepEqual(await app.runSchedule(CLOSE_EXPIRED), { ran: true, result: { closed: 1, paid: 0, failed: 0 } });
      assert.equal(await statusOf(first), 'CLOSED');
      assert.deepEqual(await eventsOf(first), [[ 'CLOSED', 'job' ]]);
    });
  });

  describe('queryOverdueOrders', () => {
    it('applies a payment whose notification never arrived, exactly once', async () => {
      const outTradeNo = await orderWithLostNotification();
      const payment = await testEnv.sim.pay(outTradeNo);
      await agePrepay(outTradeNo, 600);

      const run = await app.runSchedule(QUERY_OVERDUE);
      assert.deepEqual(run, { ran: true, result: { queried: 1, paid: 1, failed: 0 } });
      const order = await app.model.Order.findOne({ where: { outTradeNo } });
      assert.equal(order!.status, 'SUCCESS');
      assert.equal(order!.transactionId, payment.transactionId);
      assert.deepEqual(await eventsOf(outTradeNo), [[ 'PAID', 'query' ]]);
      assert.equal(testEnv.sim.requests('orderquery').length, 1);

      // A paid order is not queried again, and nothing is applied twice.
      assert.deepEqual(await app.runSchedule(QUERY_OVERDUE), { ran: true, result: { queried: 0, paid: 0, failed: 0 } });
      assert.equal(testEnv.sim.requests('orderquery').length, 1);
      assert.deepEqual(await eventsOf(outTradeNo), [[ 'PAID', 'query' ]]);
    });

    it('queries only orders whose prepay is older than the delay; an unpaid one stays NOTPAY', async () => {
      const recent = await newOrder();
      const overdue = await newOrder();
      await agePrepay(overdue, 600);

      const run = await app.runSchedule(QUERY_OVERDUE);
      assert.deepEqual(run, { ran: true, result: { queried: 1, paid: 0, failed: 0 } });
      assert.deepEqual(testEnv.sim.requests('orderquery').map(r => r.params.out_trade_no), [ overdue ]);
      assert.equal(await statusOf(overdue), 'NOTPAY');
      assert.equal(await statusOf(recent), 'NOTPAY');
      assert.deepEqual(await eventsOf(overdue), []);
    });

    it('walks every page, and a failed query is counted and left for the next tick', async () => {
      mock(app.config.payment.jobs, 'batchSize', 2);
      const orders: string[] = [];
      for (let i = 0; i < 3; i++) {
        orders.push(await orderWithLostNotification());
        await agePrepay(orders[i], 600);
      }
      await testEnv.sim.pay(orders[2]);
      testEnv.sim.setFault('orderquery', { kind: 'systemerror' }, 1);

      const run = await app.runSchedule(QUERY_OVERDUE);
      assert.deepEqual(run, { ran: true, result: { queried: 3, paid: 1, failed: 1 } });
      assert.deepEqual(testEnv.sim.requests('orderquery').map(r => r.params.out_trade_no), orders);
      assert.deepEqual((await Promise.all(orders.map(statusOf))), [ 'NOTPAY', 'NOTPAY', 'SUCCESS' ]);
    });
  });

  describe('the cluster-wide job lock', () => {
    let app2: MockApplication;
    before(async () => {
      // A second app instance sharing MySQL and Redis: another worker or host.
      // clean: false, or egg-mock would empty logs/ under the main app's feet.
      app2 = mm.app({ baseDir: process.cwd(), cache: false, clean: false });
      await app2.ready();
      Object.assign(app2.config.wechat, {
        payBaseUrl: testEnv.sim.url,
        loginBaseUrl: testEnv.sim.url,
        notifyUrl: `${testEnv.appUrl}/payment/notify`,
        refundNotifyUrl: `${testEnv.appUrl}/payment/refund-notify`,
        timeoutMs: 2000,
      });
    });
    after(() => app2.close());

    it('two instances ticking together: the job runs once', async () => {
      const orders = [ await newOrder(), await newOrder(), await newOrder() ];
      for (const outTradeNo of orders) await expire(outTradeNo);

      const runs = await Promise.all([ app.runSchedule(CLOSE_EXPIRED), app2.runSchedule(CLOSE_EXPIRED) ]);
      const ran = runs.filter(r => r.ran);
      const skipped = runs.filter(r => !r.ran);
      assert.deepEqual(ran, [{ ran: true, result: { closed: 3, paid: 0, failed: 0 } }]);
      assert.deepEqual(skipped, [{ ran: false, reason: 'LOCKED' }]);
      assert.equal(closeRequests().length, 3);
      assert.equal(await app.model.OrderEvent.count({ where: { type: 'CLOSED' } }), 3);
      // Released at the end of the run.
      assert.equal(await app.redis.exists(jobLockKey(CLOSE_EXPIRED)), 0);
    });

    it('while another owner holds the lock the tick is skipped; once released the next tick runs', async () => {
      const outTradeNo = await newOrder();
      await expire(outTradeNo);
      const held = await new RedisLock(app.redis, 1000).acquire(jobLockKey(CLOSE_EXPIRED), 60_000);
      assert.ok(held);

      assert.deepEqual(await app2.runSchedule(CLOSE_EXPIRED), { ran: false, reason: 'LOCKED' });
      assert.deepEqual(await app.runSchedule(CLOSE_EXPIRED), { ran: false, reason: 'LOCKED' });
      assert.equal(closeRequests().length, 0);
      assert.equal(await statusOf(outTradeNo), 'NOTPAY');
      // A skipped tick leaves the holder's lock alone.
      assert.equal(await app.redis.get(jobLockKey(CLOSE_EXPIRED)), held.token);

      assert.equal(await held.release(), true);
      assert.deepEqual(await app2.runSchedule(CLOSE_EXPIRED), { ran: true, result: { closed: 1, paid: 0, failed: 0 } });
      assert.equal(await statusOf(outTradeNo), 'CLOSED');
    });

    it('each job has its own lock', async () => {
      const held = await new RedisLock(app.redis, 1000).acquire(jobLockKey(CLOSE_EXPIRED), 60_000);
      assert.ok(held);
      assert.deepEqual(await app.runSchedule(QUERY_OVERDUE), { ran: true, result: { queried: 0, paid: 0, failed: 0 } });
      await held.release();
    });

    it('takes the lock with an expiry, and a release after expiry does not delete the next owner\'s lock', async () => {
      const locks = new RedisLock(app.redis, 1000);
      const key = jobLockKey('test-job');
      const first = await locks.acquire(key, 60_000);
      assert.ok(first);
      const ttl = await app.redis.pttl(key);
      assert.ok(ttl > 0 && ttl <= 60_000, `pttl ${ttl}`);
      assert.equal(await locks.acquire(key, 60_000), undefined);

      // The first owner's lock expires (as after a long pause) and another owner takes it.
      await app.redis.del(key);
      const second = await locks.acquire(key, 60_000);
      assert.ok(second);
      assert.notEqual(second.token, first.token);

      assert.equal(await first.release(), false);
      assert.equal(await app.redis.get(key), second.token);
      assert.equal(await second.release(), true);
      assert.equal(await app.redis.exists(key), 0);
    });

    it('Redis down: both jobs skip the tick with a warning and touch nothing', async () => {
      const outTradeNo = await orderWithLostNotification();
      await testEnv.sim.pay(outTradeNo);
      await expire(outTradeNo);
      await agePrepay(outTradeNo, 600);

      // A client to a port nothing listens on, after it gave up connecting.
      const port = await closedPort();
      const dead = new Redis({ host: '127.0.0.1', port, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
      const ended = new Promise(resolve => dead.once('end', resolve));
      dead.on('error', () => undefined);
      await ended;
      mock(app, 'redis', dead);
      app.mockLog();

      assert.deepEqual(await app.runSchedule(CLOSE_EXPIRED), { ran: false, reason: 'REDIS_UNAVAILABLE' });
      assert.deepEqual(await app.runSchedule(QUERY_OVERDUE), { ran: false, reason: 'REDIS_UNAVAILABLE' });
      app.expectLog(/\[job\] closeExpiredOrders skipped: redis unavailable/);
      app.expectLog(/\[job\] queryOverdueOrders skipped: redis unavailable/);
      assert.equal(closeRequests().length, 0);
      assert.equal(testEnv.sim.requests('orderquery').length, 0);
      assert.equal(await statusOf(outTradeNo), 'NOTPAY');
    });

    it('Redis not answering: the tick is skipped once the command times out', async () => {
      const outTradeNo = await newOrder();
      await expire(outTradeNo);
      // Accepts connections and never replies.
      const sockets = new Set<net.Socket>();
      const silent = net.createServer(socket => sockets.add(socket));
      silent.listen(0, '127.0.0.1');
      await once(silent, 'listening');
      const hung = new Redis({ host: '127.0.0.1', port: (silent.address() as AddressInfo).port, enableReadyCheck: false, retryStrategy: () => null });
      hung.on('error', () => undefined);
      try {
        await once(hung, 'ready');
        mock(app, 'redis', hung);
        mock(app.config.session, 'commandTimeoutMs', 200);
        assert.deepEqual(await app.runSchedule(CLOSE_EXPIRED), { ran: false, reason: 'REDIS_UNAVAILABLE' });
        assert.equal(closeRequests().length, 0);
        assert.equal(await statusOf(outTradeNo), 'NOTPAY');
      } finally {
        hung.disconnect();
        for (const socket of sockets) socket.destroy();
        await new Promise(resolve => silent.close(resolve));
      }
    });
  });
});
