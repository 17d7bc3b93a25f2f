import assert from 'node:assert/strict';
import { toBeijingCompact, verifySign, WechatApiError } from '../../lib/wechatpay';
import { WechatSimulator } from '../../simulator';
import { closedUrl } from '../support/closedPort';
import { DEV, OPENID, orderRequest, payClient, rawCall, rawOrderParams, signedXml, TestClock } from './helpers';

/** A notify_url whose connections are refused (set before the tests). */
let NOTIFY_URL = '';
const COMMON = [ 'appid', 'mch_id', 'nonce_str', 'result_code', 'return_code', 'return_msg', 'sign' ];

async function apiError(promise: Promise<unknown>): Promise<WechatApiError> {
  const err = await promise.then(() => undefined, e => e);
  assert.ok(err instanceof WechatApiError, `expected a WechatApiError, got ${err}`);
  return err;
}

describe('simulator: order query and close order', () => {
  const clock = new TestClock();
  const sim = new WechatSimulator({
    now: clock.now,
    apps: [{ appId: DEV.appId, appSecret: DEV.appSecret }, { appId: 'wx0000000000000002', appSecret: 'second' }],
    merchants: [
      { mchId: DEV.mchId, apiKey: DEV.apiKey, appIds: [ DEV.appId, 'wx0000000000000002' ] },
      { mchId: '1900000002', apiKey: 'otherkey000000000000000000000002', appIds: [ DEV.appId ] },
    ],
  });
  const client = () => payClient(sim);
  before(async () => {
    NOTIFY_URL = await closedUrl('/payment/notify');
    await sim.start();
  });
  after(() => sim.stop());
  beforeEach(() => sim.reset());

  async function placeOrder(overrides: Record<string, unknown> = {}) {
    const req = orderRequest(NOTIFY_URL, overrides);
    await client().unifiedOrder(req);
    return req.out_trade_no;
  }

  describe('orderquery', () => {
    it('an unpaid order: NOTPAY with only out_trade_no, attach, trade_state and trade_state_desc', async () => {
      const no = await placeOrder({ attach: 'cart=7' });
      const reply = await client().orderQuery({ out_trade_no: no });
      assert.deepEqual(Object.keys(reply).sort(), [ ...COMMON, 'attach', 'out_trade_no', 'trade_state', 'trade_state_desc' ].sort());
      assert.equal(reply.trade_state, 'NOTPAY');
      assert.equal(reply.out_trade_no, no);
      assert.equal(reply.attach, 'cart=7');
      assert.ok(verifySign(reply, DEV.apiKey, 'HMAC-SHA256'));
    });

    it('a paid order: SUCCESS with the payment details', async () => {
      const no = await placeOrder({ total_fee: 3250 });
      const payment = await sim.pay(no, { bankType: 'CMB_DEBIT' });
      const reply = await client().orderQuery({ out_trade_no: no });
      assert.equal(reply.trade_state, 'SUCCESS');
      assert.equal(reply.transaction_id, payment.transactionId);
      assert.match(reply.transaction_id, /^4200\d{24}$/);
      assert.equal(reply.total_fee, '3250');
      assert.equal(reply.cash_fee, '3250');
      assert.equal(reply.fee_type, 'CNY');
      assert.equal(reply.time_end, toBeijingCompact(clock.now()));
      assert.equal(reply.time_end, payment.timeEnd);
      assert.equal(reply.bank_type, 'CMB_DEBIT');
      assert.equal(reply.openid, OPENID);
      assert.equal(reply.trade_type, 'JSAPI');
      assert.equal(reply.out_trade_no, no);
    });

    it('by transaction_id finds the same paid order', async () => {
      const no = await placeOrder();
      const payment = await sim.pay(no);
      const reply = await client().orderQuery({ transaction_id: payment.transactionId });
      assert.equal(reply.out_trade_no, no);
      assert.equal(reply.trade_state, 'SUCCESS');
    });

    it('transaction_id wins over out_trade_no', async () => {
      const paid = await placeOrder();
      const other = await placeOrder();
      const payment = await sim.pay(paid);
      const reply = await client().orderQuery({ transaction_id: payment.transactionId, out_trade_no: other });
      assert.equal(reply.out_trade_no, paid);
    });

    it('a failed payment: PAYERROR', async () => {
      const no = await placeOrder();
      await sim.pay(no, { result: 'FAIL' });
      const reply = await client().orderQuery({ out_trade_no: no });
      assert.equal(reply.trade_state, 'PAYERROR');
      assert.ok(!('transaction_id' in reply));
    });

    it('a closed order: CLOSED', async () => {
      const no = await placeOrder();
      await client().closeOrder(no);
      const reply = await client().orderQuery({ out_trade_no: no });
      assert.equal(reply.trade_state, 'CLOSED');
      assert.equal(reply.trade_state_desc, '订单已关闭');
    });

    it('an order past its time_expire reads CLOSED', async () => {
      const no = await placeOrder({ time_expire: toBeijingCompact(new Date(clock.now().getTime() + 5 * 60_000)) });
      clock.advance(5 * 60_000 - 1);
      assert.equal((await client().orderQuery({ out_trade_no: no })).trade_state, 'NOTPAY');
      clock.advance(1);
      assert.equal((await client().orderQuery({ out_trade_no: no })).trade_state, 'CLOSED');
    });

    it('an unknown out_trade_no gets ORDERNOTEXIST', async () => {
      const err = await apiError(client().orderQuery({ out_trade_no: 'T-never-placed' }));
      assert.equal(err.kind, 'result');
      assert.equal(err.errCode, 'ORDERNOTEXIST');
    });

    it('an unknown transaction_id gets ORDERNOTEXIST', async () => {
      const err = await apiError(client().orderQuery({ transaction_id: '4200000000202601150000000000' }));
      assert.equal(err.errCode, 'ORDERNOTEXIST');
    });

    it('another merchant\'s order or transaction gets ORDERNOTEXIST', async () => {
      const no = await placeOrder();
      const payment = await sim.pay(no);
      const other = payClient(sim, { mchId: '1900000002', apiKey: 'otherkey000000000000000000000002' });
      assert.equal((await apiError(other.orderQuery({ out_trade_no: no }))).errCode, 'ORDERNOTEXIST');
      assert.equal((await apiError(other.orderQuery({ transaction_id: payment.transactionId }))).errCode, 'ORDERNOTEXIST');
    });

    it('an order of another app of the same merchant gets ORDERNOTEXIST', async () => {
      const no = await placeOrder();
      const err = await apiError(payClient(sim, { appId: 'wx0000000000000002' }).orderQuery({ out_trade_no: no }));
      assert.equal(err.errCode, 'ORDERNOTEXIST');
    });

    it('neither out_trade_no nor transaction_id gets LACK_PARAMS', async () => {
      const err = await apiError(client().orderQuery({}));
      assert.equal(err.errCode, 'LACK_PARAMS');
    });

    it('checks the envelope like every API: bad sign, GET, unknown merchant', async () => {
      const params = { appid: DEV.appId, mch_id: DEV.mchId, nonce_str: 'n1', out_trade_no: 'x' };
      assert.equal((await rawCall(sim, '/pay/orderquery', signedXml(params, { key: 'k'.repeat(32) }))).fields.return_msg, '签名错误');
      assert.equal((await rawCall(sim, '/pay/orderquery', undefined, 'GET')).fields.return_msg, '请使用post方法');
      const unknown = await rawCall(sim, '/pay/orderquery', signedXml({ ...params, mch_id: '1900000999' }));
      assert.equal(unknown.fields.return_msg, 'MCHID不存在');
    });

    it('replies in the request\'s sign type', async () => {
      const no = await placeOrder();
      const res = await rawCall(sim, '/pay/orderquery', signedXml({ appid: DEV.appId, mch_id: DEV.mchId, nonce_str: 'n2', out_trade_no: no }));
      assert.ok(verifySign(res.fields, DEV.apiKey, 'MD5'));
    });
  });

  describe('closeorder', () => {
    it('closes an unpaid order, which can then not be paid', async () => {
      const no = await placeOrder();
      const reply = await client().closeOrder(no);
      assert.equal(reply.result_code, 'SUCCESS');
      assert.ok(verifySign(reply, DEV.apiKey, 'HMAC-SHA256'));
      const order = sim.order(no)!;
      assert.equal(order.tradeState, 'CLOSED');
      assert.deepEqual(order.closedAt, clock.now());
      await assert.rejects(sim.pay(no), /closed/);
    });

    it('closes an order whose payment failed', async () => {
      const no = await placeOrder();
      await sim.pay(no, { result: 'FAIL' });
      await client().closeOrder(no);
      assert.equal(sim.order(no)!.tradeState, 'CLOSED');
    });

    it('a closed order again gets ORDERCLOSED', async () => {
      const no = await placeOrder();
      await client().closeOrder(no);
      const err = await apiError(client().closeOrder(no));
      assert.equal(err.kind, 'result');
      assert.equal(err.errCode, 'ORDERCLOSED');
    });

    it('a paid order gets ORDERPAID and stays paid', async () => {
      const no = await placeOrder();
      await sim.pay(no);
      const err = await apiError(client().closeOrder(no));
      assert.equal(err.errCode, 'ORDERPAID');
      assert.equal(sim.order(no)!.tradeState, 'SUCCESS');
    });

    it('an unknown order gets ORDERNOTEXIST', async () => {
      const err = await apiError(client().closeOrder('T-never-placed'));
      assert.equal(err.errCode, 'ORDERNOTEXIST');
    });

    it('another merchant\'s order gets ORDERNOTEXIST and stays open', async () => {
      const no = await placeOrder();
      const other = payClient(sim, { mchId: '1900000002', apiKey: 'otherkey000000000000000000000002' });
      assert.equal((await apiError(other.closeOrder(no))).errCode, 'ORDERNOTEXIST');
      assert.equal(sim.order(no)!.tradeState, 'NOTPAY');
    });

    it('a missing out_trade_no gets LACK_PARAMS', async () => {
      const res = await rawCall(sim, '/pay/closeorder', signedXml({ appid: DEV.appId, mch_id: DEV.mchId, nonce_str: 'n3' }));
      assert.equal(res.fields.err_code, 'LACK_PARAMS');
    });

    it('a bad signature closes nothing', async () => {
      const no = await placeOrder();
      const res = await rawCall(sim, '/pay/closeorder', signedXml(
        rawOrderParams({ out_trade_no: no, body: undefined }), { key: 'k'.repeat(32), signType: 'MD5' }));
      assert.equal(res.fields.return_msg, '签名错误');
      assert.equal(sim.order(no)!.tradeState, 'NOTPAY');
    });
  });
});
