import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { app, mock } from 'egg-mock/bootstrap';
import { WechatPayClient } from '../../../lib/wechatpay';
import { DEV_CREDENTIALS } from '../../../simulator';
import { closedUrl } from '../../support/closedPort';
import { testEnv } from '../../support/env';
import { createOrder, login, resetWorld } from '../../support/fixtures';
import {
  adminHeader, listRefunds, useManualRefunds, orderEvents, paidOrder, requestRefund, storedOrder, storedRefund,
} from '../../support/refunds';

/** Waits for WeChat's refund notification of this refund to be acknowledged by the app. */
async function refundNotified(sim: typeof testEnv.sim, outTradeNo: string, count = 1) {
  await sim.waitForDelivery(outTradeNo, { kind: 'refund', acknowledged: true, count });
}

const refundRequests = (sim = testEnv.sim) => sim.requests('refund').map(r => r.params);

describe('refunds: POST/GET /admin/orders/:outTradeNo/refunds', () => {
  let token: string;
  beforeEach(async () => {
    await resetWorld();
    ({ token } = await login());
  });
  afterEach(() => testEnv.sim.clearFaults());

  describe('admin credential', () => {
    it('no token: 401 ADMIN_UNAUTHORIZED, nothing refunded', async () => {
      const { outTradeNo } = await paidOrder(token);
      const res = await app.httpRequest().post(`/admin/orders/${outTradeNo}/refunds`).send({ amount: 100, reason: 'r' })
        .expect(401);
      assert.deepEqual(res.body, { code: 'ADMIN_UNAUTHORIZED', message: 'the admin API needs Authorization: Bearer <admin token>' });
      await app.httpRequest().get(`/admin/orders/${outTradeNo}/refunds`).expect(401);
      assert.equal(await app.model.Refund.count(), 0);
      assert.equal(refundRequests().length, 0);
    });

    it('a wrong admin token, or one differing in its last character: 401', async () => {
      const { outTradeNo } = await paidOrder(token);
      const good = app.config.adminToken;
      for (const wrong of [ 'not-the-admin-token', `${good.slice(0, -1)}x`, `${good}x`, good.toUpperCase() ]) {
        const res = await app.httpRequest().post(`/admin/orders/${outTradeNo}/refunds`)
          .set('Authorization', `Bearer ${wrong}`)
          .send({ amount: 100, reason: 'r' })
          .expect(401);
        assert.equal(res.body.code, 'ADMIN_UNAUTHORIZED');
      }
      await app.httpRequest().get(`/admin/orders/${outTradeNo}/refunds`).set('Authorization', `Basic ${good}`)
        .expect(401);
      assert.equal(await app.model.Refund.count(), 0);
    });

    it('a user\'s session token is refused, even the order owner\'s', async () => {
      const { outTradeNo } = await paidOrder(token);
      const res = await app.httpRequest().post(`/admin/orders/${outTradeNo}/refunds`)
        .set('Authorization', `Bearer ${token}`)
        .send({ amount: 100, reason: 'r' })
        .expect(401);
      assert.equal(res.body.code, 'ADMIN_UNAUTHORIZED');
      await app.httpRequest().get(`/admin/orders/${outTradeNo}/refunds`).set('Authorization', `Bearer ${token}`)
        .expect(401);
      assert.equal(await app.model.Refund.count(), 0);
    });

    it('an empty configured admin token lets nobody in', async () => {
      const { outTradeNo } = await paidOrder(token);
      const configured = app.config.adminToken;
      mock(app.config, 'adminToken', '');
      await app.httpRequest().get(`/admin/orders/${outTradeNo}/refunds`).set('Authorization', 'Bearer ')
        .expect(401);
      // Real-looking tokens, which the header pattern accepts: the one configured before, a random one.
      for (const given of [ configured, randomBytes(32).toString('base64url') ]) {
        const list = await app.httpRequest().get(`/admin/orders/${outTradeNo}/refunds`).set('Authorization', `Bearer ${given}`)
          .expect(401);
        assert.deepEqual(list.body, { code: 'ADMIN_UNAUTHORIZED', message: 'the admin API needs Authorization: Bearer <admin token>' });
        const create = await app.httpRequest().post(`/admin/orders/${outTradeNo}/refunds`)
          .set('Authorization', `Bearer ${given}`)
          .send({ amount: 100, reason: 'r' })
          .expect(401);
        assert.equal(create.body.code, 'ADMIN_UNAUTHORIZED');
      }
      assert.equal(await app.model.Refund.count(), 0);
      assert.equal(refundRequests().length, 0);
    });
  });

  describe('requests', () => {
    it('a partial refund: 201 PROCESSING with WeChat\'s refund_id, then the notification makes it SUCCESS; the order stays SUCCESS with refundedFee', async () => {
      const { outTradeNo, transactionId } = await paidOrder(token, testEnv.sim, 2); // 2400 fen
      const res = await requestRefund(outTradeNo, { amount: 1000, reason: 'one coffee was cold' }).expect(201);
      // WeChat finishes balance refunds at once: its notification may be applied before this reply.
      assert.ok([ 'PROCESSING', 'SUCCESS' ].includes(res.body.status));
      assert.equal(res.body.amount, 1000);
      assert.equal(res.body.outTradeNo, outTradeNo);
      assert.equal(res.body.paymentOutTradeNo, outTradeNo);
      assert.equal(res.body.transactionId, transactionId);
      assert.match(res.body.outRefundNo, /^R\d{14}[0-9a-f]{16}$/);
      assert.match(res.body.refundId, /^50\d{27}$/);

      // What WeChat received: the same numbers, over mutual TLS.
      const [ sent ] = refundRequests();
      assert.equal(sent.out_trade_no, outTradeNo);
      assert.equal(sent.out_refund_no, res.body.outRefundNo);
      assert.equal(sent.total_fee, '2400');
      assert.equal(sent.refund_fee, '1000');
      assert.equal(sent.refund_desc, 'one coffee was cold');
      assert.equal(sent.notify_url, app.config.wechat.refundNotifyUrl);

      await refundNotified(testEnv.sim, outTradeNo);
      const refund = await storedRefund(res.body.outRefundNo);
      assert.equal(refund.status, 'SUCCESS');
      assert.equal(refund.refundId, res.body.refundId);
      assert.ok(refund.successAt instanceof Date);
      const order = await storedOrder(outTradeNo);
      assert.equal(order.status, 'SUCCESS');
      assert.equal(order.refundedFee, 1000);
      assert.equal(testEnv.sim.order(outTradeNo)!.refunds[0].status, 'SUCCESS');
      assert.deepEqual(await orderEvents(outTradeNo), [[ 'PAID', 'notify' ], [ 'REFUND_REQUESTED', 'admin' ], [ 'REFUNDED', 'notify' ]]);

      // The owner sees the refunded amount on the order.
      const view = await app.httpRequest().get(`/payment/orders/${outTradeNo}`).set('Authorization', `Bearer ${token}`)
        .expect(200);
      assert.equal(view.body.status, 'SUCCESS');
      assert.equal(view.body.refundedFee, 1000);

      const list = await listRefunds(outTradeNo).expect(200);
      assert.equal(list.body.refundedFee, 1000);
      assert.deepEqual(list.body.payments, [{ outTradeNo, transactionId, totalFee: 2400, reservedFee: 1000, refundableFee: 1400, extra: false,
        cashFee: 2400, couponFee: null, settlementTotalFee: null, coupons: [] }]);
      assert.equal(list.body.refunds.length, 1);
      assert.equal(list.body.refunds[0].status, 'SUCCESS');
      assert.equal(list.body.refunds[0].successAt, refund.successAt!.toISOString());
    });

    it('partial refunds that add up to the whole amount make the order REFUND; nothing more can be refunded', async () => {
      const { outTradeNo } = await paidOrder(token); // 1200
      const first = await requestRefund(outTradeNo, { amount: 500, reason: 'first' }).expect(201);
      await refundNotified(testEnv.sim, outTradeNo);
      const second = await requestRefund(outTradeNo, { amount: 700, reason: 'second' }).expect(201);
      await refundNotified(testEnv.sim, outTradeNo, 2);
      assert.notEqual(first.body.outRefundNo, second.body.outRefundNo);

      const order = await storedOrder(outTradeNo);
      assert.equal(order.status, 'REFUND');
      assert.equal(order.refundedFee, 1200);
      assert.deepEqual(testEnv.sim.order(outTradeNo)!.refunds.map(r => [ r.refundFee, r.status ]), [[ 500, 'SUCCESS' ], [ 700, 'SUCCESS' ]]);
      const view = await app.httpRequest().get(`/payment/orders/${outTradeNo}`).set('Authorization', `Bearer ${token}`)
        .expect(200);
      assert.equal(view.body.status, 'REFUND');
      assert.equal(view.body.refundedFee, 1200);

      const more = await requestRefund(outTradeNo, { amount: 1, reason: 'third' }).expect(409);
      assert.equal(more.body.code, 'REFUND_EXCEEDS_PAID');
      assert.equal(refundRequests().length, 2);
    });

    it('a full refund in one go', async () => {
      const { outTradeNo } = await paidOrder(token);
      await requestRefund(outTradeNo, { amount: 1200, reason: 'cancelled' }).expect(201);
      await refundNotified(testEnv.sim, outTradeNo);
      const order = await storedOrder(outTradeNo);
      assert.equal(order.status, 'REFUND');
      assert.equal(order.refundedFee, 1200);
    });

    it('more than what is left is refused before WeChat is called: 409 REFUND_EXCEEDS_PAID', async () => {
      const { outTradeNo } = await paidOrder(token);
      const over = await requestRefund(outTradeNo, { amount: 1201, reason: 'too much' }).expect(409);
      assert.equal(over.body.code, 'REFUND_EXCEEDS_PAID');
      await requestRefund(outTradeNo, { amount: 800, reason: 'part' }).expect(201);
      // The PROCESSING (or finished) 800 holds its amount: 401 is over, 400 fits.
      const again = await requestRefund(outTradeNo, { amount: 401, reason: 'over' }).expect(409);
      assert.match(again.body.message, /at most 400 fen/);
      await requestRefund(outTradeNo, { amount: 400, reason: 'rest' }).expect(201);
      assert.deepEqual(refundRequests().map(r => r.refund_fee), [ '800', '400' ]);
      assert.equal(await app.model.Refund.count(), 2);
    });

    it('five concurrent requests of 40% each: exactly two are accepted, the sum never exceeds the amount', async () => {
      const { outTradeNo } = await paidOrder(token, testEnv.sim, 5); // 6000 fen
      const replies = await Promise.all(Array.from({ length: 5 }, (_, i) => requestRefund(outTradeNo, { amount: 2400, reason: `concurrent ${i}` })));
      const statuses = replies.map(r => r.status).sort();
      assert.deepEqual(statuses, [ 201, 201, 409, 409, 409 ]);
      for (const r of replies.filter(r => r.status === 409)) assert.equal(r.body.code, 'REFUND_EXCEEDS_PAID');
      const refunds = await app.model.Refund.findAll();
      assert.equal(refunds.length, 2);
      assert.equal(refunds.reduce((sum, r) => sum + r.amount, 0), 4800);
      assert.equal(refundRequests().length, 2);
      await refundNotified(testEnv.sim, outTradeNo, 2);
      assert.equal((await storedOrder(outTradeNo)).refundedFee, 4800);
      assert.deepEqual(testEnv.sim.order(outTradeNo)!.refunds.map(r => r.refundFee), [ 2400, 2400 ]);
    });

    it('the same Idempotency-Key answers the same refund (200), even concurrently; WeChat sees one refund', async () => {
      const { outTradeNo } = await paidOrder(token);
      const first = await requestRefund(outTradeNo, { amount: 300, reason: 'late' }, 'refund-key-1').expect(201);
      const again = await requestRefund(outTradeNo, { amount: 300, reason: 'late' }, 'refund-key-1').expect(200);
      assert.equal(again.body.outRefundNo, first.body.outRefundNo);
      assert.equal(again.body.refundId, first.body.refundId);

      const concurrent = await Promise.all(Array.from({ length: 4 }, () => requestRefund(outTradeNo, { amount: 200, reason: 'twice' }, 'refund-key-2')));
      assert.deepEqual(concurrent.map(r => r.status).sort(), [ 200, 200, 200, 201 ]);
      assert.equal(new Set(concurrent.map(r => r.body.outRefundNo)).size, 1);

      assert.equal(await app.model.Refund.count(), 2);
      assert.equal(new Set(refundRequests().map(r => r.out_refund_no)).size, 2);
      await refundNotified(testEnv.sim, outTradeNo, 2);
      assert.equal((await storedOrder(outTradeNo)).refundedFee, 500);
    });

    it('a key reused for a different refund: 409 IDEMPOTENCY_KEY_REUSED; keys are per order', async () => {
      const a = await paidOrder(token);
      const b = await paidOrder(token);
      await requestRefund(a.outTradeNo, { amount: 300, reason: 'late' }, 'same-key').expect(201);
      const changed = await requestRefund(a.outTradeNo, { amount: 301, reason: 'late' }, 'same-key').expect(409);
      assert.equal(changed.body.code, 'IDEMPOTENCY_KEY_REUSED');
      await requestRefund(b.outTradeNo, { amount: 300, reason: 'late' }, 'same-key').expect(201);
      assert.equal(await app.model.Refund.count(), 2);
    });

    it('an unpaid order cannot be refunded: 409 ORDER_NOT_REFUNDABLE; an unknown one is 404', async () => {
      const created = await createOrder(token).expect(200);
      const res = await requestRefund(created.body.outTradeNo, { amount: 100, reason: 'r' }).expect(409);
      assert.equal(res.body.code, 'ORDER_NOT_REFUNDABLE');
      const missing = await requestRefund('P0000000000000000000000000000', { amount: 100, reason: 'r' }).expect(404);
      assert.equal(missing.body.code, 'ORDER_NOT_FOUND');
      await listRefunds('P0000000000000000000000000000').expect(404);
      // A closed, unpaid order neither.
      await app.httpRequest().post(`/payment/orders/${created.body.outTradeNo}/close`).set('Authorization', `Bearer ${token}`)
        .expect(200);
      assert.equal((await requestRefund(created.body.outTradeNo, { amount: 100, reason: 'r' }).expect(409)).body.code, 'ORDER_NOT_REFUNDABLE');
      assert.equal(await app.model.Refund.count(), 0);
      assert.equal(refundRequests().length, 0);
    });

    it('validates amount, reason, transactionId and the key', async () => {
      const { outTradeNo } = await paidOrder(token);
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ reason: 'r' }, 'amount' ],
        [{ amount: 0, reason: 'r' }, 'amount' ],
        [{ amount: 1.5, reason: 'r' }, 'amount' ],
        [{ amount: '100', reason: 'r' }, 'amount' ],
        [{ amount: 100 }, 'reason' ],
        [{ amount: 100, reason: '   ' }, 'reason' ],
        [{ amount: 100, reason: 'x'.repeat(81) }, 'reason' ],
        [{ amount: 100, reason: 'r', transactionId: 'not valid!' }, 'transactionId' ],
        [{ amount: 100, reason: 'r', transactionId: '4200000000000000000000000000' }, 'transactionId' ],
      ];
      for (const [ body, field ] of cases) {
        const res = await requestRefund(outTradeNo, body).expect(422);
        assert.equal(res.body.field, field, JSON.stringify(body));
      }
      const badKey = await requestRefund(outTradeNo, { amount: 100, reason: 'r' }, 'bad key!').expect(422);
      assert.equal(badKey.body.field, 'Idempotency-Key');
      await requestRefund('bad%27no', { amount: 100, reason: 'r' }).expect(422);
      await app.httpRequest().post(`/admin/orders/${outTradeNo}/refunds`).set(adminHeader())
        .set('Content-Type', 'text/plain')
        .send('amount=1')
        .expect(415);
      assert.equal(await app.model.Refund.count(), 0);
    });

    it('refuses a reason with a character XML 1.0 forbids, saying which: 422, nothing reserved or sent; "]]>" and other XML text go through', async () => {
      const { outTradeNo } = await paidOrder(token);
      const forbidden = {
        code: 'VALIDATION_FAILED', field: 'reason',
        message: 'reason must not contain control characters other than tab, line feed and carriage return (U+0000-U+0008, U+000B, U+000C, U+000E-U+001F), U+FFFE, U+FFFF or unpaired surrogates',
      };
      for (const reason of [ 'nul\u0000inside', 'bell\u0007', 'vertical\u000Btab', 'form\u000Cfeed', 'unit\u001Fseparator', 'x\uFFFE', 'y\uFFFF', 'lone \uD800 high', 'lone \uDC00 low' ]) {
        const res = await requestRefund(outTradeNo, { amount: 100, reason }).expect(422);
        assert.deepEqual(res.body, forbidden, JSON.stringify(reason));
      }
      assert.equal(await app.model.Refund.count(), 0);
      assert.equal(refundRequests().length, 0);

      // Tab, line feed, carriage return and any other character XML allows are fine, astral ones included.
      // "]]>" once left a refund PROCESSING forever: building its XML threw before anything was sent.
      const reason = 'line one\r\nline two\tbadly packed 🥐 see ]]> here';
      const ok = await requestRefund(outTradeNo, { amount: 100, reason }).expect(201);
      assert.equal(ok.body.reason, reason);
      assert.equal(refundRequests()[0].refund_desc, reason);
    });

    it('without a client certificate configured, refunds answer 503 REFUNDS_NOT_CONFIGURED and nothing is reserved', async () => {
      const { outTradeNo } = await paidOrder(token);
      mock(app.config.wechat, 'clientCert', {});
      const res = await requestRefund(outTradeNo, { amount: 100, reason: 'r' }).expect(503);
      assert.equal(res.body.code, 'REFUNDS_NOT_CONFIGURED');
      assert.equal(await app.model.Refund.count(), 0);
    });

    it('at most 50 refunds of one payment', async () => {
      const { outTradeNo } = await paidOrder(token, testEnv.sim, 5);
      for (let i = 0; i < 50; i++) await requestRefund(outTradeNo, { amount: 1, reason: `r${i}` }).expect(201);
      const res = await requestRefund(outTradeNo, { amount: 1, reason: 'r50' }).expect(409);
      assert.equal(res.body.code, 'REFUND_LIMIT_REACHED');
      assert.equal(refundRequests().length, 50);
    });
  });

  describe('WeChat failures', () => {
    it('SYSTEMERROR: 202 PROCESSING; a retry with the same key sends the SAME out_refund_no and is accepted', async () => {
      const { outTradeNo } = await paidOrder(token);
      testEnv.sim.setFault('refund', { kind: 'systemerror' }, 1);
      const busy = await requestRefund(outTradeNo, { amount: 300, reason: 'retry me' }, 'k-sys').expect(202);
      assert.equal(busy.body.status, 'PROCESSING');
      assert.equal(busy.body.refundId, null);
      assert.equal(busy.body.errCode, 'SYSTEMERROR');
      // Still reserved while WeChat's answer is pending.
      assert.equal((await requestRefund(outTradeNo, { amount: 901, reason: 'over' }).expect(409)).body.code, 'REFUND_EXCEEDS_PAID');

      const retried = await requestRefund(outTradeNo, { amount: 300, reason: 'retry me' }, 'k-sys').expect(200);
      assert.equal(retried.body.outRefundNo, busy.body.outRefundNo);
      assert.match(retried.body.refundId, /^50\d{27}$/);
      assert.equal(retried.body.errCode, null);
      assert.deepEqual(refundRequests().map(r => r.out_refund_no), [ busy.body.outRefundNo, busy.body.outRefundNo ]);
      await refundNotified(testEnv.sim, outTradeNo);
      assert.equal((await storedRefund(busy.body.outRefundNo)).status, 'SUCCESS');
      assert.equal(testEnv.sim.order(outTradeNo)!.refunds.length, 1);
      assert.equal((await storedOrder(outTradeNo)).refundedFee, 300);
    });

    it('a definitive refusal (WeChat: refunds exceed the payment) marks the refund FAILED, answers 502 and releases the amount', async () => {
      const { outTradeNo } = await paidOrder(token);
      // Someone refunded 1000 on WeChat's merchant platform, behind our back.
      const direct = new WechatPayClient({
        appId: DEV_CREDENTIALS.appId, mchId: DEV_CREDENTIALS.mchId, apiKey: DEV_CREDENTIALS.apiKey, signType: 'HMAC-SHA256',
        baseUrl: testEnv.sim.httpsUrl, timeoutMs: 2000, tls: testEnv.sim.merchantTls(),
      });
      await direct.refund({ out_trade_no: outTradeNo, out_refund_no: 'MANUAL1', total_fee: 1200, refund_fee: 1000 });

      const res = await requestRefund(outTradeNo, { amount: 500, reason: 'too much at WeChat' }, 'k-refused').expect(502);
      assert.equal(res.body.code, 'WECHAT_REFUND_REJECTED');
      assert.match(res.body.message, /ERROR/);
      const [ refund ] = await app.model.Refund.findAll();
      assert.equal(refund.status, 'FAILED');
      assert.equal(refund.errCode, 'ERROR');
      assert.equal(refund.refundId, null);
      // The same key answers the same refusal; it is never sent again.
      assert.equal((await requestRefund(outTradeNo, { amount: 500, reason: 'too much at WeChat' }, 'k-refused').expect(502)).body.code, 'WECHAT_REFUND_REJECTED');
      assert.equal(refundRequests().filter(r => r.out_refund_no === refund.outRefundNo).length, 1);

      // FAILED holds nothing: the whole amount is refundable again here, and 200 fits at WeChat.
      const list = await listRefunds(outTradeNo).expect(200);
      assert.equal(list.body.payments[0].refundableFee, 1200);
      assert.equal(list.body.refunds[0].status, 'FAILED');
      await requestRefund(outTradeNo, { amount: 200, reason: 'what is left' }).expect(201);
      const order = await storedOrder(outTradeNo);
      assert.equal(order.status, 'SUCCESS');
    });
  });

  describe('a request that never leaves the service', () => {
    /** From now on the pay client cannot sign a refund request (what the XML builder or signing throws on); other calls work. */
    function breakRefundSigning() {
      const client = app.wechatPay;
      const signed = client.signed.bind(client);
      mock(client, 'signed', (params: Record<string, string | number | undefined>) => {
        if ('refund_fee' in params) throw new Error('cannot sign this request');
        return signed(params);
      });
    }

    it('building or signing fails: FAILED at once (500 REFUND_NOT_SENT), the amount free again; the same key answers the same; a full refund then succeeds', async () => {
      const { outTradeNo, totalFee } = await paidOrder(token);
      breakRefundSigning();
      const res = await requestRefund(outTradeNo, { amount: totalFee, reason: 'cannot be signed' }, 'k-unsent').expect(500);
      const [ refund ] = await app.model.Refund.findAll();
      const notSent = {
        code: 'REFUND_NOT_SENT',
        message: `refund ${refund.outRefundNo} could not be sent to WeChat and is FAILED, its amount free again: request to /secapi/pay/refund not sent: cannot sign this request`,
      };
      assert.deepEqual(res.body, notSent);
      assert.equal(refund.status, 'FAILED');
      assert.equal(refund.errCode, 'NOT_SENT');
      assert.equal(refund.errCodeDes, 'request to /secapi/pay/refund not sent: cannot sign this request');
      assert.equal(refund.refundId, null);
      assert.equal(refundRequests().length, 0);
      // The same key answers the same failure, without another try.
      assert.deepEqual((await requestRefund(outTradeNo, { amount: totalFee, reason: 'cannot be signed' }, 'k-unsent').expect(500)).body, notSent);
      assert.equal(refundRequests().length, 0);

      const list = await listRefunds(outTradeNo).expect(200);
      assert.equal(list.body.payments[0].refundableFee, totalFee);
      assert.deepEqual(list.body.refunds.map((r: any) => [ r.status, r.errCode ]), [[ 'FAILED', 'NOT_SENT' ]]);

      // The overdue-refund job has nothing to retry.
      await app.model.query('UPDATE refunds SET updated_at = ? WHERE id = ?', { replacements: [ new Date(Date.now() - 3600_000), refund.id ] });
      assert.deepEqual(await app.runSchedule('queryOverdueRefunds'), { ran: true, result: { queried: 0, finished: 0, resent: 0, failed: 0 } });
      assert.equal(testEnv.sim.requests('refundquery').length, 0);

      mock.restore();
      const full = await requestRefund(outTradeNo, { amount: totalFee, reason: 'the whole amount' }).expect(201);
      assert.equal(full.body.status, 'PROCESSING');
      assert.deepEqual(refundRequests().map(r => [ r.out_refund_no, r.refund_fee ]), [[ full.body.outRefundNo, String(totalFee) ]]);
      await refundNotified(testEnv.sim, outTradeNo);
      const order = await storedOrder(outTradeNo);
      assert.equal(order.status, 'REFUND');
      assert.equal(order.refundedFee, totalFee);
    });
  });

  describe('orders flagged refund_required', () => {
    it('paid after it was closed: the paid attempt is refunded; the flag clears, the order stays CLOSED', async () => {
      const created = await createOrder(token).expect(200);
      const outTradeNo = created.body.outTradeNo;
      await app.httpRequest().post(`/payment/orders/${outTradeNo}/close`).set('Authorization', `Bearer ${token}`)
        .expect(200);
      const payment = await testEnv.sim.pay(outTradeNo, { payClosedOrder: true });
      await testEnv.sim.waitForDelivery(outTradeNo, { kind: 'payment', acknowledged: true });
      assert.equal((await storedOrder(outTradeNo)).refundRequired, true);

      const list = await listRefunds(outTradeNo).expect(200);
      assert.deepEqual(list.body.payments, [{ outTradeNo, transactionId: payment.transactionId, totalFee: 1200, reservedFee: 0, refundableFee: 1200, extra: true,
        cashFee: 1200, couponFee: null, settlementTotalFee: null, coupons: [] }]);
      const res = await requestRefund(outTradeNo, { amount: 1200, reason: 'paid after close' }).expect(201);
      assert.equal(res.body.transactionId, payment.transactionId);
      await refundNotified(testEnv.sim, outTradeNo);
      const order = await storedOrder(outTradeNo);
      assert.equal(order.status, 'CLOSED');
      assert.equal(order.refundRequired, false);
      assert.equal(order.refundedFee, 1200);
    });

    it('paid twice (two attempts): transactionId picks the extra payment; refunding it clears the flag, the order stays SUCCESS', async () => {
      const created = await createOrder(token).expect(200);
      const first = created.body.outTradeNo;
      // The first prepay expired: paying again closes the first number at WeChat and opens a second attempt.
      await app.model.query('UPDATE payment_attempts SET prepay_expires_at = ? WHERE out_trade_no = ?', { replacements: [ new Date(Date.now() - 1000), first ] });
      await app.httpRequest().post(`/payment/orders/${first}/pay`).set('Authorization', `Bearer ${token}`)
        .expect(200);
      const attempts = await app.model.PaymentAttempt.findAll({ order: [[ 'id', 'ASC' ]] });
      assert.equal(attempts.length, 2);
      const second = attempts[1].outTradeNo;
      // The payer completes both: the first as it was being closed, then the second.
      const paidFirst = await testEnv.sim.pay(first, { payClosedOrder: true });
      await testEnv.sim.waitForDelivery(first, { kind: 'payment', acknowledged: true });
      const paidSecond = await testEnv.sim.pay(second);
      await testEnv.sim.waitForDelivery(second, { kind: 'payment', acknowledged: true });
      let order = await storedOrder(first);
      assert.equal(order.status, 'SUCCESS');
      assert.equal(order.transactionId, paidFirst.transactionId);
      assert.equal(order.refundRequired, true);

      const list = await listRefunds(first).expect(200);
      assert.deepEqual(list.body.payments.map((p: any) => [ p.outTradeNo, p.extra ]), [[ first, false ], [ second, true ]]);
      const res = await requestRefund(first, { amount: 1200, reason: 'double payment', transactionId: paidSecond.transactionId }).expect(201);
      assert.equal(res.body.paymentOutTradeNo, second);
      assert.equal(refundRequests()[0].out_trade_no, second);
      await refundNotified(testEnv.sim, second);
      order = await storedOrder(first);
      assert.equal(order.status, 'SUCCESS');
      assert.equal(order.refundRequired, false);
      assert.equal(order.refundedFee, 1200);
      // The order's own payment is still whole and refundable.
      const after = await listRefunds(first).expect(200);
      assert.deepEqual(after.body.payments.map((p: any) => p.refundableFee), [ 1200, 0 ]);
    });
  });
});

