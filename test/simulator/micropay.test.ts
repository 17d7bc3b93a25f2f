import assert from 'node:assert/strict';
import { httpRequest, parseXml, WechatApiError, WechatPayClient, WechatRequestNotSentError } from '../../lib/wechatpay';
import { sandboxKeyFor, WechatSimulator } from '../../simulator';
import { DEV, jsonCall, newOutTradeNo, orderRequest, payClient, useSimulatorWithMerchant } from './helpers';

const OTHER_MCH = { mchId: '1900000002', apiKey: 'otherkey000000000000000000000002' };

async function apiError(promise: Promise<unknown>): Promise<WechatApiError> {
  const err = await promise.then(() => undefined, e => e);
  assert.ok(err instanceof WechatApiError, `expected a WechatApiError, got ${err}`);
  return err;
}

const micropayRequest = (authCode: string, overrides: Record<string, unknown> = {}) => ({
  body: 'Counter sale', out_trade_no: newOutTradeNo(), total_fee: 500, spbill_create_ip: '10.0.0.8', auth_code: authCode, ...overrides,
});

describe('simulator: payment code (micropay), reverse, sandbox', () => {
  const sim = new WechatSimulator({
    retryScale: 0.001,
    merchants: [
      { mchId: DEV.mchId, apiKey: DEV.apiKey, appIds: [ DEV.appId ] },
      { ...OTHER_MCH, appIds: [ DEV.appId ] },
    ],
  });
  const world = useSimulatorWithMerchant(sim, { https: true });
  /** HTTPS with the merchant's certificate: what reverse needs. */
  let secure: WechatPayClient;
  before(() => {
    secure = payClient(sim, { secapiBaseUrl: sim.httpsUrl, tls: sim.merchantTls(DEV.mchId) });
  });

  describe('payment codes', () => {
    it('issues 18-digit codes starting 13, over HTTP too, single use', async () => {
      const { authCode, openid } = sim.issuePaymentCode({ openid: 'oPayer' });
      assert.match(authCode, /^13\d{16}$/);
      assert.equal(openid, 'oPayer');
      const viaHttp = await jsonCall(sim, 'POST', '/simulator/payment-codes', { behaviour: 'password' });
      assert.equal(viaHttp.status, 200);
      assert.match(viaHttp.json.authCode, /^13\d{16}$/);
      const bad = await jsonCall(sim, 'POST', '/simulator/payment-codes', { behaviour: 'SOMETHING' });
      assert.equal(bad.status, 400);

      const paid = await secure.micropay(micropayRequest(authCode));
      assert.equal(paid.trade_type, 'MICROPAY');
      assert.equal(paid.openid, 'oPayer');
      const again = await apiError(secure.micropay(micropayRequest(authCode)));
      assert.equal(again.errCode, 'AUTH_CODE_INVALID');
      const unknown = await apiError(secure.micropay(micropayRequest('134000000000000000')));
      assert.equal(unknown.errCode, 'AUTH_CODE_INVALID');
      const malformed = await apiError(secure.micropay(micropayRequest('9999')));
      assert.equal(malformed.errCode, 'AUTH_CODE_INVALID');
    });

    it('a payment waiting for the password: USERPAYING until the payer confirms, then SUCCESS by query', async () => {
      const { authCode } = sim.issuePaymentCode({ behaviour: 'password' });
      const req = micropayRequest(authCode);
      const err = await apiError(secure.micropay(req));
      assert.equal(err.errCode, 'USERPAYING');
      assert.equal((await secure.orderQuery({ out_trade_no: req.out_trade_no })).trade_state, 'USERPAYING');
      const confirmed = await jsonCall(sim, 'POST', `/simulator/orders/${req.out_trade_no}/password`, { result: 'SUCCESS' });
      assert.equal(confirmed.json.tradeState, 'SUCCESS');
      const query = await secure.orderQuery({ out_trade_no: req.out_trade_no });
      assert.equal(query.trade_state, 'SUCCESS');
      assert.equal(query.trade_type, 'MICROPAY');
    });
  });

  describe('reverse', () => {
    it('needs the merchant\'s client certificate: none, or another merchant\'s, is refused', async () => {
      const { authCode } = sim.issuePaymentCode({ behaviour: 'password' });
      const req = micropayRequest(authCode);
      await apiError(secure.micropay(req));
      const plain = payClient(sim);
      await assert.rejects(plain.reverse({ out_trade_no: req.out_trade_no }), WechatRequestNotSentError);
      // By hand over HTTPS without a certificate: WeChat's TLS layer refuses.
      const raw = await httpRequest({
        method: 'POST', url: `${sim.httpsUrl}/secapi/pay/reverse`, body: '<xml></xml>', timeoutMs: 2000,
        agent: new (await import('node:https')).Agent({ ca: sim.merchantTls().ca }),
      });
      assert.match(parseXml(raw.body.toString('utf8')).return_msg, /证书/);
      const otherCert = payClient(sim, { secapiBaseUrl: sim.httpsUrl, tls: sim.merchantTls(OTHER_MCH.mchId) });
      const refused = await apiError(otherCert.reverse({ out_trade_no: req.out_trade_no }));
      assert.equal(refused.kind, 'return');
      assert.equal(sim.order(req.out_trade_no)!.tradeState, 'USERPAYING');
    });

    it('answers recall=Y as many times as the code says, then reverses; a paid order is refunded (REVOKED)', async () => {
      const { authCode } = sim.issuePaymentCode({ reverseRecalls: 2 });
      const req = micropayRequest(authCode);
      await secure.micropay(req);
      for (let i = 0; i < 2; i++) {
        const err = await apiError(secure.reverse({ out_trade_no: req.out_trade_no }));
        assert.equal(err.errCode, 'SYSTEMERROR');
        assert.equal(err.reply.recall, 'Y');
      }
      const done = await secure.reverse({ out_trade_no: req.out_trade_no });
      assert.equal(done.recall, 'N');
      assert.equal(sim.order(req.out_trade_no)!.tradeState, 'REVOKED');
      assert.equal((await secure.orderQuery({ out_trade_no: req.out_trade_no })).trade_state, 'REVOKED');
      // Reversed is final: the number cannot be charged again.
      const again = await apiError(secure.micropay({ ...req, auth_code: sim.issuePaymentCode().authCode }));
      assert.equal(again.errCode, 'ORDERREVERSED');
      const missing = await apiError(secure.reverse({ out_trade_no: newOutTradeNo() }));
      assert.equal(missing.errCode, 'ORDERNOTEXIST');
    });
  });

  describe('sandbox', () => {
    const sandboxClient = (overrides: Partial<WechatPayClient['config']> = {}) => payClient(sim, {
      secapiBaseUrl: sim.httpsUrl, tls: sim.merchantTls(DEV.mchId), sandbox: true, ...overrides,
    });

    it('fetches the sandbox key once, then calls /sandboxnew/... signed with it', async () => {
      const client = sandboxClient();
      assert.equal(await client.sandboxSignKey(), sandboxKeyFor(DEV.apiKey));
      const { authCode } = sim.issuePaymentCode();
      const req = micropayRequest(authCode);
      const paid = await client.micropay(req);
      assert.equal(paid.result_code, 'SUCCESS');
      assert.equal((await client.orderQuery({ out_trade_no: req.out_trade_no })).trade_state, 'SUCCESS');
      assert.deepEqual(sim.requests().map(r => r.path), [ '/sandboxnew/pay/getsignkey', '/sandboxnew/pay/micropay', '/sandboxnew/pay/orderquery' ]);
      const [ , micropay ] = sim.requests();
      assert.equal(micropay.params.auth_code, authCode);
    });

    it('a unified order paid in sandbox mode: the payer pays it, the query says SUCCESS', async () => {
      const client = sandboxClient();
      const req = orderRequest(world.merchant.url);
      const reply = await client.unifiedOrder(req);
      assert.ok(reply.prepay_id);
      await sim.pay(req.out_trade_no);
      assert.equal((await client.orderQuery({ out_trade_no: req.out_trade_no })).trade_state, 'SUCCESS');
      assert.ok(sim.requests('unifiedorder').every(r => r.path === '/sandboxnew/pay/unifiedorder'));
    });

    it('refuses a wrong key: getsignkey signed with another key, a sandbox call signed with the production key', async () => {
      const wrong = sandboxClient({ apiKey: 'x'.repeat(32) });
      const err = await apiError(wrong.micropay(micropayRequest(sim.issuePaymentCode().authCode)));
      assert.equal(err.kind, 'return');
      assert.equal(err.errCodeDes, '签名错误');
      assert.equal(sim.requests('micropay').length, 0, 'nothing is sent without the sandbox key');
      // The production key on a sandbox path: refused like any bad signature.
      const production = payClient(sim, { baseUrl: `${sim.url}/sandboxnew` });
      const refused = await apiError(production.micropay(micropayRequest(sim.issuePaymentCode().authCode)));
      assert.equal(refused.kind, 'return');
      assert.equal(refused.errCodeDes, '签名错误');
      // And the sandbox key on a production path.
      const key = await sandboxClient().sandboxSignKey();
      const misplaced = payClient(sim, { apiKey: key });
      assert.equal((await apiError(misplaced.orderQuery({ out_trade_no: newOutTradeNo() }))).errCodeDes, '签名错误');
    });
  });
});
