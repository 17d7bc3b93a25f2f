import assert from 'node:assert/strict';
import { app } from 'egg-mock/bootstrap';
import { buildXml, decryptRefundInfo, encryptRefundInfo, fromBeijing, nonceStr, parseXml, WechatPayClient } from '../../../lib/wechatpay';
import { DEV_CREDENTIALS } from '../../../simulator';
import { listRefunds, useManualRefunds, orderEvents, paidOrder, requestRefund, storedOrder, storedRefund } from '../../support/refunds';

const SUCCESS_XML = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';
const FAIL_XML = '<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[refused]]></return_msg></xml>';

function postRefundNotify(body: string) {
  return app.httpRequest().post('/payment/refund-notify').set('Content-Type', 'text/xml')
    .send(body);
}

/** A refund notification as WeChat builds it: no sign, the details AES-256-ECB encrypted with the merchant key. */
function notification(info: Record<string, string | number>, options: { key?: string; outer?: Record<string, string> } = {}): string {
  const plain = buildXml(Object.fromEntries(Object.entries(info).map(([ k, v ]) => [ k, String(v) ])), 'root');
  return buildXml({
    return_code: 'SUCCESS', appid: DEV_CREDENTIALS.appId, mch_id: DEV_CREDENTIALS.mchId, nonce_str: nonceStr(),
    req_info: encryptRefundInfo(plain, options.key ?? DEV_CREDENTIALS.apiKey),
    ...options.outer,
  });
}

