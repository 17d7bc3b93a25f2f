import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { buildXml } from '../../../lib/wechatpay';
import { closedUrl } from '../../support/closedPort';
import { testEnv } from '../../support/env';
import { createOrder, login, resetWorld } from '../../support/fixtures';
import { adminHeader, paidOrder, requestRefund, useManualRefunds } from '../../support/refunds';

const get = (url: string) => app.httpRequest().get(url).set(adminHeader());
const post = (url: string) => app.httpRequest().post(url).set(adminHeader());

describe('admin orders: GET /admin/orders, GET /admin/orders/:outTradeNo, query, close, refund query', () => {
  let token: string;
  let openid: string;
  beforeEach(async () => {
    await resetWorld();
    ({ token, openid } = await login());
  });
  afterEach(() => {
    mock.restore();
    testEnv.sim.clearFaults();
  });

  describe('search', () => {
    it('lists newest first, with the owner\'s openid; each filter narrows it', async () => {
      const paid = await paidOrder(token);
      const unpaid = (await createOrder(token, [{ productId: 2, quantity: 1 }]).expect(200)).body.outTradeNo;
      const other = await login();
      const others = (await createOrder(other.token).expect(200)).body.outTradeNo;

      const all = await get('/admin/orders').expect(200);
      assert.deepEqual(all.body.orders.map((o: any) => o.outTradeNo), [ others, unpaid, paid.outTradeNo ]);
      assert.equal(all.body.nextCursor, null);
      const first = all.body.orders[2];
      assert.deepEqual({ ...first, createdAt: undefined, paidAt: undefined }, {
        outTradeNo: paid.outTradeNo, status: 'SUCCESS', totalFee: 1200, refundedFee: 0, body: first.body, appid: app.config.wechat.appId,
        tradeType: 'JSAPI', transactionId: paid.transactionId, openid, createdAt: undefined, paidAt: undefined,
      });
      assert.ok(Date.parse(first.paidAt) > 0);

      const only = async (query: Record<string, string>) =>
        (await get('/admin/orders').query(query).expect(200)).body.orders.map((o: any) => o.outTradeNo);
      assert.deepEqual(await only({ outTradeNo: paid.outTradeNo }), [ paid.outTradeNo ]);
      assert.deepEqual(await only({ transactionId: paid.transactionId }), [ paid.outTradeNo ]);
      assert.deepEqual(await only({ openid }), [ unpaid, paid.outTradeNo ]);
      assert.deepEqual(await only({ openid: other.openid }), [ others ]);
      assert.deepEqual(await only({ status: 'NOTPAY' }), [ others, unpaid ]);
      assert.deepEqual(await only({ status: 'SUCCESS', openid }), [ paid.outTradeNo ]);
      assert.deepEqual(await only({ tradeType: 'JSAPI' }), [ others, unpaid, paid.outTradeNo ]);
      assert.deepEqual(await only({ tradeType: 'NATIVE' }), []);
      assert.deepEqual(await only({ outTradeNo: 'P0000000000000000000000000000' }), []);
    });

    it('finds an order by the number of a later payment attempt too', async () => {
      const { outTradeNo } = (await createOrder(token).expect(200)).body;
      const order = (await app.model.Order.findOne({ where: { outTradeNo } }))!;
      await app.model.PaymentAttempt.update({ outTradeNo: 'P1111111111111111111111111111' }, { where: { orderId: order.id } });
      const res = await get('/admin/orders?outTradeNo=P1111111111111111111111111111').expect(200);
      assert.deepEqual(res.body.orders.map((o: any) => o.outTradeNo), [ outTradeNo ]);
    });

    it('date range in Beijing days: an order made at 23:59:59 Beijing is on that day, one at 00:00 on the next', async () => {
      const a = (await createOrder(token).expect(200)).body.outTradeNo;
      const b = (await createOrder(token).expect(200)).body.outTradeNo;
      // 2026-11-20 23:59:59.999 and 2026-11-21 00:00:00.000 in Beijing.
      await app.model.query('UPDATE orders SET created_at = ? WHERE out_trade_no = ?', { replacements: [ new Date('2026-11-20T15:59:59.999Z'), a ] });
      await app.model.query('UPDATE orders SET created_at = ? WHERE out_trade_no = ?', { replacements: [ new Date('2026-11-20T16:00:00.000Z'), b ] });
      const only = async (query: Record<string, string>) =>
        (await get('/admin/orders').query(query).expect(200)).body.orders.map((o: any) => o.outTradeNo);
      assert.deepEqual(await only({ from: '2026-11-20', to: '2026-11-20' }), [ a ]);
      assert.deepEqual(await only({ from: '2026-11-21', to: '2026-11-21' }), [ b ]);
      assert.deepEqual(await only({ from: '2026-11-20', to: '2026-11-21' }), [ b, a ]);
      assert.deepEqual(await only({ from: '2026-11-22' }), []);
      assert.deepEqual(await only({ to: '2026-11-20' }), [ a ]);
    });

    it('cursor pagination walks every order once, newest first', async () => {
      const made: string[] = [];
      for (let i = 0; i < 5; i++) made.unshift((await createOrder(token).expect(200)).body.outTradeNo);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: { body: { orders: Array<{ outTradeNo: string }>; nextCursor: string | null } } =
          await get('/admin/orders').query({ limit: '2', ...(cursor ? { cursor } : {}) }).expect(200);
        assert.ok(res.body.orders.length <= 2);
        seen.push(...res.body.orders.map((o: any) => o.outTradeNo));
        cursor = res.body.nextCursor;
        pages++;
      } while (cursor);
      assert.deepEqual(seen, made);
      assert.equal(pages, 3);
    });

    it('refuses bad filters with 422 naming the field', async () => {
      const cases: Array<[ Record<string, string>, string ]> = [
        [{ status: 'PAID' }, 'status' ], [{ tradeType: 'CASH' }, 'tradeType' ], [{ from: '2026-02-30' }, 'from' ],
        [{ to: 'yesterday' }, 'to' ], [{ from: '2026-11-21', to: '2026-11-20' }, 'to' ], [{ cursor: 'bm9wZQ' }, 'cursor' ],
        [{ cursor: 'x y' }, 'cursor' ], [{ limit: '0' }, 'limit' ], [{ limit: '101' }, 'limit' ], [{ limit: '1.5' }, 'limit' ],
        [{ outTradeNo: 'bad no' }, 'outTradeNo' ], [{ openid: 'a b' }, 'openid' ], [{ transactionId: '42-00' }, 'transactionId' ],
      ];
      for (const [ query, field ] of cases) {
        const res = await get('/admin/orders').query(query).expect(422);
        assert.equal(res.body.code, 'VALIDATION_FAILED', JSON.stringify(query));
        assert.equal(res.body.field, field, JSON.stringify(query));
      }
    });

    it('needs the admin credential: none, a user\'s token, a wrong one are 401', async () => {
      await app.httpRequest().get('/admin/orders').expect(401);
      await app.httpRequest().get('/admin/orders').set('Authorization', `Bearer ${token}`)
        .expect(401);
      await app.httpRequest().get('/admin/orders').set('Authorization', 'Bearer wrong')
        .expect(401);
    });
  });

  describe('detail', () => {
    it('an order paid and partly refunded: amounts, payments, refunds and a timeline with the notifications and events', async () => {
      const paid = await paidOrder(token);
      await requestRefund(paid.outTradeNo, { amount: 300, reason: 'broken cup' }, 'k1').expect(201);
      await testEnv.sim.waitForDelivery(paid.outTradeNo, { kind: 'refund', acknowledged: true });
      // The payment's notification again (a duplicate), and a forged one naming the order.
      await app.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
        .send(buildXml(testEnv.sim.buildNotification(paid.outTradeNo)))
        .expect(200);
      await app.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
        .send(buildXml({ ...testEnv.sim.buildNotification(paid.outTradeNo), sign: 'FORGED' }))
        .expect(200);

      const res = await get(`/admin/orders/${paid.outTradeNo}`).expect(200);
      const detail = res.body;
      assert.equal(detail.order.outTradeNo, paid.outTradeNo);
      assert.equal(detail.order.openid, openid);
      assert.equal(detail.order.refundedFee, 300);
      assert.deepEqual(detail.amounts, { paid: 1200, refunded: 300, refundable: 900 });
      assert.equal(detail.payments.length, 1);
      // No coupons: WeChat reported the cash only.
      const [ payment ] = detail.payments;
      assert.deepEqual([ payment.cashFee, payment.couponFee, payment.settlementTotalFee, payment.coupons ], [ 1200, null, null, []]);
      assert.equal(detail.refunds.length, 1);
      assert.equal(detail.refunds[0].status, 'SUCCESS');

      const kinds = detail.timeline.map((e: any) => e.kind);
      assert.equal(kinds[0], 'CREATED');
      const sorted = [ ...detail.timeline ].sort((x: any, y: any) => x.at.localeCompare(y.at));
      assert.deepEqual(detail.timeline, sorted, 'in time order');
      const notifications = detail.timeline.filter((e: any) => e.kind === 'NOTIFICATION').map((e: any) => [ e.detail.kind, e.detail.outcome ]);
      assert.deepEqual(notifications, [[ 'pay', 'APPLIED' ], [ 'refund', 'APPLIED' ], [ 'pay', 'DUPLICATE' ], [ 'pay', 'REJECTED' ]]);
      const events = detail.timeline.filter((e: any) => e.kind === 'EVENT').map((e: any) => e.detail.type);
      assert.ok(events.includes('PAID'), events.join());
      assert.ok(events.includes('REFUND_REQUESTED'), events.join());
      assert.deepEqual(detail.timeline.filter((e: any) => e.kind === 'ATTEMPT').map((e: any) => e.detail.status), [ 'PAID' ]);
      assert.deepEqual(detail.timeline.filter((e: any) => e.kind === 'REFUND').map((e: any) => [ e.detail.amount, e.detail.status ]), [[ 300, 'SUCCESS' ]]);
      // Raw notification bodies stay in the database.
      assert.ok(!JSON.stringify(detail).includes('<xml>'));
    });

    it('an order paid partly by coupons: what its payment was made of, as WeChat reported it, here and in the refund list', async () => {
      const { outTradeNo } = (await createOrder(token).expect(200)).body;
      const delivered = testEnv.sim.waitForDelivery(outTradeNo, { kind: 'payment', acknowledged: true });
      await testEnv.sim.pay(outTradeNo, { coupons: [{ fee: 200, type: 'CASH', id: 'C100' }, { fee: 100, type: 'NO_CASH', id: 'C200' }] });
      await delivered;

      const detail = (await get(`/admin/orders/${outTradeNo}`).expect(200)).body;
      // The order's amount is what it cost, whoever paid it: refundable in full.
      assert.deepEqual(detail.amounts, { paid: 1200, refunded: 0, refundable: 1200 });
      const made = (p: any) => [ p.cashFee, p.couponFee, p.settlementTotalFee, p.coupons ];
      const expected = [ 900, 300, 1100, [{ id: 'C100', type: 'CASH', fee: 200 }, { id: 'C200', type: 'NO_CASH', fee: 100 }]];
      assert.deepEqual(detail.payments.map(made), [ expected ]);
      assert.deepEqual((await get(`/admin/orders/${outTradeNo}/refunds`).expect(200)).body.payments.map(made), [ expected ]);
    });

    it('a paid attempt whose stored coupon list cannot be read still shows the order and its refunds, without the list', async () => {
      const { outTradeNo } = (await createOrder(token).expect(200)).body;
      const delivered = testEnv.sim.waitForDelivery(outTradeNo, { kind: 'payment', acknowledged: true });
      await testEnv.sim.pay(outTradeNo, { coupons: [{ fee: 200, type: 'CASH', id: 'C100' }] });
      await delivered;
      const order = (await app.model.Order.findOne({ where: { outTradeNo } }))!;
      await app.model.PaymentAttempt.update({ coupons: '[{"id":' }, { where: { id: order.paidAttemptId! } });

      const detail = (await get(`/admin/orders/${outTradeNo}`).expect(200)).body;
      assert.deepEqual(detail.payments.map((p: any) => [ p.cashFee, p.couponFee, p.coupons, p.refundableFee ]), [[ 1000, 200, [], 1200 ]]);
      // The column keeps what was stored.
      assert.equal((await app.model.PaymentAttempt.findByPk(order.paidAttemptId!))!.coupons, '[{"id":');
    });

    it('404 for an unknown order, 422 for a malformed number', async () => {
      assert.equal((await get('/admin/orders/P0000000000000000000000000000').expect(404)).body.code, 'ORDER_NOT_FOUND');
      assert.equal((await get('/admin/orders/bad%20no').expect(422)).body.field, 'outTradeNo');
    });
  });

  describe('query WeChat now', () => {
    it('finds a payment whose notification never came, applies it and records the query on the timeline', async () => {
      mock(app.config.wechat, 'notifyUrl', await closedUrl('/payment/notify'));
      const { outTradeNo } = (await createOrder(token).expect(200)).body;
      await testEnv.sim.pay(outTradeNo);
      assert.equal((await app.model.Order.findOne({ where: { outTradeNo } }))!.status, 'NOTPAY');

      const res = await post(`/admin/orders/${outTradeNo}/query`).expect(200);
      assert.equal(res.body.order.status, 'SUCCESS');
      assert.equal((await app.model.Order.findOne({ where: { outTradeNo } }))!.status, 'SUCCESS');
      const queried = res.body.timeline.filter((e: any) => e.kind === 'EVENT' && e.detail.type === 'QUERIED');
      assert.equal(queried.length, 1);
      assert.deepEqual([ queried[0].detail.source, queried[0].detail.before, queried[0].detail.after ], [ 'admin', 'NOTPAY', 'SUCCESS' ]);
      assert.equal(testEnv.sim.requests('orderquery').length, 1);
    });

    it('WeChat busy: 503 WECHAT_BUSY, the failed query on the timeline, the order unchanged', async () => {
      const { outTradeNo } = (await createOrder(token).expect(200)).body;
      testEnv.sim.setFault('orderquery', { kind: 'systemerror' });
      const res = await post(`/admin/orders/${outTradeNo}/query`).expect(503);
      assert.equal(res.body.code, 'WECHAT_BUSY');
      const order = (await app.model.Order.findOne({ where: { outTradeNo } }))!;
      assert.equal(order.status, 'NOTPAY');
      const [ event ] = await app.model.OrderEvent.findAll({ where: { orderId: order.id, type: 'QUERIED' } });
      assert.match(JSON.parse(event.detail!).error, /SYSTEMERROR/);
    });

    it('404 for an unknown order', async () => {
      await post('/admin/orders/P0000000000000000000000000000/query').expect(404);
    });
  });

  describe('close', () => {
    it('closes an unpaid order at WeChat and here; the CLOSED event says admin', async () => {
      const { outTradeNo } = (await createOrder(token).expect(200)).body;
      const res = await post(`/admin/orders/${outTradeNo}/close`).expect(200);
      assert.equal(res.body.order.status, 'CLOSED');
      assert.ok(res.body.order.closedAt);
      assert.equal(testEnv.sim.requests('closeorder').length, 1);
      const closed = res.body.timeline.find((e: any) => e.kind === 'EVENT' && e.detail.type === 'CLOSED');
      assert.equal(closed.detail.source, 'admin');
      // Again: answered as it is, WeChat not asked twice.
      assert.equal((await post(`/admin/orders/${outTradeNo}/close`).expect(200)).body.order.status, 'CLOSED');
      assert.equal(testEnv.sim.requests('closeorder').length, 1);
    });

    it('a paid order: 409 ORDER_ALREADY_PAID, still paid', async () => {
      const { outTradeNo } = await paidOrder(token);
      assert.equal((await post(`/admin/orders/${outTradeNo}/close`).expect(409)).body.code, 'ORDER_ALREADY_PAID');
      assert.equal((await app.model.Order.findOne({ where: { outTradeNo } }))!.status, 'SUCCESS');
    });

    it('WeChat unreachable: 503, the order stays NOTPAY', async () => {
      const { outTradeNo } = (await createOrder(token).expect(200)).body;
      testEnv.sim.setFault('closeorder', { kind: 'systemerror' });
      await post(`/admin/orders/${outTradeNo}/close`).expect(503);
      assert.equal((await app.model.Order.findOne({ where: { outTradeNo } }))!.status, 'NOTPAY');
    });

    it('404 for an unknown order', async () => {
      await post('/admin/orders/P0000000000000000000000000000/close').expect(404);
    });
  });
});

