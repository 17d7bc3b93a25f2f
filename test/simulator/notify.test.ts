import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import { parseXml, toBeijingCompact, verifySign } from '../../lib/wechatpay';
import { DeliveryAttempt, NOTIFY_RETRY_DELAYS_MS, WechatSimulator } from '../../simulator';
import { closedUrl } from '../support/closedPort';
import { ACK, deliveryEnd, DEV, MerchantServer, useSimulatorWithMerchant, NACK, OPENID, orderRequest, payClient } from './helpers';

const SCALE = 0.001;

describe('simulator: payment notifications', () => {
  const sim = new WechatSimulator({ retryScale: SCALE, notifyTimeoutMs: 500 });
  const world = useSimulatorWithMerchant(sim);
  let merchant: MerchantServer;
  before(() => { merchant = world.merchant; });

  async function placeOrder(signType: 'MD5' | 'HMAC-SHA256' = 'HMAC-SHA256', overrides: Record<string, unknown> = {}) {
    const req = orderRequest(merchant.url, overrides);
    await payClient(sim, { signType }).unifiedOrder(req);
    return req.out_trade_no;
  }

  describe('delivery after payment', () => {
    for (const signType of [ 'MD5', 'HMAC-SHA256' ] as const) {
      it(`POSTs the signed result to notify_url (${signType} order, no sign_type field)`, async () => {
        const no = await placeOrder(signType, { attach: 'cart=9', total_fee: 3250 });
        const payment = await sim.pay(no, { bankType: 'ICBC_DEBIT' });
        const [ delivery ] = await sim.waitForDelivery(no, { acknowledged: true });

        assert.equal(merchant.received.length, 1);
        const got = merchant.received[0];
        assert.equal(got.method, 'POST');
        assert.equal(got.path, '/payment/notify');
        assert.match(String(got.headers['content-type']), /^text\/xml/);
        assert.equal(got.body, delivery.body);
        const fields = parseXml(got.body);
        assert.ok(verifySign(fields, DEV.apiKey, signType), 'signed with the order\'s sign type');
        assert.ok(!verifySign(fields, DEV.apiKey, signType === 'MD5' ? 'HMAC-SHA256' : 'MD5'));
        assert.ok(!('sign_type' in fields));
        assert.deepEqual({ ...fields, nonce_str: '', sign: '' }, {
          return_code: 'SUCCESS', appid: DEV.appId, mch_id: DEV.mchId, nonce_str: '', sign: '',
          result_code: 'SUCCESS', openid: OPENID, is_subscribe: 'N', trade_type: 'JSAPI', bank_type: 'ICBC_DEBIT',
          total_fee: '3250', cash_fee: '3250', fee_type: 'CNY', transaction_id: payment.transactionId,
          out_trade_no: no, attach: 'cart=9', time_end: payment.timeEnd,
        });
        assert.match(fields.nonce_str, /^[A-Za-z0-9]{32}$/);

        assert.equal(delivery.status, 200);
        assert.equal(delivery.reply, ACK);
        assert.equal(delivery.attempt, 1);
        assert.equal(delivery.source, 'schedule');
        assert.equal(delivery.delayMs, 0);
        assert.equal(delivery.url, merchant.url);
      });
    }

    it('pay() resolves with the payment before the delivery is done', async () => {
      const no = await placeOrder();
      merchant.replyWith('hang');
      const payment = await sim.pay(no);
      assert.equal(payment.result, 'SUCCESS');
      assert.equal(payment.tradeState, 'SUCCESS');
      assert.equal(payment.totalFee, 1200);
      assert.equal(payment.openid, OPENID);
      assert.equal(payment.bankType, 'OTHERS');
      assert.match(payment.transactionId!, /^4200\d{24}$/);
      assert.equal(payment.timeEnd, toBeijingCompact(sim.order(no)!.paidAt!));
      assert.deepEqual(sim.deliveries(no), []);
      await sim.waitForDelivery(no, { acknowledged: true });
    });

    it('a failed payment notifies result_code FAIL with err_code, without transaction_id', async () => {
      const no = await placeOrder();
      const payment = await sim.pay(no, { result: 'FAIL' });
      assert.equal(payment.transactionId, undefined);
      assert.equal(payment.tradeState, 'PAYERROR');
      await sim.waitForDelivery(no, { acknowledged: true });
      const fields = parseXml(merchant.received[0].body);
      assert.equal(fields.return_code, 'SUCCESS');
      assert.equal(fields.result_code, 'FAIL');
      assert.equal(fields.err_code, 'NOTENOUGH');
      assert.ok(fields.err_code_des);
      assert.ok(!('transaction_id' in fields));
      assert.ok(verifySign(fields, DEV.apiKey, 'HMAC-SHA256'));
    });

    it('emits a delivery event for every attempt and deliveryEnd when acknowledged', async () => {
      const no = await placeOrder();
      const seen: DeliveryAttempt[] = [];
      const listener = (a: DeliveryAttempt) => seen.push(a);
      sim.on('delivery', listener);
      merchant.replyWith({ body: NACK });
      const ended = deliveryEnd(sim, no);
      await sim.pay(no);
      const end = await ended;
      sim.off('delivery', listener);
      assert.deepEqual(end, { kind: 'payment', outTradeNo: no, acknowledged: true, attempts: 2 });
      assert.deepEqual(seen.map(a => a.acknowledged), [ false, true ]);
      assert.deepEqual(sim.deliveries(no), seen);
    });
  });

  describe('retries', () => {
    it('resends on WeChat\'s schedule, scaled, until the reply is XML with return_code SUCCESS', async () => {
      const no = await placeOrder();
      merchant.replyWith(
        { body: NACK },
        { body: 'success' }, // not XML
        { status: 500, body: ACK }, // an error status does not count
        { body: '<xml><return_code>SUCCESS</return_code></xml>' }, // no CDATA, no return_msg: still SUCCESS
      );
      const ended = deliveryEnd(sim, no);
      await sim.pay(no);
      const attempts = await sim.waitForDelivery(no, { count: 4 });
      assert.deepEqual(await ended, { kind: 'payment', outTradeNo: no, acknowledged: true, attempts: 4 });
      assert.deepEqual(attempts.map(a => a.attempt), [ 1, 2, 3, 4 ]);
      assert.deepEqual(attempts.map(a => a.delayMs), [ 0, ...NOTIFY_RETRY_DELAYS_MS.slice(0, 3).map(d => d * SCALE) ]);
      assert.deepEqual(attempts.map(a => a.acknowledged), [ false, false, false, true ]);
      assert.deepEqual(attempts.map(a => a.status), [ 200, 200, 500, 200 ]);
      assert.equal(attempts[0].reply, NACK);
      assert.equal(attempts[1].reply, 'success');
      // Every resend is the same notification.
      assert.equal(new Set(merchant.received.map(r => r.body)).size, 1);
      assert.equal(merchant.received.length, 4);
    });

    it('gives up after the 15 resends of the schedule (16 attempts)', async () => {
      const fast = new WechatSimulator({ retryScale: 0.00001, notifyTimeoutMs: 500 });
      await fast.start();
      try {
        const req = orderRequest(merchant.url);
        await payClient(fast).unifiedOrder(req);
        merchant.replyWith(...Array.from({ length: 16 }, () => ({ body: NACK })));
        const ended = deliveryEnd(fast, req.out_trade_no);
        await fast.pay(req.out_trade_no);
        assert.deepEqual(await ended, { kind: 'payment', outTradeNo: req.out_trade_no, acknowledged: false, attempts: 16 });
        const attempts = fast.deliveries(req.out_trade_no);
        assert.equal(attempts.length, 16);
        assert.deepEqual(attempts.map(a => a.delayMs), [ 0, ...NOTIFY_RETRY_DELAYS_MS.map(d => d * 0.00001) ]);
        assert.ok(attempts.every(a => !a.acknowledged));
        assert.equal(merchant.received.length, 16);
      } finally {
        await fast.stop();
      }
    });

    it('the schedule is WeChat\'s: 15s 15s 30s 3m 10m 20m 30m 30m 30m 60m 3h 3h 3h 6h 6h', () => {
      const m = 60_000;
      assert.deepEqual(NOTIFY_RETRY_DELAYS_MS, [
        15_000, 15_000, 30_000, 3 * m, 10 * m, 20 * m, 30 * m, 30 * m, 30 * m, 60 * m, 180 * m, 180 * m, 180 * m, 360 * m, 360 * m,
      ]);
    });

    it('a merchant that does not answer in time counts as a failure', async () => {
      const no = await placeOrder();
      merchant.replyWith('hang');
      await sim.pay(no);
      const [ first, second ] = await sim.waitForDelivery(no, { count: 2 });
      assert.equal(first.acknowledged, false);
      assert.equal(first.status, undefined);
      assert.match(first.error!, /did not answer within 500 ms/);
      assert.equal(second.acknowledged, true);
    });

    it('an unreachable notify_url is recorded as an error and retried', async () => {
      const req = orderRequest(await closedUrl('/payment/notify'));
      await payClient(sim).unifiedOrder(req);
      await sim.pay(req.out_trade_no);
      const attempts = await sim.waitForDelivery(req.out_trade_no, { count: 2 });
      assert.ok(attempts.every(a => !a.acknowledged && a.status === undefined && /ECONNREFUSED/.test(a.error!)));
      assert.equal(attempts[1].attempt, 2);
    });

    it('reset() stops the deliveries under way and forgets them', async () => {
      const req = orderRequest(await closedUrl('/payment/notify'));
      await payClient(sim).unifiedOrder(req);
      await sim.pay(req.out_trade_no);
      await sim.waitForDelivery(req.out_trade_no, { count: 2 });
      sim.reset();
      assert.deepEqual(sim.deliveries(), []);
      assert.equal(sim.order(req.out_trade_no), undefined);
    });

    it('stop() ends at once even with a notification in flight and retries pending', async () => {
      // The merchant never answers and WeChat would wait an hour for it: stop() resolving at all
      // shows it cut the delivery off rather than waiting.
      const other = new WechatSimulator({ retryScale: 1, notifyTimeoutMs: 3_600_000 });
      await other.start();
      const req = orderRequest(merchant.url);
      await payClient(other).unifiedOrder(req);
      merchant.replyWith('hang');
      const cut = new Promise<void>(resolve => merchant.once('request', (request: http.IncomingMessage) => request.socket.once('close', () => resolve())));
      await other.pay(req.out_trade_no);
      await merchant.waitForRequests(1);
      await other.stop();
      // The notification in flight was cut off by stop(), not left to its hour-long timeout.
      await cut;
      assert.deepEqual(other.deliveries(), [], 'the cut-off attempt is not recorded');
    });
  });

  describe('waitForDelivery', () => {
    it('resolves at once with attempts already recorded', async () => {
      const no = await placeOrder();
      await sim.pay(no);
      const first = await sim.waitForDelivery(no);
      const again = await sim.waitForDelivery(no, { acknowledged: true });
      assert.deepEqual(again, first);
    });

    it('filters by outcome and waits for the count', async () => {
      const no = await placeOrder();
      merchant.replyWith({ body: NACK }, { body: NACK });
      await sim.pay(no);
      const failures = await sim.waitForDelivery(no, { acknowledged: false, count: 2 });
      assert.equal(failures.length, 2);
      const [ ok ] = await sim.waitForDelivery(no, { acknowledged: true });
      assert.equal(ok.attempt, 3);
    });

    it('rejects after timeoutMs, saying what it saw', async () => {
      const no = await placeOrder();
      await assert.rejects(sim.waitForDelivery(no, { timeoutMs: 20 }), /waited 20 ms for 1 deliveries of .*, saw 0/);
    });

    it('only counts the given order', async () => {
      const a = await placeOrder();
      const b = await placeOrder();
      await sim.pay(a);
      await sim.waitForDelivery(a);
      await assert.rejects(sim.waitForDelivery(b, { timeoutMs: 20 }), /saw 0/);
    });
  });

  describe('sendNotification and buildNotification', () => {
    async function paidAndAcknowledged(signType: 'MD5' | 'HMAC-SHA256' = 'HMAC-SHA256') {
      const no = await placeOrder(signType);
      await sim.pay(no);
      await sim.waitForDelivery(no, { acknowledged: true });
      merchant.received.length = 0;
      return no;
    }

    it('buildNotification gives the signed fields, with a fresh nonce each time', async () => {
      const no = await paidAndAcknowledged('MD5');
      const a = sim.buildNotification(no);
      const b = sim.buildNotification(no);
      assert.ok(verifySign(a, DEV.apiKey, 'MD5'));
      assert.notEqual(a.nonce_str, b.nonce_str);
      assert.equal(a.transaction_id, sim.order(no)!.transactionId);
    });

    it('sends copies one after another, without retries, recorded as manual', async () => {
      const no = await paidAndAcknowledged();
      merchant.replyWith({ body: NACK });
      const sent = await sim.sendNotification(no, { copies: 3 });
      assert.deepEqual(sent.map(a => [ a.source, a.attempt, a.copy, a.acknowledged ]), [
        [ 'manual', 1, 1, false ], [ 'manual', 2, 2, true ], [ 'manual', 3, 3, true ],
      ]);
      assert.equal(merchant.received.length, 3);
      assert.equal(sim.deliveries(no).length, 4);
    });

    it('sends copies concurrently', async () => {
      const no = await paidAndAcknowledged();
      // Nothing is answered until all three have arrived: they must be in flight together.
      merchant.hold();
      const sending = sim.sendNotification(no, { copies: 3, concurrent: true });
      await merchant.waitForRequests(3);
      merchant.release();
      const sent = await sending;
      assert.deepEqual(sent.map(a => a.copy).sort(), [ 1, 2, 3 ]);
      assert.ok(sent.every(a => a.acknowledged && a.source === 'manual'));
    });

    it('mutate + resign: the tampered fields carry a valid signature', async () => {
      const no = await paidAndAcknowledged();
      const [ sent ] = await sim.sendNotification(no, { mutate: f => ({ ...f, total_fee: '1' }), resign: true });
      const fields = parseXml(sent.body);
      assert.equal(fields.total_fee, '1');
      assert.ok(verifySign(fields, DEV.apiKey, 'HMAC-SHA256'));
    });

    it('mutate without resign keeps the old signature, which no longer verifies', async () => {
      const no = await paidAndAcknowledged();
      const [ sent ] = await sim.sendNotification(no, { mutate: f => ({ ...f, total_fee: '1' }), resign: false });
      const fields = parseXml(sent.body);
      assert.equal(fields.total_fee, '1');
      assert.ok(!verifySign(fields, DEV.apiKey, 'HMAC-SHA256'));
    });

    it('a field mutated to undefined is left out', async () => {
      const no = await paidAndAcknowledged();
      const [ sent ] = await sim.sendNotification(no, { mutate: f => ({ ...f, sign: undefined }), resign: false });
      assert.ok(!('sign' in parseXml(sent.body)));
    });

    it('refuses an unpaid or unknown order', async () => {
      const no = await placeOrder();
      await assert.rejects(sim.sendNotification(no), /has not been paid/);
      await assert.rejects(sim.sendNotification('T-unknown'), /no order/);
      assert.throws(() => sim.buildNotification(no), /has not been paid/);
    });

    it('refuses a non-positive number of copies', async () => {
      const no = await paidAndAcknowledged();
      await assert.rejects(sim.sendNotification(no, { copies: 0 }), /copies/);
    });
  });

  describe('the payer', () => {
    it('cannot pay twice', async () => {
      const no = await placeOrder();
      await sim.pay(no);
      await assert.rejects(sim.pay(no), /already paid/);
    });

    it('cannot pay a closed order, unless told to (payment racing the close)', async () => {
      const no = await placeOrder();
      await payClient(sim).closeOrder(no);
      await assert.rejects(sim.pay(no), /closed/);
      const payment = await sim.pay(no, { payClosedOrder: true });
      assert.equal(payment.tradeState, 'SUCCESS');
      await sim.waitForDelivery(no, { acknowledged: true });
    });

    it('cannot pay an unknown order', async () => {
      await assert.rejects(sim.pay('T-unknown'), /no order/);
    });

    it('can pay again after a failed payment', async () => {
      const no = await placeOrder();
      await sim.pay(no, { result: 'FAIL' });
      const payment = await sim.pay(no);
      assert.equal(payment.tradeState, 'SUCCESS');
      const acked = await sim.waitForDelivery(no, { acknowledged: true, count: 2 });
      assert.deepEqual(acked.map(a => parseXml(a.body).result_code), [ 'FAIL', 'SUCCESS' ]);
    });

    it('emits delivery on the simulator (EventEmitter)', async () => {
      const no = await placeOrder();
      const event = once(sim, 'delivery');
      await sim.pay(no);
      const [ attempt ] = await event as [DeliveryAttempt];
      assert.equal(attempt.outTradeNo, no);
    });
  });
});
