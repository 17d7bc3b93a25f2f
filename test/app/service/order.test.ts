import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { buildXml } from '../../../lib/wechatpay';
import { closedUrl } from '../../support/closedPort';
import { testEnv } from '../../support/env';
import { createOrder, login, resetWorld } from '../../support/fixtures';

describe('GET /payment/orders/:outTradeNo', () => {
  let token: string;
  beforeEach(async () => {
    await resetWorld();
    ({ token } = await login());
  });
  afterEach(() => { mock.restore(); testEnv.sim.clearFaults(); });

  function status(outTradeNo: string, bearer = token) {
    return app.httpRequest().get(`/payment/orders/${outTradeNo}`).set('Authorization', `Bearer ${bearer}`);
  }

  it('shows an unpaid order to its owner', async () => {
    const created = await createOrder(token, [{ productId: 2, quantity: 2 }]).expect(200);
    const res = await status(created.body.outTradeNo).expect(200);
    assert.equal(res.body.outTradeNo, created.body.outTradeNo);
    assert.equal(res.body.status, 'NOTPAY');
    assert.equal(res.body.totalFee, 1700);
    assert.equal(res.body.paidAt, null);
    assert.deepEqual(res.body.items, [{ productId: 2, name: 'Croissant', unitPriceFen: 850, quantity: 2 }]);
  });

  it('another user gets 404, exactly as for a missing order', async () => {
    const created = await createOrder(token).expect(200);
    const other = await login();
    const theirs = await status(created.body.outTradeNo, other.token).expect(404);
    const missing = await status('P0000000000000000000000000000', other.token).expect(404);
    assert.deepEqual(theirs.body, missing.body);
    assert.deepEqual(theirs.body, { code: 'ORDER_NOT_FOUND', message: 'no such order' });
  });

  it('refuses a malformed order number with 422', async () => {
    const res = await status('not%20valid%27%3B--').expect(422);
    assert.equal(res.body.field, 'outTradeNo');
  });

  it('learns a payment whose notification never came by querying WeChat, once', async () => {
    // WeChat cannot reach us: the notification goes to a closed port.
    mock(app.config.wechat, 'notifyUrl', await closedUrl('/payment/notify'));
    const created = await createOrder(token).expect(200);
    mock.restore();
    const payment = await testEnv.sim.pay(created.body.outTradeNo);

    const res = await status(created.body.outTradeNo).expect(200);
    assert.equal(res.body.status, 'SUCCESS');
    assert.equal(res.body.transactionId, payment.transactionId);
    assert.equal(testEnv.sim.requests('orderquery').length, 1);
    const events = await app.model.OrderEvent.findAll();
    assert.deepEqual(events.map(e => [ e.type, e.source ]), [[ 'PAID', 'query' ]]);

    // The notification that arrives later is a duplicate: no second side effect.
    const late = await app.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
      .send(buildXml(testEnv.sim.buildNotification(created.body.outTradeNo)))
      .expect(200);
    assert.match(late.text, /<return_code><!\[CDATA\[SUCCESS\]\]>/);
    assert.equal(await app.model.OrderEvent.count(), 1);
    // A paid order is not queried again.
    await status(created.body.outTradeNo).expect(200);
    assert.equal(testEnv.sim.requests('orderquery').length, 1);
  });

  it('an unpaid order stays NOTPAY after the query', async () => {
    const created = await createOrder(token).expect(200);
    const res = await status(created.body.outTradeNo).expect(200);
    assert.equal(res.body.status, 'NOTPAY');
    assert.equal(testEnv.sim.requests('orderquery').length, 1);
  });

  it('does not query WeChat while the prepay is fresh', async () => {
    mock(app.config.payment, 'queryAfterSeconds', 3600);
    const created = await createOrder(token).expect(200);
    await status(created.body.outTradeNo).expect(200);
    assert.equal(testEnv.sim.requests('orderquery').length, 0);
  });

  describe('order query throttle (one per order per statusQueryIntervalSeconds, across workers)', () => {
    // A window far longer than the test: no assertion depends on when it ends.
    beforeEach(() => mock(app.config.payment, 'statusQueryIntervalSeconds', 3600));
    const throttleKey = (outTradeNo: string) => `orderquery:status:${outTradeNo}`;

    it('a client polling in a loop sends one order query per window, and another once the window is over', async () => {
      const created = await createOrder(token).expect(200);
      const { outTradeNo } = created.body;
      for (let i = 0; i < 10; i++) {
        const res = await status(outTradeNo).expect(200);
        assert.equal(res.body.status, 'NOTPAY');
      }
      assert.deepEqual(testEnv.sim.requests('orderquery').map(r => r.params.out_trade_no), [ outTradeNo ]);
      // The claim is shared through Redis and lives exactly one window.
      const ttl = await app.redis.pttl(throttleKey(outTradeNo));
      assert.ok(ttl > 3_590_000 && ttl <= 3_600_000, `PTTL ${ttl}`);

      // The window is over (its key expired): the next poll asks again, once.
      await app.redis.del(throttleKey(outTradeNo));
      for (let i = 0; i < 3; i++) await status(outTradeNo).expect(200);
      assert.equal(testEnv.sim.requests('orderquery').length, 2);
    });

    it('the window is per order: another order of the same user is asked on its first poll', async () => {
      const a = (await createOrder(token).expect(200)).body.outTradeNo;
      const b = (await createOrder(token).expect(200)).body.outTradeNo;
      await status(a).expect(200);
      await status(a).expect(200);
      await status(b).expect(200);
      assert.deepEqual(testEnv.sim.requests('orderquery').map(r => r.params.out_trade_no), [ a, b ]);
    });

    it('Redis unable to hold the claim: the local status is answered without asking WeChat, with a warning', async () => {
      const created = await createOrder(token).expect(200);
      app.mockLog();
      mock(app.redis, 'set', async () => { throw new Error('Connection is closed.'); });
      const res = await status(created.body.outTradeNo).expect(200);
      assert.equal(res.body.status, 'NOTPAY');
      assert.equal(res.body.outTradeNo, created.body.outTradeNo);
      assert.equal(testEnv.sim.requests('orderquery').length, 0);
      app.expectLog(new RegExp(`\\[payment\\] order ${created.body.outTradeNo}: order query throttle unavailable, answering the local status without asking WeChat: Connection is closed\\.`));
    });
  });

  it('asks WeChat only about attempts that can still change: a CLOSED attempt is not queried', async () => {
    const created = await createOrder(token).expect(200);
    const { outTradeNo } = created.body;
    // The prepay has run out: /pay closes the first number at WeChat and opens a second one.
    await app.model.PaymentAttempt.update({ prepayExpiresAt: new Date(Date.now() - 1000) }, { where: { outTradeNo } });
    await app.httpRequest().post(`/payment/orders/${outTradeNo}/pay`).set('Authorization', `Bearer ${token}`)
      .expect(200);
    const attempts = await app.model.PaymentAttempt.findAll({ order: [[ 'id', 'ASC' ]] });
    assert.deepEqual(attempts.map(a => a.status), [ 'CLOSED', 'PREPAID' ]);
    assert.deepEqual(testEnv.sim.requests('closeorder').map(r => r.params.out_trade_no), [ outTradeNo ]);

    const res = await status(outTradeNo).expect(200);
    assert.equal(res.body.status, 'NOTPAY');
    assert.deepEqual(testEnv.sim.requests('orderquery').map(r => r.params.out_trade_no), [ attempts[1].outTradeNo ]);
  });

  it('a FAILED attempt is closed at WeChat when /pay replaces it, and is then no longer asked about', async () => {
    const created = await createOrder(token).expect(200);
    const { outTradeNo } = created.body;
    await app.model.PaymentAttempt.update({ status: 'FAILED', prepayExpiresAt: new Date(Date.now() - 1000) }, { where: { outTradeNo } });
    await app.httpRequest().post(`/payment/orders/${outTradeNo}/pay`).set('Authorization', `Bearer ${token}`)
      .expect(200);
    const attempts = await app.model.PaymentAttempt.findAll({ order: [[ 'id', 'ASC' ]] });
    assert.deepEqual(attempts.map(a => a.status), [ 'CLOSED', 'PREPAID' ]);
    assert.deepEqual(testEnv.sim.requests('closeorder').map(r => r.params.out_trade_no), [ outTradeNo ]);
    await status(outTradeNo).expect(200);
    assert.deepEqual(testEnv.sim.requests('orderquery').map(r => r.params.out_trade_no), [ attempts[1].outTradeNo ]);
  });

  it('answers the local status when the query fails', async () => {
    const created = await createOrder(token).expect(200);
    testEnv.sim.setFault('orderquery', { kind: 'systemerror' });
    app.mockLog();
    const res = await status(created.body.outTradeNo).expect(200);
    assert.equal(res.body.status, 'NOTPAY');
    // WeChat was asked, exactly once, and its failure is what the local answer stands in for.
    assert.deepEqual(testEnv.sim.requests('orderquery').map(r => r.params.out_trade_no), [ created.body.outTradeNo ]);
    app.expectLog(new RegExp(`\\[payment\\] order ${created.body.outTradeNo}: order query failed, answering local status`));
    const order = await app.model.Order.findOne({ where: { outTradeNo: created.body.outTradeNo } });
    assert.equal(order!.status, 'NOTPAY');
    assert.equal(res.body.outTradeNo, created.body.outTradeNo);
    assert.equal(res.body.paidAt, null);
  });
});
