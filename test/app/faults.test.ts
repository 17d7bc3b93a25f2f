import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import { app, mock } from 'egg-mock/bootstrap';
import { MockApplication } from 'egg-mock';
import { buildXml, sign } from '../../lib/wechatpay';
import { testEnv } from '../support/env';
import { createOrder, login, resetWorld } from '../support/fixtures';
import { forkKillAfterCommit, sendNotification } from '../support/killAfterCommitChild';
import { startSecondApp, startSecondAppThroughMysqlProxy } from '../support/secondApp';
import { TcpProxy } from '../support/tcpProxy';
import { postXml } from '../support/postXml';
import { SettlementRepository } from '../../app/repository/settlementRepository';

// Faults of the service's own dependencies and process. (WeChat slow, SYSTEMERROR or dropping the
// connection during unified order is covered in order.test.ts.)

const SUCCESS_XML = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';

function failReply(text: string) {
  assert.match(text, /^<xml><return_code><!\[CDATA\[FAIL\]\]><\/return_code><return_msg><!\[CDATA\[[^\]]*\]\]><\/return_msg><\/xml>$/);
}

/** An order paid at the simulator whose own notification is lost: the test delivers copies itself. */
async function paidAtWechat(token: string): Promise<{ outTradeNo: string; transactionId: string }> {
  const outTradeNo = (await createOrder(token).expect(200)).body.outTradeNo as string;
  testEnv.sim.setFault('notify', { kind: 'drop', beforeProcessing: true });
  const payment = await testEnv.sim.pay(outTradeNo);
  return { outTradeNo, transactionId: payment.transactionId! };
}

/** Resolves on the event; unlike events.once, an 'error' event meanwhile (a reconnect failing) does not reject. */
function nextEvent(emitter: NodeJS.EventEmitter, event: string): Promise<void> {
  return new Promise(resolve => emitter.once(event, () => resolve()));
}

function notificationXml(outTradeNo: string): string {
  return buildXml(testEnv.sim.buildNotification(outTradeNo));
}

async function paidState(outTradeNo: string) {
  const order = await app.model.Order.findOne({ where: { outTradeNo }, raw: true });
  const attempt = await app.model.PaymentAttempt.findOne({ where: { outTradeNo }, raw: true });
  const paidEvents = await app.model.OrderEvent.count({ where: { orderId: order!.id, type: 'PAID' } });
  return { order: order!, attempt: attempt!, paidEvents };
}