describe('admin refund query: POST /admin/refunds/:outRefundNo/query', () => {
  const { manual, user } = useManualRefunds();

  it('a PROCESSING refund WeChat has finished: queried, SUCCESS applied, recorded on the timeline', async () => {
    const { outTradeNo } = await paidOrder(user.token, manual.sim);
    const created = await requestRefund(outTradeNo, { amount: 200, reason: 'r' }).expect(201);
    const { outRefundNo } = created.body;
    manual.sim.completeRefund(outRefundNo, 'SUCCESS');

    const res = await post(`/admin/refunds/${outRefundNo}/query`).expect(200);
    assert.equal(res.body.queried, true);
    assert.equal(res.body.refund.status, 'SUCCESS');
    assert.equal((await app.model.Refund.findOne({ where: { outRefundNo } }))!.status, 'SUCCESS');
    const detail = await get(`/admin/orders/${outTradeNo}`).expect(200);
    assert.deepEqual(detail.body.amounts, { paid: 1200, refunded: 200, refundable: 1000 });
    assert.ok(detail.body.timeline.some((e: any) => e.detail.type === 'REFUND_QUERIED' && e.detail.outRefundNo === outRefundNo));

    // Final now: answered as it is, WeChat not asked again.
    const queries = manual.sim.requests('refundquery').length;
    const again = await post(`/admin/refunds/${outRefundNo}/query`).expect(200);
    assert.equal(again.body.queried, false);
    assert.equal(manual.sim.requests('refundquery').length, queries);
  });

  it('still PROCESSING at WeChat: stays PROCESSING', async () => {
    const { outTradeNo } = await paidOrder(user.token, manual.sim);
    const { outRefundNo } = (await requestRefund(outTradeNo, { amount: 200, reason: 'r' }).expect(201)).body;
    const res = await post(`/admin/refunds/${outRefundNo}/query`).expect(200);
    assert.deepEqual([ res.body.queried, res.body.refund.status ], [ true, 'PROCESSING' ]);
  });

  it('WeChat busy: 503, the refund unchanged; unknown refund 404; malformed number 422', async () => {
    const { outTradeNo } = await paidOrder(user.token, manual.sim);
    const { outRefundNo } = (await requestRefund(outTradeNo, { amount: 200, reason: 'r' }).expect(201)).body;
    manual.sim.setFault('refundquery', { kind: 'systemerror' });
    assert.equal((await post(`/admin/refunds/${outRefundNo}/query`).expect(503)).body.code, 'WECHAT_BUSY');
    manual.sim.clearFaults();
    assert.equal((await app.model.Refund.findOne({ where: { outRefundNo } }))!.status, 'PROCESSING');
    assert.equal((await post('/admin/refunds/R0000000000000000/query').expect(404)).body.code, 'REFUND_NOT_FOUND');
    assert.equal((await post('/admin/refunds/bad%20no/query').expect(422)).body.field, 'outRefundNo');
  });
});
