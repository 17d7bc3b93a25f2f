import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { buildXml } from '../../../lib/wechatpay';
import { closedUrl } from '../../support/closedPort';
import { testEnv } from '../../support/env';
import { ReplyGate } from '../../support/replyGate';
import { createOrder, login, resetWorld } from '../../support/fixtures';

function closeRequest(outTradeNo: string, bearer: string) {
  return app.httpRequest().post(`/payment/orders/${outTradeNo}/close`).set('Authorization', `Bearer ${bearer}`);
}

async function stored(outTradeNo: string) {
  const order = await app.model.Order.findOne({ where: { outTradeNo } });
  assert.ok(order, `order ${outTradeNo} is stored`);
  const attempts = await app.model.PaymentAttempt.findAll({ where: { orderId: order.id }, order: [[ 'id', 'ASC' ]] });
  const events = await app.model.OrderEvent.findAll({ where: { orderId: order.id }, order: [[ 'id', 'ASC' ]] });
  return { order, attempts, events: events.map(e => [ e.type, e.source ]) };
}

describe('POST /payment/orders/:outTradeNo/close', () => {
  let token: string;
  beforeEach(async () => {
    await resetWorld();
    ({ token } = await login());
  });
  afterEach(() => { mock.restore(); testEnv.sim.clearFaults(); });

  it('closes an unpaid order at WeChat, then here, and answers the order view', async () => {
    const created = await createOrder(token, [{ productId: 2, quantity: 2 }]).expect(200);
    const outTradeNo = created.body.outTradeNo;

    const res = await closeRequest(outTradeNo, token).expect(200);
    assert.equal(res.body.outTradeNo, outTradeNo);
    assert.equal(res.body.status, 'CLOSED');
    assert.equal(res.body.totalFee, 1700);
    assert.equal(res.body.paidAt, null);
    assert.deepEqual(res.body.items, [{ productId: 2, name: 'Croissant', unitPriceFen: 850, quantity: 2 }]);

    const { order, attempts, events } = await stored(outTradeNo);
    assert.equal(order.status, 'CLOSED');
    assert.ok(order.closedAt instanceof Date);
    assert.deepEqual(attempts.map(a => a.status), [ 'CLOSED' ]);
    assert.deepEqual(events, [[ 'CLOSED', 'client' ]]);
    assert.equal(testEnv.sim.order(outTradeNo)!.tradeState, 'CLOSED');
    assert.deepEqual(testEnv.sim.requests('closeorder').map(r => r.params.out_trade_no), [ outTradeNo ]);

    // The view answers the same, and the order can no longer be paid.
    const view = await app.httpRequest().get(`/payment/orders/${outTradeNo}`).set('Authorization', `Bearer ${token}`)
      .expect(200);
    assert.deepEqual(view.body, res.body);
    const pay = await app.httpRequest().post(`/payment/orders/${outTradeNo}/pay`).set('Authorization', `Bearer ${token}`)
      .expect(409);
    assert.equal(pay.body.code, 'ORDER_CLOSED');
  });

  it('is idempotent: closing a closed order answers 200 with the same view, without calling WeChat again', async () => {
    const created = await createOrder(token).expect(200);
    const first = await closeRequest(created.body.outTradeNo, token).expect(200);
    const second = await closeRequest(created.body.outTradeNo, token).expect(200);
    assert.deepEqual(second.body, first.body);
    assert.equal(testEnv.sim.requests('closeorder').length, 1);
    const { events } = await stored(created.body.outTradeNo);
    assert.deepEqual(events, [[ 'CLOSED', 'client' ]]);
  });

  it('refuses to close a paid order with 409 ORDER_ALREADY_PAID; the order stays SUCCESS', async () => {
    const created = await createOrder(token).expect(200);
    const outTradeNo = created.body.outTradeNo;
    const payment = await testEnv.sim.pay(outTradeNo);
    await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });

    const res = await closeRequest(outTradeNo, token).expect(409);
    assert.deepEqual(res.body, { code: 'ORDER_ALREADY_PAID', message: 'this order is already paid' });
    const { order, attempts, events } = await stored(outTradeNo);
    assert.equal(order.status, 'SUCCESS');
    assert.equal(order.transactionId, payment.transactionId);
    assert.equal(order.closedAt, null);
    assert.deepEqual(attempts.map(a => a.status), [ 'PAID' ]);
    assert.deepEqual(events, [[ 'PAID', 'notify' ]]);
    assert.equal(testEnv.sim.requests('closeorder').length, 0);
  });

  it('when WeChat answers ORDERPAID it applies the payment and answers 409 ORDER_ALREADY_PAID', async () => {
    // The payment's notification cannot reach us: only the close reveals it.
    mock(app.config.wechat, 'notifyUrl', await closedUrl('/payment/notify'));
    const created = await createOrder(token).expect(200);
    mock.restore();
    const outTradeNo = created.body.outTradeNo;
    const payment = await testEnv.sim.pay(outTradeNo);

    const res = await closeRequest(outTradeNo, token).expect(409);
    assert.equal(res.body.code, 'ORDER_ALREADY_PAID');
    const { order, attempts, events } = await stored(outTradeNo);
    assert.equal(order.status, 'SUCCESS');
    assert.equal(order.transactionId, payment.transactionId);
    assert.equal(order.closedAt, null);
    assert.deepEqual(attempts.map(a => a.status), [ 'PAID' ]);
    assert.deepEqual(events, [[ 'PAID', 'query' ]]);
    assert.equal(testEnv.sim.requests('closeorder').length, 1);
    assert.equal(testEnv.sim.requests('orderquery').length, 1);
    assert.equal(testEnv.sim.order(outTradeNo)!.tradeState, 'SUCCESS');
  });

  it('answers 503 WECHAT_BUSY when WeChat answers SYSTEMERROR, leaving the order NOTPAY and payable', async () => {
    const created = await createOrder(token).expect(200);
    const outTradeNo = created.body.outTradeNo;
    testEnv.sim.setFault('closeorder', { kind: 'systemerror' }, 1);

    const res = await closeRequest(outTradeNo, token).expect(503);
    assert.equal(res.body.code, 'WECHAT_BUSY');
    const { order, attempts, events } = await stored(outTradeNo);
    assert.equal(order.status, 'NOTPAY');
    assert.equal(order.closedAt, null);
    assert.deepEqual(attempts.map(a => a.status), [ 'PREPAID' ]);
    assert.deepEqual(events, []);
    assert.equal(testEnv.sim.order(outTradeNo)!.tradeState, 'NOTPAY');

    // Retrying once WeChat recovers closes it.
    const retried = await closeRequest(outTradeNo, token).expect(200);
    assert.equal(retried.body.status, 'CLOSED');
  });

  it('answers 503 WECHAT_UNAVAILABLE when WeChat cannot be reached, leaving the order NOTPAY', async () => {
    const created = await createOrder(token).expect(200);
    const outTradeNo = created.body.outTradeNo;
    testEnv.sim.setFault('closeorder', { kind: 'drop', beforeProcessing: true }, 1);

    const res = await closeRequest(outTradeNo, token).expect(503);
    assert.equal(res.body.code, 'WECHAT_UNAVAILABLE');
    const { order, events } = await stored(outTradeNo);
    assert.equal(order.status, 'NOTPAY');
    assert.deepEqual(events, []);
    assert.equal(testEnv.sim.order(outTradeNo)!.tradeState, 'NOTPAY');
  });

  it('a close whose reply was lost is retried: WeChat\'s ORDERCLOSED counts as closed', async () => {
    const created = await createOrder(token).expect(200);
    const outTradeNo = created.body.outTradeNo;
    // WeChat closes the order, the reply is lost.
    testEnv.sim.setFault('closeorder', { kind: 'drop' }, 1);
    await closeRequest(outTradeNo, token).expect(503);
    assert.equal(testEnv.sim.order(outTradeNo)!.tradeState, 'CLOSED');
    assert.equal((await stored(outTradeNo)).order.status, 'NOTPAY');

    const res = await closeRequest(outTradeNo, token).expect(200);
    assert.equal(res.body.status, 'CLOSED');
    assert.equal(testEnv.sim.requests('closeorder').length, 2);
    const { order, events } = await stored(outTradeNo);
    assert.equal(order.status, 'CLOSED');
    assert.deepEqual(events, [[ 'CLOSED', 'client' ]]);
  });

  it('an attempt WeChat never received (ORDERNOTEXIST) counts as closed', async () => {
    testEnv.sim.setFault('unifiedorder', { kind: 'systemerror' });
    await createOrder(token).expect(503);
    testEnv.sim.clearFaults();
    const pending = await app.model.Order.findOne();
    const outTradeNo = pending!.outTradeNo;
    assert.equal(testEnv.sim.order(outTradeNo), undefined);

    const res = await closeRequest(outTradeNo, token).expect(200);
    assert.equal(res.body.status, 'CLOSED');
    const { attempts, events } = await stored(outTradeNo);
    assert.deepEqual(attempts.map(a => a.status), [ 'CLOSED' ]);
    assert.deepEqual(events, [[ 'CLOSED', 'client' ]]);
  });

  it('a close landing while a unified order is in flight wins: the new prepay is closed again, pay answers 409 ORDER_CLOSED', async () => {
    // The first unified order fails, so the attempt stays CREATED and the retry calls WeChat again.
    testEnv.sim.setFault('unifiedorder', { kind: 'systemerror' }, 1);
    const first = await createOrder(token, undefined, 'race-close').expect(503);
    assert.equal(first.body.code, 'WECHAT_BUSY');
    const order = await app.model.Order.findOne();
    // The retry takes effect at WeChat but its reply is late: held back (no delay to guess) until
    // the owner's close has been answered.
    const gate = new ReplyGate(testEnv.sim.url);
    await gate.start();
    try {
      mock(app.config.wechat, 'payBaseUrl', gate.url);
      mock(app.config.wechat, 'timeoutMs', 30_000);
      const unifiedOrderAnswered = gate.hold('/pay/unifiedorder');
      const paying = createOrder(token, undefined, 'race-close').then(res => res); // supertest sends on then()
      await unifiedOrderAnswered;
      assert.equal(testEnv.sim.order(order!.outTradeNo)!.tradeState, 'NOTPAY', 'the unified order took effect at WeChat');
      await closeRequest(order!.outTradeNo, token).expect(200);
      gate.release();
      const paid = await paying;
      assert.equal(paid.status, 409);
      assert.equal(paid.body.code, 'ORDER_CLOSED');
    } finally {
      await gate.stop();
    }

    const { order: after, attempts } = await stored(order!.outTradeNo);
    assert.equal(after.status, 'CLOSED');
    assert.deepEqual(attempts.map(a => a.status), [ 'CLOSED' ]);
    assert.equal(testEnv.sim.order(order!.outTradeNo)!.tradeState, 'CLOSED');
    // The owner's close, then the late unified order's number closed again.
    assert.deepEqual(testEnv.sim.requests().filter(r => r.api === 'unifiedorder' || r.api === 'closeorder').map(r => r.api),
      [ 'unifiedorder', 'unifiedorder', 'closeorder', 'closeorder' ]);
  });

  it('another user\'s order answers 404 ORDER_NOT_FOUND and stays open', async () => {
    const created = await createOrder(token).expect(200);
    const other = await login();
    const res = await closeRequest(created.body.outTradeNo, other.token).expect(404);
    assert.deepEqual(res.body, { code: 'ORDER_NOT_FOUND', message: 'no such order' });
    const { order } = await stored(created.body.outTradeNo);
    assert.equal(order.status, 'NOTPAY');
    assert.equal(testEnv.sim.requests('closeorder').length, 0);
  });

  it('needs a bearer token and a well-formed order number', async () => {
    const created = await createOrder(token).expect(200);
    const anonymous = await app.httpRequest().post(`/payment/orders/${created.body.outTradeNo}/close`).expect(401);
    assert.equal(anonymous.body.code, 'UNAUTHORIZED');
    const malformed = await closeRequest('bad%27no', token).expect(422);
    assert.equal(malformed.body.field, 'outTradeNo');
    assert.equal(testEnv.sim.requests('closeorder').length, 0);
  });

  it('a payment that still arrives for a closed order is recorded and flagged for refund, through the notify route', async () => {
    const created = await createOrder(token).expect(200);
    const outTradeNo = created.body.outTradeNo;
    await closeRequest(outTradeNo, token).expect(200);

    // The payer's payment completes at WeChat as the order is being closed.
    const payment = await testEnv.sim.pay(outTradeNo, { payClosedOrder: true });
    const deliveries = await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });
    assert.equal(deliveries.length, 1);

    const { order, attempts, events } = await stored(outTradeNo);
    assert.equal(order.status, 'CLOSED');
    assert.equal(order.refundRequired, true);
    assert.equal(order.transactionId, null);
    assert.equal(attempts[0].status, 'PAID');
    assert.equal(attempts[0].transactionId, payment.transactionId);
    assert.deepEqual(events, [[ 'CLOSED', 'client' ], [ 'PAID_AFTER_CLOSE', 'notify' ]]);
    const notes = await app.model.PaymentNotification.findAll();
    assert.deepEqual(notes.map(n => n.outcome), [ 'APPLIED' ]);

    // Closing again is still an idempotent 200: the order is closed, its money awaits a refund.
    const again = await closeRequest(outTradeNo, token).expect(200);
    assert.equal(again.body.status, 'CLOSED');
  });
});

