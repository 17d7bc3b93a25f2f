import assert from 'node:assert/strict';
import { httpRequest, toBeijingCompact } from '../../lib/wechatpay';
import { DEV_CREDENTIALS, PREPAY_TTL_MS, WechatSimulator } from '../../simulator';
import { jsonCall, loginClient, MerchantServer, useSimulatorWithMerchant, orderRequest, payClient, TestClock } from './helpers';

describe('simulator: payer endpoints and console', () => {
  const clock = new TestClock();
  const sim = new WechatSimulator({ now: clock.now, retryScale: 0.001, notifyTimeoutMs: 500 });
  const world = useSimulatorWithMerchant(sim);
  let merchant: MerchantServer;
  before(() => { merchant = world.merchant; });

  async function placeOrder(overrides: Record<string, unknown> = {}) {
    const req = orderRequest(merchant.url, overrides);
    await payClient(sim).unifiedOrder(req);
    return req.out_trade_no;
  }

  async function page(): Promise<string> {
    const res = await httpRequest({ method: 'GET', url: `${sim.url}/simulator/`, timeoutMs: 2000 });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    return res.body.toString('utf8');
  }

  describe('POST /simulator/pay', () => {
    it('pays the order and starts the notification', async () => {
      const no = await placeOrder();
      const res = await jsonCall(sim, 'POST', '/simulator/pay', { outTradeNo: no });
      assert.equal(res.status, 200);
      assert.equal(res.json.outTradeNo, no);
      assert.equal(res.json.result, 'SUCCESS');
      assert.match(res.json.transactionId, /^4200\d{24}$/);
      assert.equal(res.json.timeEnd, toBeijingCompact(clock.now()));
      await sim.waitForDelivery(no, { acknowledged: true });
      assert.equal(sim.order(no)!.tradeState, 'SUCCESS');
    });

    it('result FAIL fails the payment', async () => {
      const no = await placeOrder();
      const res = await jsonCall(sim, 'POST', '/simulator/pay', { outTradeNo: no, result: 'FAIL' });
      assert.equal(res.status, 200);
      assert.equal(res.json.tradeState, 'PAYERROR');
    });

    it('coupons pay part of the order: reported in the notification and the order query', async () => {
      const no = await placeOrder();
      const res = await jsonCall(sim, 'POST', '/simulator/pay', { outTradeNo: no, coupons: [{ fee: 300, type: 'NO_CASH', id: '42' }] });
      assert.equal(res.status, 200);
      assert.deepEqual([ res.json.couponFee, res.json.cashFee ], [ 300, 900 ]);
      const fields = sim.buildNotification(no);
      assert.deepEqual([ fields.total_fee, fields.cash_fee, fields.coupon_fee, fields.coupon_count, fields.settlement_total_fee ],
        [ '1200', '900', '300', '1', '900' ]);
      assert.deepEqual([ fields.coupon_type_0, fields.coupon_id_0, fields.coupon_fee_0 ], [ 'NO_CASH', '42', '300' ]);
      const query = await payClient(sim).orderQuery({ out_trade_no: no });
      assert.deepEqual([ query.total_fee, query.cash_fee, query.coupon_fee, query.coupon_id_0 ], [ '1200', '900', '300', '42' ]);
    });

    it('coupons that are not a list, or pay everything: refused, the order unpaid', async () => {
      const no = await placeOrder();
      assert.equal((await jsonCall(sim, 'POST', '/simulator/pay', { outTradeNo: no, coupons: { fee: 1 } })).status, 400);
      const all = await jsonCall(sim, 'POST', '/simulator/pay', { outTradeNo: no, coupons: [{ fee: 1200 }] });
      assert.equal(all.status, 422);
      assert.match(all.json.message, /at least 1 fen/);
      assert.equal(sim.order(no)!.tradeState, 'NOTPAY');
    });

    it('an unknown order: 404', async () => {
      const res = await jsonCall(sim, 'POST', '/simulator/pay', { outTradeNo: 'T-unknown' });
      assert.equal(res.status, 404);
      assert.match(res.json.message, /no order/);
    });

    it('a paid order: 409', async () => {
      const no = await placeOrder();
      await sim.pay(no);
      const res = await jsonCall(sim, 'POST', '/simulator/pay', { outTradeNo: no });
      assert.equal(res.status, 409);
      assert.match(res.json.message, /already paid/);
    });

    it('an expired prepay_id: 409, until the merchant places the order again', async () => {
      const no = await placeOrder();
      clock.advance(PREPAY_TTL_MS);
      const res = await jsonCall(sim, 'POST', '/simulator/pay', { outTradeNo: no });
      assert.equal(res.status, 409);
      assert.match(res.json.message, /prepay_id .* expired/);
      await payClient(sim).unifiedOrder({ ...sim.order(no)!.params, total_fee: 1200 } as any);
      assert.equal((await jsonCall(sim, 'POST', '/simulator/pay', { outTradeNo: no })).status, 200);
    });

    it('an order past its time_expire: 409 closed', async () => {
      const no = await placeOrder({ time_expire: toBeijingCompact(new Date(clock.now().getTime() + 120_000)) });
      clock.advance(120_000);
      const res = await jsonCall(sim, 'POST', '/simulator/pay', { outTradeNo: no });
      assert.equal(res.status, 409);
      assert.match(res.json.message, /closed/);
    });

    for (const [ label, body ] of [
      [ 'malformed JSON', '{"outTradeNo":' ],
      [ 'no outTradeNo', {}],
      [ 'a numeric outTradeNo', { outTradeNo: 42 }],
      [ 'an unknown result', { outTradeNo: 'T-x', result: 'MAYBE' }],
      [ 'an array', [ 'T-x' ]],
    ] as const) {
      it(`${label}: 400`, async () => {
        const res = await jsonCall(sim, 'POST', '/simulator/pay', body);
        assert.equal(res.status, 400);
        assert.ok(res.json.message);
      });
    }

    it('GET: 405', async () => {
      assert.equal((await jsonCall(sim, 'GET', '/simulator/pay')).status, 405);
    });
  });

  describe('POST /simulator/login-code', () => {
    it('issues a code that code2Session accepts, for a random openid', async () => {
      const res = await jsonCall(sim, 'POST', '/simulator/login-code', {});
      assert.equal(res.status, 200);
      const session = await loginClient(sim).code2Session(res.json.code);
      assert.equal(session.openid, res.json.openid);
    });

    it('takes openid and unionid', async () => {
      const res = await jsonCall(sim, 'POST', '/simulator/login-code', { openid: 'oPage000000000000000000000001', unionid: 'uPage1' });
      const session = await loginClient(sim).code2Session(res.json.code);
      assert.equal(session.openid, 'oPage000000000000000000000001');
      assert.equal(session.unionid, 'uPage1');
    });

    it('refuses an unknown app, a non-string openid or a non-object body with 400', async () => {
      assert.equal((await jsonCall(sim, 'POST', '/simulator/login-code', { appId: 'wx9999999999999999' })).status, 400);
      assert.equal((await jsonCall(sim, 'POST', '/simulator/login-code', { openid: 7 })).status, 400);
      assert.equal((await jsonCall(sim, 'POST', '/simulator/login-code', '"x"')).status, 400);
    });
  });

  describe('GET /simulator/orders/:outTradeNo', () => {
    it('answers the order state with its deliveries', async () => {
      const no = await placeOrder();
      await sim.pay(no);
      await sim.waitForDelivery(no, { acknowledged: true });
      const res = await jsonCall(sim, 'GET', `/simulator/orders/${no}`);
      assert.equal(res.status, 200);
      assert.equal(res.json.order.outTradeNo, no);
      assert.equal(res.json.order.tradeState, 'SUCCESS');
      assert.equal(res.json.order.params.total_fee, '1200');
      assert.equal(res.json.deliveries.length, 1);
      assert.equal(res.json.deliveries[0].acknowledged, true);
    });

    it('an unknown order: 404', async () => {
      assert.equal((await jsonCall(sim, 'GET', '/simulator/orders/T-unknown')).status, 404);
    });
  });

  describe('GET /simulator/', () => {
    it('lists orders waiting for payment with Pay and Fail buttons, and not paid ones', async () => {
      const waiting = await placeOrder();
      const paid = await placeOrder();
      await sim.pay(paid);
      await sim.waitForDelivery(paid, { acknowledged: true });
      const html = await page();
      const pending = html.slice(html.indexOf('Waiting for payment'), html.indexOf('Recent orders'));
      assert.match(pending, new RegExp(`data-action="pay" data-order="${waiting}"`));
      assert.match(pending, new RegExp(`data-action="fail" data-order="${waiting}"`));
      assert.ok(!pending.includes(paid));
      assert.ok(html.includes('12.00'));
      const deliveries = html.slice(html.indexOf('Recent notifications'));
      assert.ok(deliveries.includes(paid));
    });

    it('escapes what merchants sent', async () => {
      await placeOrder({ body: '<script>alert(1)</script>' });
      const html = await page();
      assert.ok(!html.includes('<script>alert(1)</script>'));
      assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    });

    it('leaves out orders whose prepay_id expired', async () => {
      const no = await placeOrder();
      clock.advance(PREPAY_TTL_MS);
      const html = await page();
      const pending = html.slice(html.indexOf('Waiting for payment'), html.indexOf('Recent orders'));
      assert.ok(!pending.includes(no));
    });

    it('/simulator redirects to /simulator/', async () => {
      const res = await httpRequest({ method: 'GET', url: `${sim.url}/simulator`, timeoutMs: 2000 });
      assert.equal(res.status, 302);
      assert.equal(res.headers.location, '/simulator/');
    });
  });

  it('unknown paths: 404', async () => {
    const res = await httpRequest({ method: 'GET', url: `${sim.url}/v3/pay/transactions/jsapi`, timeoutMs: 2000 });
    assert.equal(res.status, 404);
  });

  it('the defaults are the shared development credentials', () => {
    assert.deepEqual({ ...DEV_CREDENTIALS }, {
      appId: 'wx0000000000000001',
      appSecret: 'dev-app-secret-not-for-production',
      mchId: '1900000001',
      apiKey: 'devkey00000000000000000000000001',
      oaAppId: 'wx0000000000000002',
      oaAppSecret: 'dev-oa-secret-not-for-production',
      mobileAppId: 'wx0000000000000003',
      mobileAppSecret: 'dev-mobile-secret-not-for-production',
    });
    assert.equal(DEV_CREDENTIALS.apiKey.length, 32);
  });
});