describe('refunds: the overdue-refund job (refundquery)', () => {
  const { manual, user } = useManualRefunds();
  let token: string;
  beforeEach(() => { token = user.token; });

  /** Makes the refund look untouched for ten minutes: its notification is overdue. */
  async function age(outRefundNo: string) {
    await app.model.query('UPDATE refunds SET updated_at = ? WHERE out_refund_no = ?', { replacements: [ new Date(Date.now() - 600_000), outRefundNo ] });
  }

  it('applies a result whose notification was lost, once; the late notification then changes nothing', async () => {
    const { outTradeNo } = await paidOrder(token, manual.sim);
    // The refund notification goes to a closed port: only a query can reveal the result.
    mock(app.config.wechat, 'refundNotifyUrl', await closedUrl('/payment/refund-notify'));
    const res = await requestRefund(outTradeNo, { amount: 400, reason: 'lost notification' }).expect(201);
    const outRefundNo = res.body.outRefundNo;
    manual.sim.completeRefund(outRefundNo, 'SUCCESS');
    await manual.sim.waitForDelivery(outTradeNo, { kind: 'refund' });

    // Not overdue yet: left alone.
    assert.deepEqual(await app.runSchedule('queryOverdueRefunds'), { ran: true, result: { queried: 0, finished: 0, resent: 0, failed: 0 } });
    await age(outRefundNo);
    assert.deepEqual(await app.runSchedule('queryOverdueRefunds'), { ran: true, result: { queried: 1, finished: 1, resent: 0, failed: 0 } });
    const refund = await storedRefund(outRefundNo);
    assert.equal(refund.status, 'SUCCESS');
    assert.equal(refund.refundId, res.body.refundId);
    assert.ok(refund.successAt instanceof Date);
    const order = await storedOrder(outTradeNo);
    assert.equal(order.refundedFee, 400);
    assert.equal(order.status, 'SUCCESS');
    assert.deepEqual((await orderEvents(outTradeNo)).slice(1), [[ 'REFUND_REQUESTED', 'admin' ], [ 'REFUNDED', 'query' ]]);

    // A second run finds nothing; the notification arriving late is acknowledged as a duplicate.
    assert.deepEqual(await app.runSchedule('queryOverdueRefunds'), { ran: true, result: { queried: 0, finished: 0, resent: 0, failed: 0 } });
    const [ delivery ] = manual.sim.deliveries(outTradeNo).filter(d => d.kind === 'refund');
    const late = await app.httpRequest().post('/payment/refund-notify').set('Content-Type', 'text/xml')
      .send(delivery.body)
      .expect(200);
    assert.match(late.text, /SUCCESS/);
    assert.equal((await storedOrder(outTradeNo)).refundedFee, 400);
    assert.equal((await orderEvents(outTradeNo)).length, 3);
    const notes = await app.model.PaymentNotification.findAll({ where: { kind: 'refund' } });
    assert.deepEqual(notes.map(n => n.outcome), [ 'DUPLICATE' ]);
  });

  it('a refund still PROCESSING at WeChat stays PROCESSING and is looked at again only after the delay', async () => {
    const { outTradeNo } = await paidOrder(token, manual.sim);
    const res = await requestRefund(outTradeNo, { amount: 400, reason: 'slow bank' }).expect(201);
    await age(res.body.outRefundNo);
    assert.deepEqual(await app.runSchedule('queryOverdueRefunds'), { ran: true, result: { queried: 1, finished: 0, resent: 0, failed: 0 } });
    assert.equal((await storedRefund(res.body.outRefundNo)).status, 'PROCESSING');
    assert.deepEqual(await app.runSchedule('queryOverdueRefunds'), { ran: true, result: { queried: 0, finished: 0, resent: 0, failed: 0 } });
    assert.equal(manual.sim.requests('refundquery').length, 1);
  });

  it('CHANGE and REFUNDCLOSE found by the query: CHANGE keeps the amount reserved, REFUNDCLOSE gives it back', async () => {
    const { outTradeNo } = await paidOrder(token, manual.sim);
    mock(app.config.wechat, 'refundNotifyUrl', await closedUrl('/payment/refund-notify'));
    const a = await requestRefund(outTradeNo, { amount: 400, reason: 'a' }).expect(201);
    const b = await requestRefund(outTradeNo, { amount: 500, reason: 'b' }).expect(201);
    manual.sim.completeRefund(a.body.outRefundNo, 'CHANGE');
    manual.sim.completeRefund(b.body.outRefundNo, 'REFUNDCLOSE');
    await age(a.body.outRefundNo);
    await age(b.body.outRefundNo);
    assert.deepEqual(await app.runSchedule('queryOverdueRefunds'), { ran: true, result: { queried: 2, finished: 2, resent: 0, failed: 0 } });
    assert.equal((await storedRefund(a.body.outRefundNo)).status, 'CHANGE');
    assert.equal((await storedRefund(b.body.outRefundNo)).status, 'REFUNDCLOSE');
    const order = await storedOrder(outTradeNo);
    assert.equal(order.refundedFee, 0);
    assert.equal(order.status, 'SUCCESS');
    const list = await listRefunds(outTradeNo).expect(200);
    assert.equal(list.body.payments[0].refundableFee, 800);
  });

  it('a refund WeChat never received (SYSTEMERROR, no retry by the caller) is sent again by the job with the same out_refund_no', async () => {
    const { outTradeNo } = await paidOrder(token, manual.sim);
    manual.sim.setFault('refund', { kind: 'systemerror' }, 1);
    const res = await requestRefund(outTradeNo, { amount: 400, reason: 'busy' }).expect(202);
    await age(res.body.outRefundNo);
    assert.deepEqual(await app.runSchedule('queryOverdueRefunds'), { ran: true, result: { queried: 1, finished: 0, resent: 1, failed: 0 } });
    assert.deepEqual(manual.sim.requests('refund').map(r => r.params.out_refund_no), [ res.body.outRefundNo, res.body.outRefundNo ]);
    const refund = await storedRefund(res.body.outRefundNo);
    assert.equal(refund.status, 'PROCESSING');
    assert.match(refund.refundId!, /^50\d{27}$/);
    assert.equal(refund.errCode, null);
  });

  it('a lost reply (WeChat took the refund, the answer never came): 202 PROCESSING; the retry gets the same refund, refunded once', async () => {
    const { outTradeNo } = await paidOrder(token, manual.sim);
    manual.sim.setFault('refund', { kind: 'drop' }, 1);
    const lost = await requestRefund(outTradeNo, { amount: 300, reason: 'lost reply' }, 'k-drop').expect(202);
    assert.equal(lost.body.status, 'PROCESSING');
    assert.equal(lost.body.refundId, null);
    assert.equal(lost.body.errCode, 'NETWORK');
    assert.equal(manual.sim.order(outTradeNo)!.refunds.length, 1);
    const retried = await requestRefund(outTradeNo, { amount: 300, reason: 'lost reply' }, 'k-drop').expect(200);
    assert.equal(retried.body.outRefundNo, lost.body.outRefundNo);
    assert.equal(retried.body.refundId, manual.sim.order(outTradeNo)!.refunds[0].refundId);
    assert.equal(manual.sim.order(outTradeNo)!.refunds.length, 1);
    manual.sim.completeRefund(lost.body.outRefundNo, 'SUCCESS');
    await manual.sim.waitForDelivery(outTradeNo, { kind: 'refund', acknowledged: true });
    assert.equal((await storedOrder(outTradeNo)).refundedFee, 300);
  });

  it('WeChat unreachable during the job: counted as failed, the refund stays PROCESSING for the next tick', async () => {
    const { outTradeNo } = await paidOrder(token, manual.sim);
    const res = await requestRefund(outTradeNo, { amount: 400, reason: 'r' }).expect(201);
    await age(res.body.outRefundNo);
    manual.sim.setFault('refundquery', { kind: 'systemerror' }, 1);
    assert.deepEqual(await app.runSchedule('queryOverdueRefunds'), { ran: true, result: { queried: 1, finished: 0, resent: 0, failed: 1 } });
    assert.equal((await storedRefund(res.body.outRefundNo)).status, 'PROCESSING');
  });

  it('a refund sent once without an answer whose resend cannot be built: WeChat never had it, so the job marks it FAILED, once', async () => {
    const { outTradeNo } = await paidOrder(token, manual.sim);
    manual.sim.setFault('refund', { kind: 'systemerror' }, 1);
    const res = await requestRefund(outTradeNo, { amount: 400, reason: 'busy, then unbuildable' }).expect(202);
    // From now on its request cannot be signed (as with a reason the XML builder throws on); refund queries still work.
    const client = app.wechatPay;
    const signed = client.signed.bind(client);
    mock(client, 'signed', (params: Record<string, string | number | undefined>) => {
      if ('refund_fee' in params) throw new Error('cannot sign this request');
      return signed(params);
    });
    await age(res.body.outRefundNo);
    assert.deepEqual(await app.runSchedule('queryOverdueRefunds'), { ran: true, result: { queried: 1, finished: 0, resent: 0, failed: 0 } });
    const refund = await storedRefund(res.body.outRefundNo);
    assert.equal(refund.status, 'FAILED');
    assert.equal(refund.errCode, 'NOT_SENT');
    assert.equal(refund.errCodeDes, 'request to /secapi/pay/refund not sent: cannot sign this request');
    assert.equal(manual.sim.requests('refund').length, 1);
    assert.equal((await listRefunds(outTradeNo).expect(200)).body.payments[0].refundableFee, 1200);

    // Later ticks leave it alone: nothing is retried forever.
    await age(res.body.outRefundNo);
    assert.deepEqual(await app.runSchedule('queryOverdueRefunds'), { ran: true, result: { queried: 0, finished: 0, resent: 0, failed: 0 } });
    assert.equal(manual.sim.requests('refundquery').length, 1);
    assert.equal(manual.sim.requests('refund').length, 1);
  });

  it('skips its tick while another worker holds the job lock', async () => {
    await app.redis.set('lock:job:queryOverdueRefunds', 'someone-else', 'PX', 10_000);
    assert.deepEqual(await app.runSchedule('queryOverdueRefunds'), { ran: false, reason: 'LOCKED' });
  });
});