describe('POST /payment/refund-notify', () => {
  const { manual, user } = useManualRefunds();
  let token: string;
  beforeEach(() => { token = user.token; });

  /** A paid order of 1200 fen with one PROCESSING refund of `amount`, accepted by WeChat. */
  async function processingRefund(amount = 500) {
    const order = await paidOrder(token, manual.sim);
    const res = await requestRefund(order.outTradeNo, { amount, reason: 'test refund' }).expect(201);
    assert.equal(res.body.status, 'PROCESSING');
    return { ...order, outRefundNo: res.body.outRefundNo as string, refundId: res.body.refundId as string };
  }

  /** WeChat finishes the refund; resolves with the notification it delivered (acknowledged). */
  async function finish(outTradeNo: string, outRefundNo: string, status: 'SUCCESS' | 'CHANGE' | 'REFUNDCLOSE') {
    manual.sim.completeRefund(outRefundNo, status);
    const [ delivery ] = await manual.sim.waitForDelivery(outTradeNo, { kind: 'refund', acknowledged: true });
    return delivery;
  }

  /** The decrypted details of a genuine notification body. */
  function detailsOf(body: string): Record<string, string> {
    return parseXml(decryptRefundInfo(parseXml(body).req_info, DEV_CREDENTIALS.apiKey), { root: 'root' });
  }

  async function unchanged(outRefundNo: string, outTradeNo: string, status = 'PROCESSING') {
    assert.equal((await storedRefund(outRefundNo)).status, status);
    const order = await storedOrder(outTradeNo);
    assert.equal(order.refundedFee, status === 'SUCCESS' ? (await storedRefund(outRefundNo)).amount : 0);
  }

  describe('applied exactly once', () => {
    it('SUCCESS: the refund is SUCCESS with WeChat\'s refund_id and success time, the order refundedFee grows; stored as kind refund', async () => {
      const { outTradeNo, outRefundNo, refundId, transactionId } = await processingRefund(500);
      const delivery = await finish(outTradeNo, outRefundNo, 'SUCCESS');
      assert.equal(delivery.reply, SUCCESS_XML);

      const refund = await storedRefund(outRefundNo);
      assert.equal(refund.status, 'SUCCESS');
      assert.equal(refund.refundId, refundId);
      const simRefund = manual.sim.order(outTradeNo)!.refunds[0];
      assert.equal(refund.successAt!.toISOString(), fromBeijing(simRefund.successTime)!.toISOString());
      const order = await storedOrder(outTradeNo);
      assert.equal(order.status, 'SUCCESS');
      assert.equal(order.refundedFee, 500);
      assert.deepEqual((await orderEvents(outTradeNo)).slice(1), [[ 'REFUND_REQUESTED', 'admin' ], [ 'REFUNDED', 'notify' ]]);

      const [ note ] = await app.model.PaymentNotification.findAll({ where: { kind: 'refund' } });
      assert.equal(note.kind, 'refund');
      assert.equal(note.outcome, 'APPLIED');
      assert.equal(note.rawBody, delivery.body);
      assert.equal(note.outTradeNo, outTradeNo);
      assert.equal(note.transactionId, transactionId);
      assert.equal(JSON.parse(note.parsed!).req_info.out_refund_no, outRefundNo);
    });

    it('SUCCESS for the rest of the amount makes the order REFUND', async () => {
      const { outTradeNo, outRefundNo } = await processingRefund(1200);
      await finish(outTradeNo, outRefundNo, 'SUCCESS');
      const order = await storedOrder(outTradeNo);
      assert.equal(order.status, 'REFUND');
      assert.equal(order.refundedFee, 1200);
    });

    it('CHANGE (WeChat could not pay it out): the refund is CHANGE, nothing counted as refunded, the amount stays reserved', async () => {
      const { outTradeNo, outRefundNo } = await processingRefund(500);
      const delivery = await finish(outTradeNo, outRefundNo, 'CHANGE');
      assert.equal(delivery.reply, SUCCESS_XML);
      const refund = await storedRefund(outRefundNo);
      assert.equal(refund.status, 'CHANGE');
      assert.equal(refund.successAt, null);
      const order = await storedOrder(outTradeNo);
      assert.equal(order.refundedFee, 0);
      assert.equal(order.status, 'SUCCESS');
      assert.deepEqual((await orderEvents(outTradeNo)).slice(-1), [[ 'REFUND_CHANGE', 'notify' ]]);
      assert.equal((await listRefunds(outTradeNo).expect(200)).body.payments[0].refundableFee, 700);
    });

    it('REFUNDCLOSE: the refund is REFUNDCLOSE and its amount can be refunded again', async () => {
      const { outTradeNo, outRefundNo } = await processingRefund(500);
      await finish(outTradeNo, outRefundNo, 'REFUNDCLOSE');
      assert.equal((await storedRefund(outRefundNo)).status, 'REFUNDCLOSE');
      assert.equal((await storedOrder(outTradeNo)).refundedFee, 0);
      assert.deepEqual((await orderEvents(outTradeNo)).slice(-1), [[ 'REFUND_CLOSED', 'notify' ]]);
      assert.equal((await listRefunds(outTradeNo).expect(200)).body.payments[0].refundableFee, 1200);
      await requestRefund(outTradeNo, { amount: 1200, reason: 'again' }).expect(201);
    });

    it('the same notification again, in sequence and concurrently, is acknowledged and changes nothing', async () => {
      const { outTradeNo, outRefundNo } = await processingRefund(500);
      const delivery = await finish(outTradeNo, outRefundNo, 'SUCCESS');
      const before = await storedRefund(outRefundNo);
      for (let i = 0; i < 2; i++) assert.equal((await postRefundNotify(delivery.body).expect(200)).text, SUCCESS_XML);
      const concurrent = await Promise.all(Array.from({ length: 5 }, () => postRefundNotify(delivery.body)));
      for (const res of concurrent) assert.equal(res.text, SUCCESS_XML);

      const after = await storedRefund(outRefundNo);
      assert.equal(after.status, 'SUCCESS');
      assert.equal(after.successAt!.getTime(), before.successAt!.getTime());
      assert.equal((await storedOrder(outTradeNo)).refundedFee, 500);
      assert.deepEqual((await orderEvents(outTradeNo)).filter(([ type ]) => type === 'REFUNDED'), [[ 'REFUNDED', 'notify' ]]);
      const outcomes = (await app.model.PaymentNotification.findAll({ where: { kind: 'refund' }, order: [[ 'id', 'ASC' ]] })).map(n => n.outcome);
      assert.deepEqual(outcomes, [ 'APPLIED', ...Array(7).fill('DUPLICATE') ]);
    });

    it('concurrent first deliveries of the same result: one applies, the others are duplicates', async () => {
      const { outTradeNo, outRefundNo, refundId, transactionId } = await processingRefund(500);
      const body = notification({
        transaction_id: transactionId, out_trade_no: outTradeNo, refund_id: refundId, out_refund_no: outRefundNo,
        total_fee: 1200, refund_fee: 500, settlement_refund_fee: 500, refund_status: 'SUCCESS', success_time: '2026-11-23 17:15:42',
      });
      const replies = await Promise.all(Array.from({ length: 6 }, () => postRefundNotify(body)));
      for (const res of replies) assert.equal(res.text, SUCCESS_XML);
      assert.equal((await storedOrder(outTradeNo)).refundedFee, 500);
      assert.equal((await storedRefund(outRefundNo)).successAt!.toISOString(), '2026-11-23T09:15:42.000Z');
      const outcomes = (await app.model.PaymentNotification.findAll({ where: { kind: 'refund' } })).map(n => n.outcome).sort();
      assert.deepEqual(outcomes, [ 'APPLIED', ...Array(5).fill('DUPLICATE') ]);
    });

    it('a final status is final: a later notification with another status is refused and changes nothing', async () => {
      const { outTradeNo, outRefundNo } = await processingRefund(500);
      const delivery = await finish(outTradeNo, outRefundNo, 'SUCCESS');
      const info = detailsOf(delivery.body);
      const res = await postRefundNotify(notification({ ...info, refund_status: 'REFUNDCLOSE' })).expect(200);
      assert.equal(res.text, FAIL_XML);
      await unchanged(outRefundNo, outTradeNo, 'SUCCESS');
    });
  });

  describe('a result for a refund we recorded FAILED', () => {
    it('is applied (WeChat\'s word wins) and logged as an error', async () => {
      const { outTradeNo, transactionId } = await paidOrder(token, manual.sim);
      // The whole payment was refunded at WeChat behind our back: our request is refused (ERROR) and FAILED.
      const direct = new WechatPayClient({
        appId: DEV_CREDENTIALS.appId, mchId: DEV_CREDENTIALS.mchId, apiKey: DEV_CREDENTIALS.apiKey, signType: 'HMAC-SHA256',
        baseUrl: manual.sim.httpsUrl, timeoutMs: 2000, tls: manual.sim.merchantTls(),
      });
      await direct.refund({ out_trade_no: outTradeNo, out_refund_no: 'MANUAL1', total_fee: 1200, refund_fee: 1200 });
      await requestRefund(outTradeNo, { amount: 300, reason: 'refused' }).expect(502);
      const [ refund ] = await app.model.Refund.findAll();
      assert.equal(refund.status, 'FAILED');

      const res = await postRefundNotify(notification({
        transaction_id: transactionId, out_trade_no: outTradeNo, refund_id: '50000000000000000000000000001', out_refund_no: refund.outRefundNo,
        total_fee: 1200, refund_fee: 300, refund_status: 'SUCCESS', success_time: '2026-11-23 17:15:42',
      })).expect(200);
      assert.equal(res.text, SUCCESS_XML);
      const after = await storedRefund(refund.outRefundNo);
      assert.equal(after.status, 'SUCCESS');
      assert.equal(after.refundId, '50000000000000000000000000001');
      assert.equal(after.errCode, null);
      assert.equal((await storedOrder(outTradeNo)).refundedFee, 300);
    });
  });

  describe('refused (FAIL, nothing changes, stored for audit)', () => {
    async function refusedWith(body: string, outRefundNo: string, outTradeNo: string, reason: RegExp) {
      const res = await postRefundNotify(body).expect(200);
      assert.equal(res.text, FAIL_XML);
      await unchanged(outRefundNo, outTradeNo);
      const notes = await app.model.PaymentNotification.findAll({ order: [[ 'id', 'DESC' ]], limit: 1 });
      assert.equal(notes[0].kind, 'refund');
      assert.equal(notes[0].outcome, 'REJECTED');
      assert.equal(notes[0].rawBody, body);
      assert.match(notes[0].reason!, reason);
      assert.deepEqual((await orderEvents(outTradeNo)).map(([ type ]) => type), [ 'PAID', 'REFUND_REQUESTED' ]);
    }

    /** The details WeChat would send for this refund, finished with `status`. */
    function genuine(r: { outTradeNo: string; transactionId: string; outRefundNo: string; refundId: string }, amount = 500) {
      return {
        transaction_id: r.transactionId, out_trade_no: r.outTradeNo, refund_id: r.refundId, out_refund_no: r.outRefundNo,
        total_fee: 1200, refund_fee: amount, settlement_refund_fee: amount, refund_status: 'SUCCESS', success_time: '2026-11-23 17:15:42',
      };
    }

    it('req_info encrypted with another key: forged', async () => {
      const r = await processingRefund();
      await refusedWith(notification(genuine(r), { key: 'otherkey000000000000000000000002' }), r.outRefundNo, r.outTradeNo, /forged/);
    });

    it('tampered req_info: a changed first block, a cut last block, not base64, empty', async () => {
      const r = await processingRefund();
      const good = notification(genuine(r));
      const fields = parseXml(good);
      const bytes = Buffer.from(fields.req_info, 'base64');
      const flipped = Buffer.from(bytes);
      for (let i = 0; i < 16; i++) flipped[i] ^= 0x5a;
      const variants = [
        flipped.toString('base64'),
        bytes.subarray(0, bytes.length - 16).toString('base64'),
        `${fields.req_info.slice(0, -8)}!!!!!!!!`,
      ];
      for (const reqInfo of variants) {
        await refusedWith(buildXml({ ...fields, req_info: reqInfo }), r.outRefundNo, r.outTradeNo, /forged|req_info/);
      }
      await refusedWith(buildXml({ ...fields, req_info: undefined }), r.outRefundNo, r.outTradeNo, /req_info is missing/);
    });

    it('a refund we never asked for: unknown out_refund_no', async () => {
      const r = await processingRefund();
      await refusedWith(notification({ ...genuine(r), out_refund_no: 'R20261123000000ffffffffffffffff' }), r.outRefundNo, r.outTradeNo, /unknown out_refund_no/);
    });

    it('our out_refund_no with another amount, another order, another transaction or another refund_id', async () => {
      const r = await processingRefund();
      await refusedWith(notification({ ...genuine(r), refund_fee: 1200, settlement_refund_fee: 1200 }), r.outRefundNo, r.outTradeNo, /refund_fee 1200 differs/);
      await refusedWith(notification({ ...genuine(r), out_trade_no: 'P20261123000000aaaaaaaaaaaaaaaa' }), r.outRefundNo, r.outTradeNo, /out_trade_no/);
      await refusedWith(notification({ ...genuine(r), transaction_id: '4200000000000000000000000000' }), r.outRefundNo, r.outTradeNo, /transaction_id/);
      await refusedWith(notification({ ...genuine(r), refund_id: '50000000000000000000000000000' }), r.outRefundNo, r.outTradeNo, /refund_id differs/);
      await refusedWith(notification({ ...genuine(r), total_fee: 1300 }), r.outRefundNo, r.outTradeNo, /total_fee/);
    });

    it('malformed details: a non-final or unknown status, a bad amount, a missing refund_id', async () => {
      const r = await processingRefund();
      await refusedWith(notification({ ...genuine(r), refund_status: 'PROCESSING' }), r.outRefundNo, r.outTradeNo, /not a final status/);
      await refusedWith(notification({ ...genuine(r), refund_fee: '5.00' }), r.outRefundNo, r.outTradeNo, /refund_fee/);
      const { refund_id: _dropped, ...noRefundId } = genuine(r);
      await refusedWith(notification(noRefundId), r.outRefundNo, r.outTradeNo, /refund_id/);
    });

    it('another appid or mch_id, or return_code FAIL', async () => {
      const r = await processingRefund();
      await refusedWith(notification(genuine(r), { outer: { appid: 'wx9999999999999999' } }), r.outRefundNo, r.outTradeNo, /appid/);
      await refusedWith(notification(genuine(r), { outer: { mch_id: '1900000002' } }), r.outRefundNo, r.outTradeNo, /mch_id/);
      await refusedWith(notification(genuine(r), { outer: { return_code: 'FAIL' } }), r.outRefundNo, r.outTradeNo, /return_code/);
    });

    it('unsafe or broken XML: DOCTYPE, malformed, over 16 KB', async () => {
      const r = await processingRefund();
      await refusedWith('<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><req_info>&x;</req_info></xml>', r.outRefundNo, r.outTradeNo, /unreadable XML/);
      await refusedWith('<xml><return_code>SUCCESS', r.outRefundNo, r.outTradeNo, /unreadable XML/);
      const big = await postRefundNotify(`<xml><a>${'x'.repeat(17 * 1024)}</a></xml>`).expect(413);
      assert.match(big.text, /FAIL/);
      await unchanged(r.outRefundNo, r.outTradeNo);
    });
  });
});
