import assert from 'node:assert/strict';
import { toBeijingCompact, verifySign, WechatApiError } from '../../lib/wechatpay';
import { PREPAY_TTL_MS, WechatSimulator } from '../../simulator';
import { closedUrl } from '../support/closedPort';
import { DEV, OPENID, orderRequest, payClient, rawCall, rawOrderParams, signedXml, TestClock } from './helpers';

/** A notify_url whose connections are refused (set before the tests). */
let NOTIFY_URL = '';

/** The error a client call ends in. */
async function apiError(promise: Promise<unknown>): Promise<WechatApiError> {
  const err = await promise.then(() => undefined, e => e);
  assert.ok(err instanceof WechatApiError, `expected a WechatApiError, got ${err}`);
  return err;
}

/** A business failure: return SUCCESS, result FAIL, signed with the request's sign type. */
function assertResultFail(fields: Record<string, string>, errCode: string, signType: 'MD5' | 'HMAC-SHA256' = 'MD5') {
  assert.equal(fields.return_code, 'SUCCESS');
  assert.equal(fields.result_code, 'FAIL');
  assert.equal(fields.err_code, errCode);
  assert.ok(fields.err_code_des);
  assert.ok(verifySign(fields, DEV.apiKey, signType), 'business failures are signed');
}

/** A request-form failure: return FAIL, a message, nothing else (no sign). */
function assertReturnFail(fields: Record<string, string>, returnMsg: string) {
  assert.deepEqual(fields, { return_code: 'FAIL', return_msg: returnMsg });
}