describe('simulator: lifecycle and options', () => {
  it('url is only available while started; start resolves with it', async () => {
    const sim = new WechatSimulator();
    assert.throws(() => sim.url, /not started/);
    const url = await sim.start(0);
    assert.equal(sim.url, url);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    await sim.stop();
    assert.throws(() => sim.url, /not started/);
  });

  it('can start again after stop', async () => {
    const sim = new WechatSimulator();
    await sim.start();
    await sim.stop();
    await sim.start();
    const code = sim.issueLoginCode();
    assert.ok((await loginClient(sim).code2Session(code)).openid);
    await sim.stop();
  });

  it('refuses bad credentials and options', () => {
    assert.throws(() => new WechatSimulator({ merchants: [{ mchId: '1', apiKey: 'short', appIds: [] }] }), /32 characters/);
    assert.throws(() => new WechatSimulator({ merchants: [{ mchId: 'abc', apiKey: 'k'.repeat(32), appIds: [] }] }), /digits/);
    assert.throws(() => new WechatSimulator({ apps: [] }), /at least one app/);
    assert.throws(() => new WechatSimulator({ retryScale: -1 }), /retryScale/);
    assert.throws(() => new WechatSimulator({ notifyTimeoutMs: 0 }), /notifyTimeoutMs/);
  });

  it('order() returns a snapshot', async () => {
    const sim = new WechatSimulator();
    await sim.start();
    try {
      const req = orderRequest('http://127.0.0.1:9/n');
      await payClient(sim).unifiedOrder(req);
      sim.order(req.out_trade_no)!.tradeState = 'SUCCESS';
      assert.equal(sim.order(req.out_trade_no)!.tradeState, 'NOTPAY');
    } finally {
      await sim.stop();
    }
  });
});
