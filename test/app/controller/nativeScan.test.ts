import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { app, mock } from 'egg-mock/bootstrap';
import { buildXml, parseStaticCodeUrl, parseXml, sign, verifySign } from '../../../lib/wechatpay';
import { DEV_CREDENTIALS, PayerError } from '../../../simulator';
import { testEnv } from '../../support/env';
import { PRODUCTS, resetWorld } from '../../support/fixtures';
import { adminHeader } from '../../support/refunds';

const OA = DEV_CREDENTIALS.oaAppId;
const MCH = DEV_CREDENTIALS.mchId;
const KEY = DEV_CREDENTIALS.apiKey;

/** A scan callback as WeChat POSTs it, signed with MD5 unless `sign` is given. */
function scanCallback(fields: Record<string, string> = {}): string {
  const base = { appid: OA, openid: 'o-scanner-1', mch_id: MCH, is_subscribe: 'N', nonce_str: 'n0nce0000000000000000000000000001', product_id: '1', ...fields };
  return buildXml({ ...base, sign: fields.sign ?? sign(base, KEY, 'MD5') });
}

describe('NATIVE mode 1: static codes and the scan callback', () => {
  const callbackUrl = () => `${testEnv.appUrl}/payment/native-scan`;
  const postCallback = (xml: string) => app.httpRequest().post('/payment/native-scan').set('Content-Type', 'text/xml')
    .send(xml);
  const staticCode = async (productId = PRODUCTS.coffee.id) =>
    (await app.httpRequest().get(`/admin/products/${productId}/native-code`).set(adminHeader())
      .expect(200)).body.codeUrl as string;

  beforeEach(resetWorld);
  afterEach(() => {
    testEnv.sim.clearFaults();
    mock.restore();
  });

  describe('the static code (GET /admin/products/:productId/native-code)', () => {
    it('names the product with the official account\'s appid, signed with the merchant key (MD5, checked by the documented rule)', async () => {
      const res = await app.httpRequest().get(`/admin/products/${PRODUCTS.coffee.id}/native-code`).set(adminHeader())
        .expect(200);
      assert.equal(res.body.productId, PRODUCTS.coffee.id);
      const code = parseStaticCodeUrl(res.body.codeUrl)!;
      assert.deepEqual([ code.appid, code.mch_id, code.product_id ], [ OA, MCH, '1' ]);
      assert.ok(Math.abs(Number(code.time_stamp) - Date.now() / 1000) < 60);
      const text = `appid=${OA}&mch_id=${MCH}&nonce_str=${code.nonce_str}&product_id=1&time_stamp=${code.time_stamp}&key=${KEY}`;
      assert.equal(code.sign, createHash('md5').update(text).digest('hex')
        .toUpperCase());

      const svg = await app.httpRequest().get(`/admin/products/${PRODUCTS.coffee.id}/native-code.svg`).set(adminHeader())
        .buffer(true)
        .expect(200);
      assert.equal(svg.headers['content-type'], 'image/svg+xml');
      assert.match(Buffer.from(svg.body).toString('utf8'), /^<svg[^>]*viewBox="0 0 \d+ \d+"/);
    });

    it('refuses an unknown or retired product (404), a malformed id (422), and anyone without the admin token (401)', async () => {
      for (const id of [ 777, PRODUCTS.retired.id ]) {
        const res = await app.httpRequest().get(`/admin/products/${id}/native-code`).set(adminHeader())
          .expect(404);
        assert.equal(res.body.code, 'PRODUCT_NOT_FOUND');
      }
      assert.equal((await app.httpRequest().get('/admin/products/0x1/native-code').set(adminHeader())
        .expect(422)).body.field, 'productId');
      await app.httpRequest().get('/admin/products/1/native-code').expect(401);
      await app.httpRequest().get('/admin/products/1/native-code.svg').set('Authorization', 'Bearer wrong')
        .expect(401);
    });

    it('is refused while no official account is configured: NATIVE orders name its appid', async () => {
      mock(app.config.wechat, 'apps', { ...app.config.wechat.apps, officialAccount: undefined });
      const res = await app.httpRequest().get('/admin/products/1/native-code').set(adminHeader())
        .expect(409);
      assert.equal(res.body.code, 'NATIVE_NOT_CONFIGURED');
      // And a scan callback naming it is not ours.
      assert.match(parseXml((await postCallback(scanCallback()).expect(200)).text).return_msg, /^appid is not ours/);
    });
  });

  describe('a payer scans it', () => {
    it('WeChat asks us for the order, we make it for that payer and product, the payer pays, the order is paid', async () => {
      const codeUrl = await staticCode();
      const payment = await testEnv.sim.scanStaticCode(codeUrl, { openid: 'o-scanner-1', callbackUrl: callbackUrl() });
      assert.equal(payment.result, 'SUCCESS');
      await testEnv.sim.waitForDelivery(payment.outTradeNo, { kind: 'payment', acknowledged: true });

      const order = (await app.model.Order.findOne({ where: { outTradeNo: payment.outTradeNo } }))!;
      assert.deepEqual([ order.status, order.tradeType, order.appid, order.totalFee, JSON.parse(order.items) ],
        [ 'SUCCESS', 'NATIVE', OA, PRODUCTS.coffee.priceFen, [{ productId: 1, name: 'Coffee', quantity: 1, unitPriceFen: PRODUCTS.coffee.priceFen }]]);
      const user = (await app.model.User.findByPk(order.userId!))!;
      assert.deepEqual([ user.appid, user.openid ], [ OA, 'o-scanner-1' ]);
      const [ unified ] = testEnv.sim.requests('unifiedorder');
      assert.deepEqual([ unified.params.trade_type, unified.params.product_id, unified.params.appid, unified.params.openid ], [ 'NATIVE', '1', OA, undefined ]);
      assert.equal(payment.openid, 'o-scanner-1');
    });

    it('a callback sent again (our answer was lost) gets the same order and prepay_id', async () => {
      const first = parseXml((await postCallback(scanCallback()).expect(200)).text);
      const again = parseXml((await postCallback(scanCallback()).expect(200)).text);
      assert.deepEqual([ first.return_code, first.result_code, first.appid, first.mch_id ], [ 'SUCCESS', 'SUCCESS', OA, MCH ]);
      assert.ok(verifySign(first, KEY, 'MD5'));
      assert.ok(first.prepay_id);
      assert.equal(again.prepay_id, first.prepay_id);
      assert.equal(await app.model.Order.count(), 1);
      assert.equal(testEnv.sim.requests('unifiedorder').length, 1);
      // Another scan of the same code (a new nonce) is another order.
      const other = parseXml((await postCallback(scanCallback({ nonce_str: 'n0nce0000000000000000000000000002' })).expect(200)).text);
      assert.notEqual(other.prepay_id, first.prepay_id);
      assert.equal(await app.model.Order.count(), 2);
    });

    it('a product not for sale: result_code FAIL, signed, with the reason the payer sees; no order', async () => {
      for (const productId of [ '777', String(PRODUCTS.retired.id), 'abc' ]) {
        const reply = parseXml((await postCallback(scanCallback({ product_id: productId })).expect(200)).text);
        assert.deepEqual([ reply.return_code, reply.result_code, reply.prepay_id ], [ 'SUCCESS', 'FAIL', undefined ], productId);
        assert.match(reply.err_code_des, /not for sale/);
        assert.ok(verifySign(reply, KEY, 'MD5'));
      }
      assert.equal(await app.model.Order.count(), 0);
      // The payer is shown the reason, and cannot pay.
      await assert.rejects(testEnv.sim.scanStaticCode(await staticCodeFor('777'), { callbackUrl: callbackUrl() }),
        (err: PayerError) => err.status === 409 && /not for sale/.test(err.message));
    });

    it('a payer scanning past the order rate limit: result_code FAIL, no more orders', async () => {
      mock(app.config.rateLimit.orderPerUser, 'limit', 2);
      const replies = [];
      for (const n of [ 1, 2, 3 ]) {
        replies.push(parseXml((await postCallback(scanCallback({ nonce_str: `n0nce${n}` })).expect(200)).text));
      }
      assert.deepEqual(replies.map(r => r.result_code), [ 'SUCCESS', 'SUCCESS', 'FAIL' ]);
      assert.match(replies[2].err_code_des, /too many orders/);
      assert.ok(verifySign(replies[2], KEY, 'MD5'));
      assert.equal(await app.model.Order.count(), 2);
    });

    it('WeChat failing the unified order: result_code FAIL, the payer told to try again', async () => {
      testEnv.sim.setFault('unifiedorder', { kind: 'systemerror' });
      const reply = parseXml((await postCallback(scanCallback()).expect(200)).text);
      assert.deepEqual([ reply.return_code, reply.result_code ], [ 'SUCCESS', 'FAIL' ]);
      assert.match(reply.err_code_des, /try again shortly/);
      // The order was made and stays unpaid: it expires like any order whose unified order failed.
      const [ order ] = await app.model.Order.findAll();
      assert.equal(order.status, 'NOTPAY');
    });

    it('a callback that cannot be trusted is refused with return_code FAIL, unsigned, and nothing is written', async () => {
      const cases: Array<[ string, string ]> = [
        [ scanCallback({ sign: 'F'.repeat(32) }), 'signature does not verify' ],
        [ scanCallback({ mch_id: '1900000999' }), 'mch_id is not ours' ],
        // The mini-program's appid: NATIVE orders are the official account's.
        [ scanCallback({ appid: DEV_CREDENTIALS.appId }), 'appid is not ours' ],
        [ buildXml({ appid: OA, mch_id: MCH, nonce_str: 'n', product_id: '1' }), 'openid is missing' ],
        [ '<xml><appid>', 'unreadable XML' ],
      ];
      for (const [ xml, reason ] of cases) {
        const reply = parseXml((await postCallback(xml).expect(200)).text);
        assert.equal(reply.return_code, 'FAIL', reason);
        assert.ok(reply.return_msg.startsWith(reason), reply.return_msg);
        assert.equal(reply.sign, undefined);
      }
      assert.equal(await app.model.Order.count(), 0);
      assert.equal(await app.model.User.count(), 0);
    });

    it('the database failing: 500 with return_code FAIL, and the payer\'s next scan makes the order', async () => {
      mock(app.model.User, 'upsert', async () => { throw new Error('connection lost'); });
      const reply = parseXml((await postCallback(scanCallback()).expect(500)).text);
      assert.deepEqual(reply, { return_code: 'FAIL', return_msg: 'try again' });
      mock.restore();
      const retried = parseXml((await postCallback(scanCallback()).expect(200)).text);
      assert.equal(retried.result_code, 'SUCCESS');
      assert.equal(await app.model.Order.count(), 1);
    });
  });

  /** A static code for a product id as we would sign one (for ids the admin route refuses). */
  async function staticCodeFor(productId: string): Promise<string> {
    const { staticCodeUrl } = await import('../../../lib/wechatpay');
    return staticCodeUrl({ appId: OA, mchId: MCH, productId, apiKey: KEY });
  }
});
