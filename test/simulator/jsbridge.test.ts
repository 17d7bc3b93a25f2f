import assert from 'node:assert/strict';
import { httpRequest, requestPaymentParams, SignType } from '../../lib/wechatpay';
import { WechatSimulator } from '../../simulator';
import { DEV, MerchantServer, orderRequest, payClient, TestClock, useSimulatorWithMerchant } from './helpers';

/** The bridge's stand-in and its cashier (simulator/jsbridge.ts): what WeChat checks before it lets the payer pay. */
describe('simulator: WeixinJSBridge stand-in and cashier', () => {
  const clock = new TestClock();
  const sim = new WechatSimulator({ now: clock.now, retryScale: 0.001, notifyTimeoutMs: 500 });
  const world = useSimulatorWithMerchant(sim);
  let merchant: MerchantServer;
  before(() => { merchant = world.merchant; });

  /** An order placed for `appId` with `signType`, and its bridge parameters as the merchant signs them. */
  async function bridgeParams(signType: SignType = 'MD5', appId = DEV.oaAppId) {
    const req = orderRequest(merchant.url);
    const reply = await payClient(sim, { signType }).unifiedOrder(req, { appId });
    const params = requestPaymentParams({ appId, prepayId: reply.prepay_id, apiKey: DEV.apiKey, signType });
    return { outTradeNo: req.out_trade_no, params: { appId, ...params } as Record<string, string> };
  }

  async function cashier(params: Record<string, string>, origin = 'http://127.0.0.1:7001') {
    const query = new URLSearchParams({ ...params, origin });
    const res = await httpRequest({ method: 'GET', url: `${sim.url}/simulator/cashier?${query}`, timeoutMs: 2000 });
    return { status: res.status, html: res.body.toString('utf8') };
  }

  it('serves the bridge script, which names the simulator\'s origin and getBrandWCPayRequest', async () => {
    const res = await httpRequest({ method: 'GET', url: `${sim.url}/simulator/jsbridge.js`, timeoutMs: 2000 });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^application\/javascript/);
    const js = res.body.toString('utf8');
    assert.ok(js.includes(`var SIMULATOR = ${JSON.stringify(sim.url)};`), 'the cashier is on the simulator\'s origin');
    assert.match(js, /getBrandWCPayRequest/);
    assert.match(js, /WeixinJSBridgeReady/);
  });

  it('opens the cashier for well-formed parameters: the order\'s amount, Pay, Fail and Cancel, reporting to the page\'s origin', async () => {
    const { params } = await bridgeParams('MD5');
    const { status, html } = await cashier(params);
    assert.equal(status, 200);
    assert.match(html, /id="cashier-amount">¥12\.00</);
    for (const id of [ 'pay', 'fail', 'cancel' ]) assert.ok(html.includes(`id="${id}"`), id);
    assert.ok(html.includes('var ORIGIN = "http://127.0.0.1:7001";'));
    const hmac = await bridgeParams('HMAC-SHA256');
    assert.equal((await cashier(hmac.params)).status, 200);
  });

  it('refuses what WeChat refuses: a wrong paySign, another app\'s appId, another sign type, an unknown prepay_id, a missing field', async () => {
    const { params } = await bridgeParams('MD5');
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ ...params, paySign: params.paySign.replace(/^./, c => (c === 'A' ? 'B' : 'A')) }, /paySign/ ],
      [{ ...params, timeStamp: String(Number(params.timeStamp) + 1) }, /paySign/ ],
      [{ ...params, appId: DEV.appId }, /缺少参数：total_fee/ ],
      [{ ...params, signType: 'HMAC-SHA256' }, /signType/ ],
      [{ ...params, package: 'prepay_id=wx000unknown' }, /缺少参数：total_fee/ ],
      [{ ...params, nonceStr: '' }, /缺少参数：nonceStr/ ],
    ];
    for (const [ bad, message ] of cases) {
      const { status, html } = await cashier(bad);
      assert.equal(status, 400, JSON.stringify(bad));
      assert.match(html, message);
      assert.ok(!html.includes('id="pay"'), 'no Pay button');
    }
    assert.equal((await cashier(params, 'not a url')).status, 400);
  });

  it('a paid order cannot be paid again from the cashier', async () => {
    const { outTradeNo, params } = await bridgeParams('MD5');
    await sim.pay(outTradeNo);
    const { status, html } = await cashier(params);
    assert.equal(status, 400);
    assert.match(html, /该订单已支付/);
  });
});