describe('simulator: unified order', () => {
  const clock = new TestClock();
  const sim = new WechatSimulator({
    now: clock.now,
    apps: [
      { appId: DEV.appId, appSecret: DEV.appSecret },
      { appId: 'wx0000000000000002', appSecret: 'not-paired-with-the-merchant' },
    ],
    merchants: [
      { mchId: DEV.mchId, apiKey: DEV.apiKey, appIds: [ DEV.appId ] },
      { mchId: '1900000002', apiKey: 'otherkey000000000000000000000002', appIds: [ DEV.appId ] },
    ],
  });
  before(async () => {
    NOTIFY_URL = await closedUrl('/payment/notify');
    await sim.start();
  });
  after(() => sim.stop());
  beforeEach(() => sim.reset());

  describe('success', () => {
    for (const signType of [ 'MD5', 'HMAC-SHA256' ] as const) {
      it(`with ${signType}: a signed reply with a 36-character prepay_id valid 2 hours`, async () => {
        const req = orderRequest(NOTIFY_URL, { attach: 'cart=42' });
        const reply = await payClient(sim, { signType }).unifiedOrder(req);
        assert.equal(reply.return_code, 'SUCCESS');
        assert.equal(reply.result_code, 'SUCCESS');
        assert.equal(reply.trade_type, 'JSAPI');
        assert.equal(reply.appid, DEV.appId);
        assert.equal(reply.mch_id, DEV.mchId);
        assert.match(reply.prepay_id, /^wx\d{14}[0-9a-f]{20}$/);
        assert.equal(reply.prepay_id.slice(2, 16), toBeijingCompact(clock.now()));
        assert.ok(verifySign(reply, DEV.apiKey, signType));
        assert.ok(!('sign_type' in reply));

        const order = sim.order(req.out_trade_no)!;
        assert.equal(order.prepayId, reply.prepay_id);
        assert.equal(order.prepayExpiresAt.getTime(), clock.now().getTime() + PREPAY_TTL_MS);
        assert.equal(order.tradeState, 'NOTPAY');
        assert.equal(order.signType, signType);
        assert.equal(order.notifyUrl, NOTIFY_URL);
        assert.equal(order.totalFee, 1200);
        assert.equal(order.openid, OPENID);
        assert.equal(order.attach, 'cart=42');
        assert.equal(order.params.total_fee, '1200');
        assert.equal(order.params.spbill_create_ip, '127.0.0.1');
        assert.equal(order.params.trade_type, 'JSAPI');
      });
    }

    it('without sign_type the request is checked, and answered, with MD5', async () => {
      const res = await rawCall(sim, '/pay/unifiedorder', signedXml(rawOrderParams(), { signType: undefined, signAs: 'MD5' }));
      assert.equal(res.fields.result_code, 'SUCCESS');
      assert.ok(verifySign(res.fields, DEV.apiKey, 'MD5'));
      assert.ok(!verifySign(res.fields, DEV.apiKey, 'HMAC-SHA256'));
    });

    it('accepts the limits: 32-character out_trade_no of [A-Za-z0-9_-|*], 128-byte body, 127-byte attach', async () => {
      const params = rawOrderParams({
        out_trade_no: 'Ab0_-|*'.padEnd(32, 'x'),
        body: '咖'.repeat(42) + 'xx', // 126 + 2 bytes
        attach: 'a'.repeat(127),
      });
      const res = await rawCall(sim, '/pay/unifiedorder', signedXml(params));
      assert.equal(res.fields.result_code, 'SUCCESS', res.text);
    });

    it('accepts time_expire exactly one minute after time_start', async () => {
      const start = clock.now();
      const req = orderRequest(NOTIFY_URL, {
        time_start: toBeijingCompact(start), time_expire: toBeijingCompact(new Date(start.getTime() + 60_000)),
      });
      const reply = await payClient(sim).unifiedOrder(req);
      assert.ok(reply.prepay_id);
      assert.equal(sim.order(req.out_trade_no)!.expiresAt!.getTime(), start.getTime() + 60_000);
    });

    it('echoes device_info', async () => {
      const res = await rawCall(sim, '/pay/unifiedorder', signedXml(rawOrderParams({ device_info: 'WEB' })));
      assert.equal(res.fields.device_info, 'WEB');
    });
  });

  describe('the same out_trade_no again', () => {
    it('with identical parameters returns the same prepay_id', async () => {
      const req = orderRequest(NOTIFY_URL);
      const first = await payClient(sim).unifiedOrder(req);
      clock.advance(60_000);
      const second = await payClient(sim).unifiedOrder(req);
      assert.equal(second.prepay_id, first.prepay_id);
      assert.equal(sim.requests('unifiedorder').length, 2);
    });

    it('with identical parameters after the prepay_id expired returns a new one, valid 2 hours more', async () => {
      const req = orderRequest(NOTIFY_URL);
      const first = await payClient(sim).unifiedOrder(req);
      clock.advance(PREPAY_TTL_MS);
      const second = await payClient(sim).unifiedOrder(req);
      assert.notEqual(second.prepay_id, first.prepay_id);
      const order = sim.order(req.out_trade_no)!;
      assert.equal(order.prepayId, second.prepay_id);
      assert.equal(order.prepayExpiresAt.getTime(), clock.now().getTime() + PREPAY_TTL_MS);
    });

    it('in the other sign type still returns the same prepay_id, and the order follows the new sign type', async () => {
      const req = orderRequest(NOTIFY_URL);
      const first = await payClient(sim, { signType: 'MD5' }).unifiedOrder(req);
      const second = await payClient(sim, { signType: 'HMAC-SHA256' }).unifiedOrder(req);
      assert.equal(second.prepay_id, first.prepay_id);
      assert.equal(sim.order(req.out_trade_no)!.signType, 'HMAC-SHA256');
    });

    for (const [ field, value ] of [
      [ 'total_fee', 1201 ], [ 'body', 'Tea x1' ], [ 'openid', 'oOther00000000000000000000001' ], [ 'attach', 'changed' ],
      [ 'notify_url', 'http://127.0.0.1:9/other' ], [ 'time_start', '20200101000000' ],
    ] as const) {
      it(`with a different ${field} gets OUT_TRADE_NO_USED (商户订单号重复)`, async () => {
        const req = orderRequest(NOTIFY_URL, { attach: 'original' });
        const first = await payClient(sim).unifiedOrder(req);
        const err = await apiError(payClient(sim).unifiedOrder({ ...req, [field]: value }));
        assert.equal(err.kind, 'result');
        assert.equal(err.errCode, 'OUT_TRADE_NO_USED');
        assert.equal(err.errCodeDes, '商户订单号重复');
        assert.equal(sim.order(req.out_trade_no)!.prepayId, first.prepay_id);
        assert.equal(sim.order(req.out_trade_no)!.params.total_fee, '1200');
      });
    }

    it('with a different spbill_create_ip is the same order (another server of the merchant)', async () => {
      const req = orderRequest(NOTIFY_URL);
      const first = await payClient(sim).unifiedOrder(req);
      const second = await payClient(sim).unifiedOrder({ ...req, spbill_create_ip: '10.0.0.7' });
      assert.equal(second.prepay_id, first.prepay_id);
    });

    it('after payment gets ORDERPAID', async () => {
      const req = orderRequest(NOTIFY_URL);
      await payClient(sim).unifiedOrder(req);
      await sim.pay(req.out_trade_no);
      const err = await apiError(payClient(sim).unifiedOrder(req));
      assert.equal(err.errCode, 'ORDERPAID');
    });

    it('after close gets ORDERCLOSED', async () => {
      const req = orderRequest(NOTIFY_URL);
      await payClient(sim).unifiedOrder(req);
      await payClient(sim).closeOrder(req.out_trade_no);
      const err = await apiError(payClient(sim).unifiedOrder(req));
      assert.equal(err.errCode, 'ORDERCLOSED');
    });

    it('after its time_expire gets ORDERCLOSED', async () => {
      const req = orderRequest(NOTIFY_URL, { time_expire: toBeijingCompact(new Date(clock.now().getTime() + 10 * 60_000)) });
      await payClient(sim).unifiedOrder(req);
      clock.advance(10 * 60_000);
      const err = await apiError(payClient(sim).unifiedOrder(req));
      assert.equal(err.errCode, 'ORDERCLOSED');
      assert.equal(sim.order(req.out_trade_no)!.tradeState, 'CLOSED');
    });

    it('after a failed payment is still the same payable order', async () => {
      const req = orderRequest(NOTIFY_URL);
      const first = await payClient(sim).unifiedOrder(req);
      await sim.pay(req.out_trade_no, { result: 'FAIL' });
      const second = await payClient(sim).unifiedOrder(req);
      assert.equal(second.prepay_id, first.prepay_id);
    });

    it('at another merchant is another order', async () => {
      const req = orderRequest(NOTIFY_URL);
      const mine = await payClient(sim).unifiedOrder(req);
      const theirs = await payClient(sim, { mchId: '1900000002', apiKey: 'otherkey000000000000000000000002' })
        .unifiedOrder({ ...req, total_fee: 1 });
      assert.notEqual(theirs.prepay_id, mine.prepay_id);
    });
  });

  describe('request form failures (return_code FAIL, unsigned)', () => {
    it('a GET gets 请使用post方法', async () => {
      const res = await rawCall(sim, '/pay/unifiedorder', undefined, 'GET');
      assert.equal(res.status, 200);
      assertReturnFail(res.fields, '请使用post方法');
    });

    it('an empty body gets post数据为空', async () => {
      assertReturnFail((await rawCall(sim, '/pay/unifiedorder', '')).fields, 'post数据为空');
    });

    for (const [ label, body ] of [
      [ 'malformed XML', '<xml><appid>wx</appid>' ],
      [ 'JSON', '{"appid":"wx0000000000000001"}' ],
      [ 'a DOCTYPE (XXE)', '<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><appid>&x;</appid></xml>' ],
      [ 'nested elements', '<xml><appid><a>1</a></appid></xml>' ],
    ]) {
      it(`${label} gets XML格式错误`, async () => {
        assertReturnFail((await rawCall(sim, '/pay/unifiedorder', body)).fields, 'XML格式错误');
      });
    }

    it('a missing mch_id gets 缺少参数mch_id', async () => {
      const res = await rawCall(sim, '/pay/unifiedorder', signedXml(rawOrderParams({ mch_id: undefined })));
      assertReturnFail(res.fields, '缺少参数mch_id');
    });

    it('an unknown mch_id (MCHID_NOT_EXIST) gets MCHID不存在', async () => {
      const err = await apiError(payClient(sim, { mchId: '1900000999' }).unifiedOrder(orderRequest(NOTIFY_URL)));
      assert.equal(err.kind, 'return');
      assert.equal(err.errCodeDes, 'MCHID不存在');
    });

    it('a wrong key gets 签名错误 and creates nothing', async () => {
      const req = orderRequest(NOTIFY_URL);
      const err = await apiError(payClient(sim, { apiKey: 'x'.repeat(32) }).unifiedOrder(req));
      assert.equal(err.kind, 'return');
      assert.equal(err.errCodeDes, '签名错误');
      assert.deepEqual(err.reply, { return_code: 'FAIL', return_msg: '签名错误' });
      assert.equal(sim.order(req.out_trade_no), undefined);
    });

    it('a missing sign gets 签名错误', async () => {
      const xml = signedXml(rawOrderParams()).replace(/<sign>.*?<\/sign>/, '');
      assertReturnFail((await rawCall(sim, '/pay/unifiedorder', xml)).fields, '签名错误');
    });

    it('a field changed after signing gets 签名错误', async () => {
      const xml = signedXml(rawOrderParams({ total_fee: '1200' })).replace('<total_fee><![CDATA[1200]]>', '<total_fee><![CDATA[1]]>');
      assertReturnFail((await rawCall(sim, '/pay/unifiedorder', xml)).fields, '签名错误');
    });

    it('an HMAC-SHA256 sign_type with an MD5 signature gets 签名错误', async () => {
      const xml = signedXml(rawOrderParams(), { signType: 'HMAC-SHA256', signAs: 'MD5' });
      assertReturnFail((await rawCall(sim, '/pay/unifiedorder', xml)).fields, '签名错误');
    });

    it('an unsupported sign_type is refused', async () => {
      const params = { ...rawOrderParams(), sign_type: 'SHA1' };
      const res = await rawCall(sim, '/pay/unifiedorder', signedXml(params, { signType: undefined, signAs: 'MD5' }));
      assertReturnFail(res.fields, 'sign_type参数格式错误');
    });

    it('JSAPI without openid gets JSAPI支付必须传openid', async () => {
      const res = await rawCall(sim, '/pay/unifiedorder', signedXml(rawOrderParams({ openid: undefined })));
      assertReturnFail(res.fields, 'JSAPI支付必须传openid');
    });
  });

  describe('business failures (result_code FAIL, signed)', () => {
    it('an unknown appid gets APPID_NOT_EXIST', async () => {
      const res = await rawCall(sim, '/pay/unifiedorder', signedXml(rawOrderParams({ appid: 'wx9999999999999999' }), { signType: 'HMAC-SHA256' }));
      assertResultFail(res.fields, 'APPID_NOT_EXIST', 'HMAC-SHA256');
    });

    it('an app the merchant is not bound to gets APPID_MCHID_NOT_MATCH', async () => {
      const err = await apiError(payClient(sim, { appId: 'wx0000000000000002' }).unifiedOrder(orderRequest(NOTIFY_URL)));
      assert.equal(err.kind, 'result');
      assert.equal(err.errCode, 'APPID_MCHID_NOT_MATCH');
    });

    for (const field of [ 'appid', 'nonce_str', 'body', 'out_trade_no', 'total_fee', 'spbill_create_ip', 'notify_url', 'trade_type' ]) {
      it(`a missing ${field} gets LACK_PARAMS`, async () => {
        const res = await rawCall(sim, '/pay/unifiedorder', signedXml(rawOrderParams({ [field]: undefined })));
        assertResultFail(res.fields, 'LACK_PARAMS');
        assert.match(res.fields.err_code_des, new RegExp(field));
      });
    }

    for (const [ field, value ] of [
      [ 'trade_type', 'MICROPAY' ], [ 'trade_type', 'jsapi' ],
      [ 'total_fee', '0' ], [ 'total_fee', '-1' ], [ 'total_fee', '12.5' ], [ 'total_fee', '012' ], [ 'total_fee', 'abc' ],
      [ 'total_fee', '99999999999' ],
      [ 'out_trade_no', 'x'.repeat(33) ], [ 'out_trade_no', 'has#hash' ], [ 'out_trade_no', '订单1' ], [ 'out_trade_no', 'a b' ],
      [ 'body', '咖'.repeat(43) ], [ 'attach', 'a'.repeat(128) ],
      [ 'openid', 'bad openid' ],
      [ 'spbill_create_ip', 'localhost' ], [ 'spbill_create_ip', '300.1.1.1' ],
      [ 'notify_url', 'not a url' ], [ 'notify_url', 'ftp://127.0.0.1/notify' ], [ 'notify_url', 'http://127.0.0.1/notify?order=1' ],
      [ 'notify_url', `http://127.0.0.1/${'n'.repeat(250)}` ],
      [ 'fee_type', 'USD' ],
      [ 'time_start', '2026-01-15 10:00:00' ], [ 'time_start', '20261315100000' ],
      [ 'time_expire', '202601151000' ], [ 'time_expire', '20260230100000' ],
      [ 'nonce_str', 'n'.repeat(33) ],
    ] as const) {
      it(`${field}=${value.length > 40 ? value.slice(0, 20) + '…' : value} gets PARAM_ERROR`, async () => {
        const res = await rawCall(sim, '/pay/unifiedorder', signedXml(rawOrderParams({ [field]: value })));
        assertResultFail(res.fields, 'PARAM_ERROR');
      });
    }

    it('time_expire less than a minute after time_start gets PARAM_ERROR', async () => {
      const start = clock.now();
      const res = await rawCall(sim, '/pay/unifiedorder', signedXml(rawOrderParams({
        time_start: toBeijingCompact(start), time_expire: toBeijingCompact(new Date(start.getTime() + 59_000)),
      })));
      assertResultFail(res.fields, 'PARAM_ERROR');
      assert.match(res.fields.err_code_des, /time_expire/);
    });

    it('time_expire less than a minute from now gets PARAM_ERROR', async () => {
      const res = await rawCall(sim, '/pay/unifiedorder', signedXml(rawOrderParams({
        time_start: '20200101000000', time_expire: toBeijingCompact(new Date(clock.now().getTime() + 30_000)),
      })));
      assertResultFail(res.fields, 'PARAM_ERROR');
    });

    it('a refused request creates no order', async () => {
      const params = rawOrderParams({ total_fee: '0' });
      await rawCall(sim, '/pay/unifiedorder', signedXml(params));
      assert.equal(sim.order(params.out_trade_no!), undefined);
    });

    it('the client sees business failures as result errors with WeChat\'s code', async () => {
      const err = await apiError(payClient(sim).unifiedOrder(orderRequest(NOTIFY_URL, { total_fee: 0 })));
      assert.equal(err.kind, 'result');
      assert.equal(err.errCode, 'PARAM_ERROR');
    });
  });
});
