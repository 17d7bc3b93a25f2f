import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { parseXml } from '../../../lib/wechatpay';
import { paymentAmountsOf } from '../../../app/domain/settlementRules';
import { closedUrl } from '../../support/closedPort';
import { testEnv } from '../../support/env';
import { createOrder, login, resetWorld } from '../../support/fixtures';

/** The paid attempt's amounts as stored. */
async function paidAttempt(outTradeNo: string) {
  const order = await app.model.Order.findOne({ where: { outTradeNo } });
  assert.equal(order!.status, 'SUCCESS');
  const a = (await app.model.PaymentAttempt.findByPk(order!.paidAttemptId!))!;
  return { cashFee: a.cashFee, couponFee: a.couponFee, couponCount: a.couponCount, settlementTotalFee: a.settlementTotalFee, coupons: a.coupons && JSON.parse(a.coupons) };
}

describe('payments with coupons (cash_fee, coupon_fee, coupon_$n, settlement_total_fee)', () => {
  let token: string;
  beforeEach(async () => {
    await resetWorld();
    ({ token } = await login());
  });
  afterEach(() => { mock.restore(); testEnv.sim.clearFaults(); });

  it('a notification with two coupons: the order is matched on total_fee and paid; cash, coupons and settled amount stored', async () => {
    const { outTradeNo } = (await createOrder(token).expect(200)).body; // 1200 fen
    await testEnv.sim.pay(outTradeNo, { coupons: [{ fee: 200, type: 'CASH', id: '10001' }, { fee: 100, type: 'NO_CASH', id: '10002' }] });
    const [ delivery ] = await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });
    // What WeChat sent: total_fee is the order's amount, the coupons are extra fields.
    const sent = parseXml(delivery.body);
    assert.equal(sent.total_fee, '1200');
    assert.equal(sent.cash_fee, '900');
    assert.equal(sent.coupon_fee, '300');
    assert.equal(sent.coupon_count, '2');
    assert.equal(sent.settlement_total_fee, '1100');
    assert.deepEqual([ sent.coupon_type_0, sent.coupon_id_0, sent.coupon_fee_0 ], [ 'CASH', '10001', '200' ]);

    assert.deepEqual(await paidAttempt(outTradeNo), {
      cashFee: 900, couponFee: 300, couponCount: 2, settlementTotalFee: 1100,
      coupons: [{ id: '10001', type: 'CASH', fee: 200 }, { id: '10002', type: 'NO_CASH', fee: 100 }],
    });
  });

  it('a payment without coupons stores cash_fee = total_fee and no coupons', async () => {
    const { outTradeNo } = (await createOrder(token).expect(200)).body;
    await testEnv.sim.pay(outTradeNo);
    await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });
    assert.deepEqual(await paidAttempt(outTradeNo), { cashFee: 1200, couponFee: null, couponCount: null, settlementTotalFee: null, coupons: null });
  });

  it('a payment learned by order query stores the coupons too', async () => {
    mock(app.config.wechat, 'notifyUrl', await closedUrl('/payment/notify'));
    const { outTradeNo } = (await createOrder(token).expect(200)).body;
    mock.restore();
    await testEnv.sim.pay(outTradeNo, { coupons: [{ fee: 50, id: '777' }] });
    const res = await app.httpRequest().get(`/payment/orders/${outTradeNo}`).set('Authorization', `Bearer ${token}`)
      .expect(200);
    assert.equal(res.body.status, 'SUCCESS');
    assert.equal(testEnv.sim.requests('orderquery').length, 1);
    assert.deepEqual(await paidAttempt(outTradeNo), {
      cashFee: 1150, couponFee: 50, couponCount: 1, settlementTotalFee: 1200, coupons: [{ id: '777', type: 'CASH', fee: 50 }],
    });
  });

  it('a notification whose total_fee is the cash paid, not the order\'s amount, is refused', async () => {
    const { outTradeNo } = (await createOrder(token).expect(200)).body;
    testEnv.sim.setFault('notify', { kind: 'drop', beforeProcessing: true });
    await testEnv.sim.pay(outTradeNo, { coupons: [{ fee: 200 }] });
    // The drop stays armed (afterEach clears it): WeChat's own retries, 15 ms apart at the tests'
    // retry scale, would otherwise deliver the genuine notification before the test's copy.
    const [ reply ] = await testEnv.sim.sendNotification(outTradeNo, { copies: 1, mutate: f => ({ ...f, total_fee: f.cash_fee }) });
    assert.equal(reply.acknowledged, false);
    const order = await app.model.Order.findOne({ where: { outTradeNo } });
    assert.equal(order!.status, 'NOTPAY');
  });

  it('malformed coupon fields do not refuse a payment whose total_fee matches: kept as null or left out', async () => {
    const { outTradeNo } = (await createOrder(token).expect(200)).body;
    testEnv.sim.setFault('notify', { kind: 'drop', beforeProcessing: true });
    await testEnv.sim.pay(outTradeNo, { coupons: [{ fee: 200, id: '1' }] });
    // The drop stays armed, as above: the test's copy is the one delivered.
    const [ reply ] = await testEnv.sim.sendNotification(outTradeNo, { copies: 1, mutate: f => ({ ...f, coupon_fee: '-1', coupon_fee_0: 'x', cash_fee: '1.5' }) });
    assert.equal(reply.acknowledged, true);
    assert.deepEqual(await paidAttempt(outTradeNo), { cashFee: null, couponFee: null, couponCount: 1, settlementTotalFee: 1200, coupons: null });
  });

  it('reads coupon_$n only below coupon_count, from 0', () => {
    assert.deepEqual(paymentAmountsOf({
      cash_fee: '10', coupon_fee: '5', coupon_count: '1', coupon_fee_0: '5', coupon_id_0: 'A', coupon_type_0: 'CASH', coupon_fee_1: '9', coupon_id_1: 'B',
    }), { cashFee: 10, couponFee: 5, couponCount: 1, settlementTotalFee: null, coupons: [{ id: 'A', type: 'CASH', fee: 5 }] });
  });

  it('the simulator\'s payer refuses coupons that pay everything or are malformed', async () => {
    const { outTradeNo } = (await createOrder(token).expect(200)).body;
    await assert.rejects(testEnv.sim.pay(outTradeNo, { coupons: [{ fee: 1200 }] }), /at least 1 fen/);
    await assert.rejects(testEnv.sim.pay(outTradeNo, { coupons: [{ fee: 0 }] }), /positive/);
    await assert.rejects(testEnv.sim.pay(outTradeNo, { coupons: [{ fee: 1, type: 'GIFT' as never }] }), /CASH or NO_CASH/);
    assert.equal(testEnv.sim.order(outTradeNo)!.tradeState, 'NOTPAY');
  });
});