describe('a close racing a notification (one lock order: the order row, then its attempts)', () => {
  let token: string;
  beforeEach(async () => {
    await resetWorld();
    ({ token } = await login());
  });
  afterEach(() => { mock.restore(); testEnv.sim.clearFaults(); });

  async function deadlocks(): Promise<number> {
    const [ rows ] = await app.model.query('SHOW GLOBAL STATUS LIKE \'Innodb_deadlocks\'') as [Array<{ Value: string }>, unknown];
    return Number(rows[0].Value);
  }

  /** An order paid (or failed) at the simulator whose notification is held back for the test to send. */
  async function heldNotification(result: 'SUCCESS' | 'FAIL') {
    const outTradeNo = (await createOrder(token).expect(200)).body.outTradeNo as string;
    testEnv.sim.setFault('notify', { kind: 'drop', beforeProcessing: true }, 1);
    await testEnv.sim.pay(outTradeNo, { result });
    return { outTradeNo, xml: buildXml(testEnv.sim.buildNotification(outTradeNo)) };
  }

  const postNotify = (xml: string) => app.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
    .send(xml);

  it('a failed payment\'s notification and the owner\'s close, at once, many times: no deadlock, both answered, the order closed', async () => {
    const before = await deadlocks();
    for (let round = 0; round < 15; round++) {
      const { outTradeNo, xml } = await heldNotification('FAIL');
      const [ close, notify ] = await Promise.all([ closeRequest(outTradeNo, token), postNotify(xml) ]);
      assert.equal(close.status, 200, `round ${round}: ${close.text}`);
      assert.equal(close.body.status, 'CLOSED');
      assert.equal(notify.status, 200, `round ${round}: ${notify.text}`);
      assert.match(notify.text, /SUCCESS/);
      const { order, attempts, events } = await stored(outTradeNo);
      assert.equal(order.status, 'CLOSED');
      assert.deepEqual(attempts.map(a => a.status), [ 'CLOSED' ]);
      assert.equal(attempts[0].errCode, 'NOTENOUGH', 'the failure WeChat reported is kept');
      assert.deepEqual(events, [[ 'CLOSED', 'client' ]]);
    }
    assert.equal(await deadlocks(), before, 'InnoDB detected no deadlock');
  });

  it('a payment\'s notification and the owner\'s close, at once, many times: no deadlock, the payment is never lost', async () => {
    const before = await deadlocks();
    for (let round = 0; round < 15; round++) {
      const { outTradeNo, xml } = await heldNotification('SUCCESS');
      const [ close, notify ] = await Promise.all([ closeRequest(outTradeNo, token), postNotify(xml) ]);
      assert.equal(close.status, 409, `round ${round}: ${close.text}`);
      assert.equal(close.body.code, 'ORDER_ALREADY_PAID');
      assert.equal(notify.status, 200, `round ${round}: ${notify.text}`);
      assert.match(notify.text, /SUCCESS/);
      const { order, events } = await stored(outTradeNo);
      assert.equal(order.status, 'SUCCESS');
      assert.equal(order.refundRequired, false);
      assert.deepEqual(events.map(([ type ]) => type), [ 'PAID' ]);
    }
    assert.equal(await deadlocks(), before, 'InnoDB detected no deadlock');
  });
});