describe('faults', () => {
  beforeEach(resetWorld);
  afterEach(() => {
    mock.restore();
    testEnv.sim.reset();
  });

  describe('MySQL unreachable (a second app instance reaching MariaDB through a TCP proxy)', () => {
    let proxy: TcpProxy;
    let app2: MockApplication;
    before(async () => {
      ({ proxy, app: app2 } = await startSecondAppThroughMysqlProxy(app));
    });
    after(async () => {
      await app2?.close();
      await proxy?.stop();
    });
    afterEach(() => proxy.restore());

    function notify(xml: string) {
      return app2.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
        .send(xml);
    }

    it('cut in the middle of the settlement transaction: FAIL, nothing half-written, the resend after recovery pays once', async () => {
      const { token } = await login();
      const { outTradeNo, transactionId } = await paidAtWechat(token);
      const xml = notificationXml(outTradeNo);
      // MySQL goes away after the rows were locked inside the settlement transaction, before its writes.
      const applyAndCommit = SettlementRepository.prototype.applyAndCommit;
      mock(SettlementRepository.prototype, 'applyAndCommit', async function(this: SettlementRepository, ...args: Parameters<typeof applyAndCommit>) {
        await proxy.cut();
        return applyAndCommit.apply(this, args);
      });

      const refused = await notify(xml);
      assert.equal(refused.status, 500);
      failReply(refused.text);
      let state = await paidState(outTradeNo);
      assert.equal(state.order.status, 'NOTPAY');
      assert.equal(state.order.transactionId, null);
      assert.equal(state.attempt.transactionId, null, 'the attempt update was rolled back with the transaction');
      assert.equal(state.attempt.status, 'PREPAID');
      assert.equal(state.paidEvents, 0);
      // The audit row belongs to the rolled-back transaction, and MySQL is away: no trace yet.
      assert.equal(await app.model.PaymentNotification.count(), 0);

      mock.restore();
      await proxy.restore();
      const resent = await notify(xml).expect(200);
      assert.equal(resent.text, SUCCESS_XML);
      state = await paidState(outTradeNo);
      assert.equal(state.order.status, 'SUCCESS');
      assert.equal(state.order.transactionId, transactionId);
      assert.equal(state.paidEvents, 1);
      assert.deepEqual((await app.model.PaymentNotification.findAll({ raw: true })).map(n => n.outcome), [ 'APPLIED' ]);

      // And once more, as WeChat may: acknowledged, nothing changes.
      await notify(xml).expect(200, SUCCESS_XML);
      assert.deepEqual(await paidState(outTradeNo), state);
    });

    it('down before the notification arrives: FAIL without a trace, the resend after recovery pays once', async () => {
      const { token } = await login();
      const { outTradeNo } = await paidAtWechat(token);
      const xml = notificationXml(outTradeNo);
      await proxy.cut();

      const refused = await notify(xml);
      assert.equal(refused.status, 500);
      failReply(refused.text);
      assert.equal((await paidState(outTradeNo)).order.status, 'NOTPAY');
      assert.equal(await app.model.PaymentNotification.count(), 0);

      await proxy.restore();
      await notify(xml).expect(200, SUCCESS_XML);
      const state = await paidState(outTradeNo);
      assert.equal(state.order.status, 'SUCCESS');
      assert.equal(state.paidEvents, 1);
      assert.deepEqual((await app.model.PaymentNotification.findAll({ raw: true })).map(n => n.outcome), [ 'APPLIED' ]);
    });

    it('/health answers 503 naming MySQL while it is away, 200 once it is back', async () => {
      await proxy.cut();
      const down = await app2.httpRequest().get('/health').expect(503);
      assert.deepEqual(down.body, { status: 'degraded', mysql: 'down', redis: 'up' });
      await proxy.restore();
      await app2.httpRequest().get('/health').expect(200);
    });
  });

  describe('Redis unreachable (a second app instance reaching Redis through a TCP proxy)', () => {
    let proxy: TcpProxy;
    let app2: MockApplication;
    before(async () => {
      // To the Redis server the app uses (REDIS_HOST, REDIS_PORT), whichever it is.
      const { host, port } = app.config.redis.client as { host: string; port: number };
      proxy = new TcpProxy(host, port);
      await proxy.start();
      app2 = await startSecondApp({ REDIS_HOST: '127.0.0.1', REDIS_PORT: String(proxy.port) });
    });
    after(async () => {
      await app2?.close();
      await proxy?.stop();
    });
    afterEach(async () => {
      if (app2.redis.status !== 'ready') {
        const ready = nextEvent(app2.redis, 'ready');
        await proxy.restore();
        await ready;
      }
    });

    async function cutRedis() {
      const closed = nextEvent(app2.redis, 'close');
      await proxy.cut();
      await closed;
    }

    it('login answers 503 SESSION_STORE_UNAVAILABLE, and works again once Redis is back', async () => {
      await cutRedis();
      const code = testEnv.sim.issueLoginCode({});
      const res = await app2.httpRequest().post('/api/login').send({ code })
        .expect(503);
      assert.deepEqual(res.body, { code: 'SESSION_STORE_UNAVAILABLE', message: 'session store is unavailable, try again shortly' });
      assert.equal(await app.model.User.count(), 0);

      const ready = nextEvent(app2.redis, 'ready');
      await proxy.restore();
      await ready;
      // The code was not spent by the refused attempt.
      const again = await app2.httpRequest().post('/api/login').send({ code });
      assert.equal(again.status, 200, JSON.stringify(again.body));
    });

    it('notifications do not need Redis: the order is paid once and acknowledged', async () => {
      const { token } = await login();
      const { outTradeNo, transactionId } = await paidAtWechat(token);
      await cutRedis();
      const xml = notificationXml(outTradeNo);
      await app2.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
        .send(xml)
        .expect(200, SUCCESS_XML);
      await app2.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
        .send(xml)
        .expect(200, SUCCESS_XML);
      const state = await paidState(outTradeNo);
      assert.equal(state.order.status, 'SUCCESS');
      assert.equal(state.order.transactionId, transactionId);
      assert.equal(state.paidEvents, 1);
    });

    it('authenticated routes answer 503, not 401, so clients keep their token', async () => {
      const { token } = await login();
      await cutRedis();
      const res = await app2.httpRequest().get('/payment/orders/P00000000000000000000000000000').set('Authorization', `Bearer ${token}`)
        .expect(503);
      assert.equal(res.body.code, 'SESSION_STORE_UNAVAILABLE');
    });
  });

  describe('the process killed (SIGKILL) between commit and reply', () => {
    let child: ChildProcess | undefined;
    afterEach(() => { if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });

    it('the notification went unanswered; the resend is answered SUCCESS with no second change', async function() {
      // A whole app booted through ts-node in a child: over a minute on a busy machine.
      this.timeout(180_000);
      const { token } = await login();
      const { outTradeNo, transactionId } = await paidAtWechat(token);
      const xml = notificationXml(outTradeNo);

      const killed = forkKillAfterCommit();
      child = killed.child;
      const exited = killed.exited;
      const port = await killed.listening;

      const sent = sendNotification(port, xml);
      assert.equal(await sent, 'error ECONNRESET');
      const [ code, signal ] = await exited;
      assert.deepEqual([ code, signal ], [ null, 'SIGKILL' ]);

      // What the killed process committed is there, and only that.
      const committed = await paidState(outTradeNo);
      assert.equal(committed.order.status, 'SUCCESS');
      assert.equal(committed.order.transactionId, transactionId);
      assert.equal(committed.paidEvents, 1);

      // WeChat resends to the surviving (or restarted) service.
      const resent = await app.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
        .send(xml)
        .expect(200);
      assert.equal(resent.text, SUCCESS_XML);
      assert.deepEqual(await paidState(outTradeNo), committed);
      const outcomes = (await app.model.PaymentNotification.findAll({ order: [[ 'id', 'ASC' ]], raw: true })).map(n => n.outcome);
      // The killed process committed the audit outcome with the payment; the resend is a repeat.
      assert.deepEqual(outcomes, [ 'APPLIED', 'DUPLICATE' ]);
    });
  });

  describe('a notification storm', () => {
    it('1,000 notifications for 100 orders, shuffled, 50 in flight, 10% forged: exactly 100 paid, every forgery refused, none lost', async () => {
      // 10 users x 10 orders stays under the default per-user order limit only if it is lifted.
      mock(app.config.rateLimit.orderPerUser, 'limit', 0);
      testEnv.sim.setFault('notify', { kind: 'drop', beforeProcessing: true });
      const paid = new Map<string, string>();
      for (let u = 0; u < 10; u++) {
        const { token } = await login();
        await Promise.all(Array.from({ length: 10 }, async () => {
          const outTradeNo = (await createOrder(token).expect(200)).body.outTradeNo as string;
          paid.set(outTradeNo, (await testEnv.sim.pay(outTradeNo)).transactionId!);
        }));
      }
      const orders = [ ...paid.keys() ];
      assert.equal(orders.length, 100);

      type Delivery = { outTradeNo: string; forged: boolean; xml: string };
      const deliveries: Delivery[] = [];
      const forgeries: Array<(f: Record<string, string>, i: number) => Record<string, string>> = [
        // Amount lowered, original signature kept.
        f => ({ ...f, total_fee: '1' }),
        // Amount lowered and signed with a key the attacker made up.
        f => { const g: Record<string, string> = { ...f, total_fee: '1' }; delete g.sign; return { ...g, sign: sign(g, 'a'.repeat(32), 'HMAC-SHA256') }; },
        // Another order's signed notification with this order's number.
        (f, i) => ({ ...testEnv.sim.buildNotification(orders[(i + 1) % orders.length]), out_trade_no: f.out_trade_no }),
        // A transaction id of the attacker's choosing, original signature kept.
        f => ({ ...f, transaction_id: '4200000000209999999999999999' }),
        // Signature removed.
        f => { const g = { ...f }; delete g.sign; return g; },
      ];
      orders.forEach((outTradeNo, i) => {
        for (let copy = 0; copy < 9; copy++) deliveries.push({ outTradeNo, forged: false, xml: notificationXml(outTradeNo) });
        const forge = forgeries[i % forgeries.length];
        deliveries.push({ outTradeNo, forged: true, xml: buildXml(forge(testEnv.sim.buildNotification(outTradeNo), i)) });
      });
      // Fisher-Yates with a fixed seed: shuffled, and the same order on every run.
      let seed = 20261123;
      const random = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
      for (let i = deliveries.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [ deliveries[i], deliveries[j] ] = [ deliveries[j], deliveries[i] ];
      }

      // Over real HTTP to the listening test app, at most 50 in flight.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
      const replies: string[] = new Array(deliveries.length);
      let next = 0;
      const post = (xml: string) => postXml(`${testEnv.appUrl}/payment/notify`, xml, agent);
      await Promise.all(Array.from({ length: 50 }, async () => {
        while (next < deliveries.length) {
          const i = next++;
          replies[i] = await post(deliveries[i].xml);
        }
      }));
      agent.destroy();

      deliveries.forEach((d, i) => {
        if (d.forged) failReply(replies[i]);
        else assert.equal(replies[i], SUCCESS_XML, `genuine notification ${i} for ${d.outTradeNo}: ${replies[i]}`);
      });
      assert.equal(await app.model.Order.count({ where: { status: 'SUCCESS' } }), 100);
      assert.equal(await app.model.OrderEvent.count({ where: { type: 'PAID' } }), 100);
      assert.equal(await app.model.OrderEvent.count(), 100);
      for (const order of await app.model.Order.findAll({ raw: true })) {
        assert.equal(order.transactionId, paid.get(order.outTradeNo), `order ${order.outTradeNo} carries WeChat's transaction_id`);
        assert.ok(!order.refundRequired);
      }
      // Every notification is in the audit with its outcome.
      const outcomes = await app.model.PaymentNotification.findAll({ attributes: [ 'outcome' ], raw: true });
      const count = (o: string) => outcomes.filter(n => n.outcome === o).length;
      assert.deepEqual([ outcomes.length, count('APPLIED'), count('DUPLICATE'), count('REJECTED') ], [ 1000, 100, 800, 100 ]);
    });
  });
});
