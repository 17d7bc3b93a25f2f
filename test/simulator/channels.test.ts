import assert from 'node:assert/strict';
import { beijingDay, h5SceneInfo, parseBill, verifySign, WechatApiError } from '../../lib/wechatpay';
import { MWEB_URL_TTL_MS, PREPAY_TTL_MS, WechatSimulator } from '../../simulator';
import { closedUrl } from '../support/closedPort';
import { DEV, jsonCall, orderRequest, payClient, rawCall, rawOrderParams, signedXml, TestClock } from './helpers';

const SCENE = h5SceneInfo({ wapUrl: 'http://127.0.0.1:7001', wapName: 'Demo shop' });
const DAY_MS = 24 * 3600 * 1000;

describe('simulator: NATIVE, MWEB and APP unified orders', () => {
  const clock = new TestClock();
  const sim = new WechatSimulator({ now: clock.now, retryScale: 0.001, notifyTimeoutMs: 1000 });
  let notifyUrl = '';
  before(async () => {
    await sim.start();
    notifyUrl = await closedUrl('/notify');
  });
  after(() => sim.stop());
  beforeEach(() => sim.reset());

  const client = () => payClient(sim);
  const native = (overrides: Record<string, unknown> = {}) =>
    client().unifiedOrder({ ...orderRequest(notifyUrl), openid: undefined, trade_type: 'NATIVE', product_id: '1', ...overrides });
  const mweb = () => client().unifiedOrder({ ...orderRequest(notifyUrl), openid: undefined, trade_type: 'MWEB', scene_info: SCENE });

  describe('the trade type\'s required fields, as WeChat checks them', () => {
    for (const [ tradeType, field ] of [[ 'NATIVE', 'product_id' ], [ 'MWEB', 'scene_info' ]]) {
      it(`${tradeType} without ${field}: LACK_PARAMS (signed business failure)`, async () => {
        const res = await rawCall(sim, '/pay/unifiedorder', signedXml(rawOrderParams({ trade_type: tradeType, openid: undefined })));
        assert.equal(res.fields.result_code, 'FAIL');
        assert.equal(res.fields.err_code, 'LACK_PARAMS');
        assert.match(res.fields.err_code_des, new RegExp(field));
        assert.ok(verifySign(res.fields, DEV.apiKey, 'MD5'));
      });
    }

    it('JSAPI without openid is still refused at the door (return_code FAIL)', async () => {
      const res = await rawCall(sim, '/pay/unifiedorder', signedXml(rawOrderParams({ openid: undefined })));
      assert.deepEqual(res.fields, { return_code: 'FAIL', return_msg: 'JSAPI支付必须传openid' });
    });

    for (const scene of [ 'not json', '{"h5_info":{"type":"Wap","wap_url":"http://x"}}', '{"h5_info":{"type":"Desktop"}}', '{}' ]) {
      it(`MWEB with scene_info ${scene}: PARAM_ERROR`, async () => {
        const res = await rawCall(sim, '/pay/unifiedorder', signedXml(rawOrderParams({ trade_type: 'MWEB', openid: undefined, scene_info: scene })));
        assert.equal(res.fields.err_code, 'PARAM_ERROR');
      });
    }

    it('a product_id over 32 characters: PARAM_ERROR', async () => {
      const res = await rawCall(sim, '/pay/unifiedorder', signedXml(rawOrderParams({ trade_type: 'NATIVE', openid: undefined, product_id: 'p'.repeat(33) })));
      assert.equal(res.fields.err_code, 'PARAM_ERROR');
    });

    it('APP orders need a known appid of the merchant like any other', async () => {
      const res = await rawCall(sim, '/pay/unifiedorder', signedXml(rawOrderParams({ trade_type: 'APP', openid: undefined, appid: 'wx9999999999999999' })));
      assert.equal(res.fields.err_code, 'APPID_NOT_EXIST');
      const ok = await client().unifiedOrder({ ...orderRequest(notifyUrl), openid: undefined, trade_type: 'APP' }, { appId: DEV.mobileAppId });
      assert.equal(ok.trade_type, 'APP');
      assert.ok(ok.prepay_id);
    });

    it('the pay client refuses to send a trade type\'s order without its required field', async () => {
      await assert.rejects(client().unifiedOrder({ ...orderRequest(notifyUrl), openid: undefined, trade_type: 'NATIVE' }),
        { name: 'WechatRequestNotSentError', message: /NATIVE unified order needs product_id/ });
      await assert.rejects(client().unifiedOrder({ ...orderRequest(notifyUrl), openid: undefined, trade_type: 'MWEB' }), /needs scene_info/);
      await assert.rejects(client().unifiedOrder({ ...orderRequest(notifyUrl), openid: undefined }), /JSAPI unified order needs openid/);
      assert.equal(sim.requests('unifiedorder').length, 0);
    });
  });

  describe('NATIVE code_url', () => {
    it('is answered with the prepay_id, the same on a repeated order, and scanning it pays the order with the payer\'s openid', async () => {
      const req = { ...orderRequest(notifyUrl), openid: undefined, trade_type: 'NATIVE' as const, product_id: '7' };
      const reply = await client().unifiedOrder(req);
      assert.match(reply.code_url, /^weixin:\/\/wxpay\/bizpayurl\?pr=[A-Za-z0-9_-]+$/);
      assert.equal((await client().unifiedOrder(req)).code_url, reply.code_url);
      const paid = await sim.scan(reply.code_url, { openid: 'oScanner' });
      assert.equal(paid.result, 'SUCCESS');
      assert.equal(paid.openid, 'oScanner');
      const query = await client().orderQuery({ out_trade_no: req.out_trade_no });
      assert.deepEqual([ query.trade_type, query.trade_state, query.openid ], [ 'NATIVE', 'SUCCESS', 'oScanner' ]);
      // Scanned again: already paid.
      await assert.rejects(sim.scan(reply.code_url), /already paid/);
    });

    it('expires after 2 hours: a scan is refused (409) and the order stays unpaid', async () => {
      const reply = await native();
      clock.advance(PREPAY_TTL_MS);
      const res = await jsonCall(sim, 'POST', '/simulator/scan', { codeUrl: reply.code_url });
      assert.equal(res.status, 409);
      assert.match(res.json.message, /expired/);
      const outTradeNo = sim.requests('unifiedorder')[0].params.out_trade_no;
      assert.equal(sim.order(outTradeNo)!.tradeState, 'NOTPAY');
    });

    it('an unknown code is 404; the scan page lists the codes waiting', async () => {
      assert.equal((await jsonCall(sim, 'POST', '/simulator/scan', { codeUrl: 'weixin://wxpay/bizpayurl?pr=nothing' })).status, 404);
      const reply = await native();
      const page = await jsonCall(sim, 'GET', '/simulator/scan');
      assert.equal(page.status, 200);
      assert.ok(page.text.includes(reply.code_url));
    });
  });

  describe('MWEB mweb_url', () => {
    const referer = { Referer: 'http://127.0.0.1:7001/' };
    const open = (url: string, headers: Record<string, string> = referer) => fetch(url, { headers });

    it('opens the cashier page from the H5 domain; a redirect_url or Referer elsewhere is refused', async () => {
      const reply = await mweb();
      const url = new URL(reply.mweb_url);
      assert.equal(url.origin, sim.url);
      assert.equal(url.searchParams.get('prepay_id'), reply.prepay_id);
      assert.equal((await open(reply.mweb_url)).status, 200);
      const back = `${reply.mweb_url}&redirect_url=${encodeURIComponent('http://127.0.0.1:7001/demo/h5-return?outTradeNo=X')}`;
      const page = await open(back);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /demo\/h5-return\?outTradeNo=X/);
      assert.equal((await open(`${reply.mweb_url}&redirect_url=${encodeURIComponent('https://127.0.0.1.evil.example/')}`)).status, 400);
      assert.equal((await open(reply.mweb_url, { Referer: 'https://evil.example/' })).status, 403);
      assert.equal((await open(reply.mweb_url, {})).status, 403);
    });

    it('expires after 5 minutes (支付请求已失效) and cannot be paid then; a repeated unified order gives a fresh one', async () => {
      const req = { ...orderRequest(notifyUrl), openid: undefined, trade_type: 'MWEB' as const, scene_info: SCENE };
      const reply = await client().unifiedOrder(req);
      clock.advance(MWEB_URL_TTL_MS);
      const page = await open(reply.mweb_url);
      assert.equal(page.status, 410);
      assert.match(await page.text(), /支付请求已失效/);
      const url = new URL(reply.mweb_url);
      const pay = await jsonCall(sim, 'POST', '/simulator/mweb-pay', { prepayId: url.searchParams.get('prepay_id'), package: url.searchParams.get('package') });
      assert.equal(pay.status, 409);

      const again = await client().unifiedOrder(req);
      assert.equal(again.prepay_id, reply.prepay_id);
      assert.notEqual(again.mweb_url, reply.mweb_url);
      assert.equal((await open(again.mweb_url)).status, 200);
      // The older URL stays dead.
      assert.equal((await open(reply.mweb_url)).status, 404);
    });
  });

  it('the bill lists each payment\'s trade type', async () => {
    const paidAt = clock.now();
    await client().unifiedOrder(orderRequest(notifyUrl));
    const nativeReply = await native();
    await client().unifiedOrder({ ...orderRequest(notifyUrl), openid: undefined, trade_type: 'APP' }, { appId: DEV.mobileAppId });
    await mweb();
    const orders = sim.requests('unifiedorder').map(r => r.params.out_trade_no);
    await sim.pay(orders[0]);
    await sim.scan(nativeReply.code_url);
    await sim.pay(orders[2]);
    await sim.pay(orders[3]);
    clock.advance(2 * DAY_MS);
    const bill = parseBill(await client().downloadBill(beijingDay(paidAt)));
    const types = new Map(bill.rows.filter(r => r.tradeState === 'SUCCESS').map(r => [ r.outTradeNo, r.tradeType ]));
    assert.deepEqual(orders.map(o => types.get(o)), [ 'JSAPI', 'NATIVE', 'APP', 'MWEB' ]);
  });

  it('the common checks still apply: a NATIVE order with a bad amount gets PARAM_ERROR', async () => {
    const err = await native({ total_fee: 0 }).then(() => undefined, e => e);
    assert.ok(err instanceof WechatApiError);
    assert.equal(err.errCode, 'PARAM_ERROR');
  });
});
