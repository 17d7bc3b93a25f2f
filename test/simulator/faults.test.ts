import assert from 'node:assert/strict';
import { once } from 'node:events';
import { parseXml, verifySign, WechatApiError, WechatLoginError, WechatTransportError } from '../../lib/wechatpay';
import { WechatSimulator } from '../../simulator';
import { closedUrl } from '../support/closedPort';
import { DEV, MerchantServer, orderRequest, payClient, loginClient, rawCall, signedXml } from './helpers';

/** A notify_url whose connections are refused (set before the tests). */
let NOTIFY_URL = '';

async function failure(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(() => undefined, e => e);
  assert.ok(err instanceof Error, 'expected the call to fail');
  return err;
}

describe('simulator: faults', () => {
  const sim = new WechatSimulator({ retryScale: 0.001, notifyTimeoutMs: 500 });
  before(async () => {
    NOTIFY_URL = await closedUrl('/payment/notify');
    await sim.start();
  });
  after(() => sim.stop());
  beforeEach(() => sim.reset());

  describe('systemerror', () => {
    it('unified order answers a signed SYSTEMERROR, once, and creates nothing', async () => {
      sim.setFault('unifiedorder', { kind: 'systemerror' }, 1);
      const req = orderRequest(NOTIFY_URL);
      const err = await failure(payClient(sim).unifiedOrder(req));
      assert.ok(err instanceof WechatApiError);
      assert.equal(err.kind, 'result');
      assert.equal(err.errCode, 'SYSTEMERROR');
      assert.ok(verifySign(err.reply, DEV.apiKey, 'HMAC-SHA256'));
      assert.equal(sim.order(req.out_trade_no), undefined);
      // The retry with the same parameters goes through.
      const reply = await payClient(sim).unifiedOrder(req);
      assert.ok(reply.prepay_id);
    });

    it('lasts `times` requests', async () => {
      sim.setFault('orderquery', { kind: 'systemerror' }, 2);
      const query = () => payClient(sim).orderQuery({ out_trade_no: 'T-x' });
      assert.equal((await failure(query()) as WechatApiError).errCode, 'SYSTEMERROR');
      assert.equal((await failure(query()) as WechatApiError).errCode, 'SYSTEMERROR');
      assert.equal((await failure(query()) as WechatApiError).errCode, 'ORDERNOTEXIST');
    });

    it('lasts until cleared when times is not given', async () => {
      sim.setFault('closeorder', { kind: 'systemerror' });
      for (let i = 0; i < 3; i++) {
        assert.equal((await failure(payClient(sim).closeOrder('T-x')) as WechatApiError).errCode, 'SYSTEMERROR');
      }
      sim.clearFaults();
      assert.equal((await failure(payClient(sim).closeOrder('T-x')) as WechatApiError).errCode, 'ORDERNOTEXIST');
    });

    it('still checks the signature first: a bad one gets 签名错误', async () => {
      sim.setFault('unifiedorder', { kind: 'systemerror' }, 1);
      const res = await rawCall(sim, '/pay/unifiedorder', signedXml({ mch_id: DEV.mchId, nonce_str: 'n' }, { key: 'k'.repeat(32), signType: 'MD5' }));
      assert.deepEqual(res.fields, { return_code: 'FAIL', return_msg: '签名错误' });
    });

    it('jscode2session answers errcode -1 and leaves the code usable', async () => {
      sim.setFault('jscode2session', { kind: 'systemerror' }, 1);
      const code = sim.issueLoginCode({ openid: 'oBusy000000000000000000000001' });
      const err = await failure(loginClient(sim).code2Session(code));
      assert.ok(err instanceof WechatLoginError);
      assert.equal(err.errcode, -1);
      assert.equal(err.errmsg, 'system error');
      assert.equal((await loginClient(sim).code2Session(code)).openid, 'oBusy000000000000000000000001');
    });

    it('affects only its API', async () => {
      sim.setFault('orderquery', { kind: 'systemerror' });
      const reply = await payClient(sim).unifiedOrder(orderRequest(NOTIFY_URL));
      assert.ok(reply.prepay_id);
    });
  });

  describe('drop', () => {
    it('cuts the connection after the order is created, as a lost reply; the retry gets the same prepay_id', async () => {
      sim.setFault('unifiedorder', { kind: 'drop' }, 1);
      const req = orderRequest(NOTIFY_URL);
      const err = await failure(payClient(sim).unifiedOrder(req));
      assert.ok(err instanceof WechatTransportError);
      assert.equal(err.reason, 'network');
      const created = sim.order(req.out_trade_no);
      assert.ok(created, 'the request took effect');
      const reply = await payClient(sim).unifiedOrder(req);
      assert.equal(reply.prepay_id, created.prepayId);
    });

    it('with beforeProcessing loses the request itself', async () => {
      sim.setFault('unifiedorder', { kind: 'drop', beforeProcessing: true }, 1);
      const req = orderRequest(NOTIFY_URL);
      assert.ok(await failure(payClient(sim).unifiedOrder(req)) instanceof WechatTransportError);
      assert.equal(sim.order(req.out_trade_no), undefined);
      assert.equal(sim.requests('unifiedorder').length, 1, 'the request still arrived');
    });

    it('on closeorder: the order is closed though the merchant never heard', async () => {
      const req = orderRequest(NOTIFY_URL);
      await payClient(sim).unifiedOrder(req);
      sim.setFault('closeorder', { kind: 'drop' }, 1);
      assert.ok(await failure(payClient(sim).closeOrder(req.out_trade_no)) instanceof WechatTransportError);
      assert.equal(sim.order(req.out_trade_no)!.tradeState, 'CLOSED');
      assert.equal((await failure(payClient(sim).closeOrder(req.out_trade_no)) as WechatApiError).errCode, 'ORDERCLOSED');
    });

    it('on jscode2session: the code is used up though the reply was lost', async () => {
      sim.setFault('jscode2session', { kind: 'drop' }, 1);
      const code = sim.issueLoginCode();
      assert.ok(await failure(loginClient(sim).code2Session(code)) instanceof WechatTransportError);
      assert.equal((await failure(loginClient(sim).code2Session(code)) as WechatLoginError).errcode, 40163);
    });
  });

  describe('slow', () => {
    it('delays the reply by delayMs, then answers it', async () => {
      sim.setFault('orderquery', { kind: 'slow', delayMs: 150 }, 1);
      const arrived = once(sim, 'request');
      // The monotonic clock, read before the request leaves: the reply's timer starts after it, so
      // the wait measured is at least the delay, whatever the wall clock does meanwhile, less the
      // 2 ms by which libuv's timer clock (whole milliseconds, possibly the coarse clock) may lag it.
      const started = performance.now();
      const err = await failure(payClient(sim).orderQuery({ out_trade_no: 'T-x' }));
      const waited = performance.now() - started;
      const [ request ] = await arrived;
      assert.equal(request.params.out_trade_no, 'T-x');
      // Late, not lost: WeChat's real answer.
      assert.ok(err instanceof WechatApiError, String(err));
      assert.equal(err.errCode, 'ORDERNOTEXIST');
      assert.ok(waited >= 150 - 2, `answered after ${waited} ms`);
    });

    it('past the client timeout: a timeout error, yet the order exists and the retry gets its prepay_id', async () => {
      sim.setFault('unifiedorder', { kind: 'slow', delayMs: 500 }, 1);
      const req = orderRequest(NOTIFY_URL);
      const err = await failure(payClient(sim, { timeoutMs: 50 }).unifiedOrder(req));
      assert.ok(err instanceof WechatTransportError);
      assert.equal(err.reason, 'timeout');
      const created = sim.order(req.out_trade_no)!;
      assert.equal((await payClient(sim).unifiedOrder(req)).prepay_id, created.prepayId);
    });

    it('stop() does not wait for a slow reply', async () => {
      const other = new WechatSimulator();
      await other.start();
      // A reply held far longer than the test may run: only stop() cutting the connection ends the call.
      other.setFault('orderquery', { kind: 'slow', delayMs: 3_600_000 });
      const arrived = once(other, 'request');
      const call = failure(payClient(other, { timeoutMs: 30_000 }).orderQuery({ out_trade_no: 'T-x' }));
      await arrived;
      await other.stop();
      const err = await call;
      assert.ok(err instanceof WechatTransportError);
      // Cut by the server, not given up by the client after its 30 s timeout (what a stop() that waited would cause).
      assert.equal(err.reason, 'network');
    });
  });

  describe('notify', () => {
    let merchant: MerchantServer;
    before(async () => { merchant = await MerchantServer.start(); });
    after(() => merchant.stop());
    beforeEach(() => merchant.clear());

    async function paid(): Promise<string> {
      const req = orderRequest(merchant.url);
      await payClient(sim).unifiedOrder(req);
      await sim.pay(req.out_trade_no);
      return req.out_trade_no;
    }

    it('duplicate sends each attempt as several concurrent copies', async () => {
      sim.setFault('notify', { kind: 'duplicate', copies: 3 }, 1);
      merchant.hold();
      const no = await paid();
      await merchant.waitForRequests(3);
      merchant.release();
      const attempts = await sim.waitForDelivery(no, { count: 3 });
      assert.deepEqual(attempts.map(a => [ a.attempt, a.copy ]).sort(), [[ 1, 1 ], [ 1, 2 ], [ 1, 3 ]]);
      assert.equal(new Set(merchant.received.map(r => r.body)).size, 1, 'the copies are identical');
    });

    it('duplicate: one acknowledged copy ends the delivery', async () => {
      sim.setFault('notify', { kind: 'duplicate', copies: 2 }, 1);
      merchant.replyWith({ body: 'FAIL' });
      const no = await paid();
      const attempts = await sim.waitForDelivery(no, { count: 2 });
      assert.deepEqual(attempts.map(a => a.acknowledged).sort(), [ false, true ]);
    });

    it('drop delivers the notification but loses the answer, so WeChat resends', async () => {
      sim.setFault('notify', { kind: 'drop' }, 1);
      const no = await paid();
      const [ first, second ] = await sim.waitForDelivery(no, { count: 2 });
      assert.equal(first.acknowledged, false);
      assert.equal(first.status, 200);
      assert.match(first.error!, /reply lost/);
      assert.equal(second.acknowledged, true);
      assert.equal(merchant.received.length, 2, 'the merchant saw the notification twice');
    });

    it('drop with beforeProcessing never reaches the merchant; the resend does', async () => {
      sim.setFault('notify', { kind: 'drop', beforeProcessing: true }, 1);
      const no = await paid();
      const [ first, second ] = await sim.waitForDelivery(no, { count: 2 });
      assert.match(first.error!, /not sent/);
      assert.equal(second.acknowledged, true);
      assert.equal(merchant.received.length, 1);
    });

    it('slow holds the attempt back by delayMs', async () => {
      sim.setFault('notify', { kind: 'slow', delayMs: 100 }, 1);
      // The monotonic clock, read before the payment starts the delivery (see 'delays the reply by delayMs').
      const started = performance.now();
      const no = await paid();
      const [ attempt ] = await sim.waitForDelivery(no, { acknowledged: true });
      const waited = performance.now() - started;
      assert.equal(attempt.attempt, 1);
      assert.equal(merchant.received.length, 1);
      assert.ok(waited >= 100 - 2, `delivered after ${waited} ms`);
    });

    it('manual sends ignore faults', async () => {
      const no = await paid();
      await sim.waitForDelivery(no, { acknowledged: true });
      sim.setFault('notify', { kind: 'drop', beforeProcessing: true });
      const [ sent ] = await sim.sendNotification(no);
      assert.equal(sent.acknowledged, true);
    });
  });

  describe('setFault', () => {
    it('refuses faults that make no sense', () => {
      assert.throws(() => sim.setFault('unifiedorder', { kind: 'duplicate', copies: 2 }), /notify only/);
      assert.throws(() => sim.setFault('notify', { kind: 'systemerror' }), /does not apply to notify/);
      assert.throws(() => sim.setFault('notify', { kind: 'duplicate', copies: 0 }), /copies/);
      assert.throws(() => sim.setFault('orderquery', { kind: 'slow', delayMs: -1 }), /delayMs/);
      assert.throws(() => sim.setFault('nope' as any, { kind: 'systemerror' }), /unknown api/);
      assert.throws(() => sim.setFault('orderquery', { kind: 'systemerror' }, 0), /times/);
    });

    it('reset() clears faults', async () => {
      sim.setFault('orderquery', { kind: 'systemerror' });
      sim.reset();
      assert.equal((await failure(payClient(sim).orderQuery({ out_trade_no: 'T-x' })) as WechatApiError).errCode, 'ORDERNOTEXIST');
    });
  });

  describe('requests()', () => {
    it('records every call with its API, method and parsed fields, faulted or not', async () => {
      sim.setFault('orderquery', { kind: 'drop' }, 1);
      await failure(payClient(sim).orderQuery({ out_trade_no: 'T-1' }));
      await failure(payClient(sim).orderQuery({ out_trade_no: 'T-2' }));
      await rawCall(sim, '/pay/closeorder', '<not xml');
      const queries = sim.requests('orderquery');
      assert.deepEqual(queries.map(r => r.params.out_trade_no), [ 'T-1', 'T-2' ]);
      assert.ok(queries.every(r => r.api === 'orderquery' && r.method === 'POST' && r.at instanceof Date));
      assert.deepEqual(sim.requests('closeorder').map(r => r.params), [{}]);
      assert.equal(sim.requests().length, 3);
    });

    it('returns copies: changing them changes nothing', async () => {
      await failure(payClient(sim).orderQuery({ out_trade_no: 'T-1' }));
      sim.requests()[0].params.out_trade_no = 'changed';
      assert.equal(sim.requests()[0].params.out_trade_no, 'T-1');
    });
  });

  it('parses what it recorded from the raw XML', async () => {
    const xml = signedXml({ appid: DEV.appId, mch_id: DEV.mchId, nonce_str: 'abc', out_trade_no: 'T-9' });
    await rawCall(sim, '/pay/orderquery', xml);
    assert.deepEqual(sim.requests('orderquery')[0].params, parseXml(xml));
  });
});
