import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import * as https from 'node:https';
import { gunzipSync } from 'node:zlib';
import {
  beijingDay, decryptRefundInfo, httpRequest, parseXml, verifySign, WechatApiError, WechatPayClient, WechatRequestNotSentError, WechatTransportError,
} from '../../lib/wechatpay';
import { WechatSimulator } from '../../simulator';
import { deliveryEnd, DEV, MerchantServer, orderRequest, useSimulatorWithMerchant, payClient, rawCall, signedXml, TestClock } from './helpers';

const OTHER_MCH = { mchId: '1900000002', apiKey: 'otherkey000000000000000000000002' };

async function apiError(promise: Promise<unknown>): Promise<WechatApiError> {
  const err = await promise.then(() => undefined, e => e);
  assert.ok(err instanceof WechatApiError, `expected a WechatApiError, got ${err}`);
  return err;
}

describe('simulator: refunds, refund query, bills', () => {
  const clock = new TestClock();
  const sim = new WechatSimulator({
    now: clock.now,
    retryScale: 0.001,
    notifyTimeoutMs: 500,
    merchants: [
      { mchId: DEV.mchId, apiKey: DEV.apiKey, appIds: [ DEV.appId ] },
      { ...OTHER_MCH, appIds: [ DEV.appId ] },
    ],
  });
  const world = useSimulatorWithMerchant(sim, { https: true });
  let merchant: MerchantServer;
  /** HTTPS with the merchant's certificate: what refunds need. */
  let secure: WechatPayClient;
  before(() => {
    merchant = world.merchant;
    secure = payClient(sim, { baseUrl: sim.httpsUrl, tls: sim.merchantTls(DEV.mchId) });
  });

  async function paidOrder(totalFee = 1000): Promise<{ outTradeNo: string; transactionId: string }> {
    const req = orderRequest(merchant.url, { total_fee: totalFee });
    await payClient(sim).unifiedOrder(req);
    const payment = await sim.pay(req.out_trade_no);
    await sim.waitForDelivery(req.out_trade_no, { kind: 'payment', acknowledged: true });
    return { outTradeNo: req.out_trade_no, transactionId: payment.transactionId! };
  }

  function refundRequest(outTradeNo: string, overrides: Record<string, unknown> = {}) {
    return {
      out_trade_no: outTradeNo, out_refund_no: `R${outTradeNo.slice(1)}`, total_fee: 1000, refund_fee: 300,
      notify_url: merchant.url.replace('/notify', '/refund-notify'), ...overrides,
    } as { out_trade_no: string; out_refund_no: string; total_fee: number; refund_fee: number; notify_url?: string };
  }

  describe('TLS', () => {
    it('the CA, server and client certificates chain up; the client CN is the mch_id', () => {
      const tls = sim.merchantTls(DEV.mchId);
      const ca = new X509Certificate(tls.ca);
      const client = new X509Certificate(tls.cert);
      assert.ok(ca.ca);
      assert.ok(client.checkIssued(ca) && client.verify(ca.publicKey));
      assert.match(client.subject, /CN=1900000001/);
    });

    it('refund over plain HTTP is refused: no certificate', async () => {
      const res = await rawCall(sim, '/secapi/pay/refund', signedXml({ appid: DEV.appId, mch_id: DEV.mchId, nonce_str: 'n' }));
      assert.equal(res.fields.return_code, 'FAIL');
      assert.match(res.fields.return_msg, /证书/);
    });

    it('refund over HTTPS without a client certificate is refused', async () => {
      const { outTradeNo } = await paidOrder();
      const res = await httpRequest({
        method: 'POST', url: `${sim.httpsUrl}/secapi/pay/refund`, timeoutMs: 2000,
        body: signedXml({ appid: DEV.appId, mch_id: DEV.mchId, nonce_str: 'n', out_trade_no: outTradeNo, out_refund_no: 'R1', total_fee: '1000', refund_fee: '1' }),
        agent: new https.Agent({ ca: sim.merchantTls().ca }),
      });
      const fields = parseXml(res.body);
      assert.equal(fields.return_code, 'FAIL');
      assert.match(fields.return_msg, /证书/);
      assert.deepEqual(sim.order(outTradeNo)!.refunds, []);
    });

    it('another merchant\'s certificate is refused', async () => {
      const { outTradeNo } = await paidOrder();
      const wrongCert = payClient(sim, { baseUrl: sim.httpsUrl, tls: sim.merchantTls(OTHER_MCH.mchId) });
      const err = await apiError(wrongCert.refund(refundRequest(outTradeNo)));
      assert.equal(err.kind, 'return');
      assert.match(err.errCodeDes, /证书与商户号不匹配/);
    });

    it('a client that does not trust the simulator CA cannot connect', async () => {
      const { ca: _ca, ...noCa } = sim.merchantTls();
      const client = payClient(sim, { baseUrl: sim.httpsUrl, tls: noCa });
      const err = await client.refund(refundRequest('T-x')).then(() => undefined, e => e);
      assert.ok(err instanceof WechatTransportError);
    });

    it('other APIs answer over HTTPS too', async () => {
      const res = await httpRequest({
        method: 'GET', url: `${sim.httpsUrl}/pay/orderquery`, timeoutMs: 2000,
        agent: new https.Agent({ ca: sim.merchantTls().ca }),
      });
      assert.equal(parseXml(res.body).return_msg, '请使用post方法');
    });
  });

  describe('refund', () => {
    it('accepts a partial refund: signed reply with a refund_id, PROCESSING then SUCCESS, order REFUND', async () => {
      const { outTradeNo, transactionId } = await paidOrder();
      const ended = deliveryEnd(sim, outTradeNo, 'refund');
      const reply = await secure.refund(refundRequest(outTradeNo));
      assert.ok(verifySign(reply, DEV.apiKey, 'HMAC-SHA256'));
      assert.equal(reply.transaction_id, transactionId);
      assert.equal(reply.out_refund_no, `R${outTradeNo.slice(1)}`);
      assert.match(reply.refund_id, /^50\d{27}$/);
      assert.equal(reply.refund_fee, '300');
      assert.equal(reply.total_fee, '1000');
      assert.equal(reply.cash_refund_fee, '300');
      assert.equal(sim.order(outTradeNo)!.tradeState, 'REFUND');
      await ended;
      const [ refund ] = sim.order(outTradeNo)!.refunds;
      assert.equal(refund.status, 'SUCCESS');
      assert.match(refund.successTime!, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    });

    it('a refund_desc holding "]]>" and a CR/LF goes out and arrives exactly, and is signed over that text', async () => {
      const { outTradeNo } = await paidOrder();
      const reason = '顾客要求]]>退款\r\n第二行';
      const reply = await secure.refund({ ...refundRequest(outTradeNo), refund_desc: reason });
      assert.equal(reply.refund_fee, '300');
      const [ request ] = sim.requests('refund');
      assert.equal(request.params.refund_desc, reason);
      assert.equal(sim.order(outTradeNo)!.refunds[0].params.refund_desc, reason);
    });

    it('a refund_desc holding a character XML 1.0 forbids is refused before anything is sent', async () => {
      const { outTradeNo } = await paidOrder();
      const err = await secure.refund({ ...refundRequest(outTradeNo), refund_desc: 'bad\u0002reason' }).then(() => undefined, e => e);
      assert.ok(err instanceof WechatRequestNotSentError, `expected a WechatRequestNotSentError, got ${err}`);
      assert.equal(err.message, 'request to /secapi/pay/refund not sent: value of refund_desc contains U+0002, which XML 1.0 does not allow');
      assert.deepEqual(sim.requests('refund'), []);
    });

    it('by transaction_id works the same', async () => {
      const { transactionId, outTradeNo } = await paidOrder();
      const reply = await secure.refund({ ...refundRequest(outTradeNo), out_trade_no: undefined, transaction_id: transactionId });
      assert.equal(reply.out_trade_no, outTradeNo);
    });

    it('sends the refund notification: req_info decrypts with the key to the refund\'s details, no sign', async () => {
      const { outTradeNo, transactionId } = await paidOrder();
      const reply = await secure.refund(refundRequest(outTradeNo));
      const [ delivery ] = await sim.waitForDelivery(outTradeNo, { kind: 'refund', acknowledged: true });
      assert.equal(delivery.outRefundNo, reply.out_refund_no);
      assert.match(delivery.url, /refund-notify$/);
      const fields = parseXml(delivery.body);
      assert.deepEqual(Object.keys(fields).sort(), [ 'appid', 'mch_id', 'nonce_str', 'req_info', 'return_code' ]);
      const info = parseXml(decryptRefundInfo(fields.req_info, DEV.apiKey), { root: 'root' });
      assert.equal(info.transaction_id, transactionId);
      assert.equal(info.out_trade_no, outTradeNo);
      assert.equal(info.refund_id, reply.refund_id);
      assert.equal(info.out_refund_no, reply.out_refund_no);
      assert.equal(info.total_fee, '1000');
      assert.equal(info.refund_fee, '300');
      assert.equal(info.settlement_refund_fee, '300');
      assert.equal(info.refund_status, 'SUCCESS');
      assert.match(info.success_time, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      assert.equal(info.refund_request_source, 'API');
      assert.throws(() => decryptRefundInfo(fields.req_info, 'k'.repeat(32)));
    });

    it('refund notifications are retried like payment ones', async () => {
      const { outTradeNo } = await paidOrder();
      merchant.replyWith({ body: 'nope' });
      await secure.refund(refundRequest(outTradeNo));
      const attempts = await sim.waitForDelivery(outTradeNo, { kind: 'refund', count: 2 });
      assert.deepEqual(attempts.map(a => a.acknowledged), [ false, true ]);
      assert.equal(attempts[1].delayMs, 15);
    });

    it('without a notify_url (and none configured) there is no refund notification', async () => {
      const { outTradeNo } = await paidOrder();
      await secure.refund(refundRequest(outTradeNo, { notify_url: undefined }));
      assert.equal(sim.order(outTradeNo)!.refunds[0].notifyUrl, undefined);
      assert.deepEqual(sim.deliveries(outTradeNo).filter(d => d.kind === 'refund'), []);
    });

    it('the same out_refund_no with the same amounts is the same refund (safe retry)', async () => {
      const { outTradeNo } = await paidOrder();
      const first = await secure.refund(refundRequest(outTradeNo));
      const again = await secure.refund(refundRequest(outTradeNo));
      assert.equal(again.refund_id, first.refund_id);
      assert.equal(sim.order(outTradeNo)!.refunds.length, 1);
    });

    it('the same out_refund_no with another amount gets PARAM_ERROR', async () => {
      const { outTradeNo } = await paidOrder();
      await secure.refund(refundRequest(outTradeNo));
      const err = await apiError(secure.refund(refundRequest(outTradeNo, { refund_fee: 301 })));
      assert.equal(err.errCode, 'PARAM_ERROR');
      assert.match(err.errCodeDes, /与之前请求不一致/);
    });

    it('the same out_refund_no on another order gets PARAM_ERROR', async () => {
      const a = await paidOrder();
      const b = await paidOrder();
      await secure.refund(refundRequest(a.outTradeNo, { out_refund_no: 'R-shared' }));
      const err = await apiError(secure.refund(refundRequest(b.outTradeNo, { out_refund_no: 'R-shared' })));
      assert.equal(err.errCode, 'PARAM_ERROR');
    });

    it('partial refunds add up to the paid amount, and no further (ERROR)', async () => {
      const { outTradeNo } = await paidOrder();
      await secure.refund(refundRequest(outTradeNo, { out_refund_no: 'R-1', refund_fee: 600 }));
      await secure.refund(refundRequest(outTradeNo, { out_refund_no: 'R-2', refund_fee: 400 }));
      const err = await apiError(secure.refund(refundRequest(outTradeNo, { out_refund_no: 'R-3', refund_fee: 1 })));
      assert.equal(err.errCode, 'ERROR');
    });

    it('a refund larger than the payment gets ERROR', async () => {
      const { outTradeNo } = await paidOrder();
      const err = await apiError(secure.refund(refundRequest(outTradeNo, { refund_fee: 1001 })));
      assert.equal(err.errCode, 'ERROR');
      assert.equal(sim.order(outTradeNo)!.tradeState, 'SUCCESS');
    });

    it('a total_fee that is not the order\'s gets PARAM_ERROR', async () => {
      const { outTradeNo } = await paidOrder();
      const err = await apiError(secure.refund(refundRequest(outTradeNo, { total_fee: 999 })));
      assert.equal(err.errCode, 'PARAM_ERROR');
    });

    it('an unpaid order gets ORDERNOTEXIST', async () => {
      const req = orderRequest(merchant.url, { total_fee: 1000 });
      await payClient(sim).unifiedOrder(req);
      const err = await apiError(secure.refund(refundRequest(req.out_trade_no)));
      assert.equal(err.errCode, 'ORDERNOTEXIST');
    });

    it('an unknown out_trade_no gets ORDERNOTEXIST, an unknown transaction_id INVALID_TRANSACTIONID', async () => {
      assert.equal((await apiError(secure.refund(refundRequest('T-unknown')))).errCode, 'ORDERNOTEXIST');
      const err = await apiError(secure.refund({ ...refundRequest('T-x'), out_trade_no: undefined, transaction_id: '4200000000202601150000000000' }));
      assert.equal(err.errCode, 'INVALID_TRANSACTIONID');
    });

    it('more than a year after payment gets TRADE_OVERDUE', async () => {
      const { outTradeNo } = await paidOrder();
      clock.advance(366 * 24 * 3600 * 1000);
      assert.equal((await apiError(secure.refund(refundRequest(outTradeNo)))).errCode, 'TRADE_OVERDUE');
    });

    for (const [ field, value, code ] of [
      [ 'out_refund_no', undefined, 'LACK_PARAMS' ], [ 'refund_fee', undefined, 'LACK_PARAMS' ],
      [ 'out_refund_no', 'has space', 'PARAM_ERROR' ], [ 'out_refund_no', 'r'.repeat(65), 'PARAM_ERROR' ],
      [ 'refund_fee', 0, 'PARAM_ERROR' ], [ 'refund_fee', 1.5, 'PARAM_ERROR' ], [ 'notify_url', 'http://x/?a=1', 'PARAM_ERROR' ],
    ] as const) {
      it(`${field}=${value} gets ${code}`, async () => {
        const { outTradeNo } = await paidOrder();
        const err = await apiError(secure.refund(refundRequest(outTradeNo, { [field]: value })));
        assert.equal(err.errCode, code);
      });
    }

    it('neither out_trade_no nor transaction_id gets LACK_PARAMS', async () => {
      const err = await apiError(secure.refund({ ...refundRequest('T-x'), out_trade_no: undefined }));
      assert.equal(err.errCode, 'LACK_PARAMS');
    });

    it('faults apply: a dropped reply still made the refund, and the retry returns it', async () => {
      const { outTradeNo } = await paidOrder();
      sim.setFault('refund', { kind: 'drop' }, 1);
      assert.ok((await secure.refund(refundRequest(outTradeNo)).then(() => undefined, e => e)) instanceof WechatTransportError);
      const made = sim.order(outTradeNo)!.refunds[0];
      assert.equal((await secure.refund(refundRequest(outTradeNo))).refund_id, made.refundId);
    });

    it('faults apply: SYSTEMERROR makes no refund', async () => {
      const { outTradeNo } = await paidOrder();
      sim.setFault('refund', { kind: 'systemerror' }, 1);
      assert.equal((await apiError(secure.refund(refundRequest(outTradeNo)))).errCode, 'SYSTEMERROR');
      assert.deepEqual(sim.order(outTradeNo)!.refunds, []);
    });
  });

  describe('manual completion', () => {
    const manual = new WechatSimulator({ autoCompleteRefunds: false, retryScale: 0.001, notifyTimeoutMs: 500 });
    let client: WechatPayClient;
    before(async () => {
      await manual.start();
      await manual.startHttps();
      client = payClient(manual, { baseUrl: manual.httpsUrl, tls: manual.merchantTls() });
    });
    after(() => manual.stop());

    async function refunded(): Promise<string> {
      const req = orderRequest(merchant.url, { total_fee: 1000 });
      await payClient(manual).unifiedOrder(req);
      await manual.pay(req.out_trade_no);
      await client.refund(refundRequest(req.out_trade_no));
      return req.out_trade_no;
    }

    it('stays PROCESSING until completeRefund(), then notifies', async () => {
      const no = await refunded();
      const query = await payClient(manual).refundQuery({ out_trade_no: no });
      assert.equal(query.refund_status_0, 'PROCESSING');
      assert.ok(!('refund_success_time_0' in query));
      const done = manual.completeRefund(`R${no.slice(1)}`);
      assert.equal(done.status, 'SUCCESS');
      const [ delivery ] = await manual.waitForDelivery(no, { kind: 'refund', acknowledged: true });
      const info = parseXml(decryptRefundInfo(parseXml(delivery.body).req_info, DEV.apiKey), { root: 'root' });
      assert.equal(info.refund_status, 'SUCCESS');
    });

    it('REFUNDCLOSE gives the amount back; CHANGE does not', async () => {
      const no = await refunded();
      manual.completeRefund(`R${no.slice(1)}`, 'REFUNDCLOSE');
      const info = parseXml(decryptRefundInfo(parseXml((await manual.waitForDelivery(no, { kind: 'refund' }))[0].body).req_info, DEV.apiKey), { root: 'root' });
      assert.equal(info.refund_status, 'REFUNDCLOSE');
      assert.ok(!('success_time' in info));
      await client.refund(refundRequest(no, { out_refund_no: 'R-all', refund_fee: 1000 }));
      manual.completeRefund('R-all', 'CHANGE');
      assert.equal((await apiError(client.refund(refundRequest(no, { out_refund_no: 'R-more', refund_fee: 1 })))).errCode, 'ERROR');
    });

    it('refuses to complete an unknown or finished refund', async () => {
      const no = await refunded();
      manual.completeRefund(`R${no.slice(1)}`);
      assert.throws(() => manual.completeRefund(`R${no.slice(1)}`), /already SUCCESS/);
      assert.throws(() => manual.completeRefund('R-unknown'), /no refund/);
    });
  });

  describe('refundquery', () => {
    it('lists an order\'s refunds with numbered fields', async () => {
      const { outTradeNo, transactionId } = await paidOrder();
      const r1 = await secure.refund(refundRequest(outTradeNo, { out_refund_no: 'R-a', refund_fee: 100 }));
      const r2 = await secure.refund(refundRequest(outTradeNo, { out_refund_no: 'R-b', refund_fee: 200 }));
      await sim.waitForDelivery(outTradeNo, { kind: 'refund', acknowledged: true, count: 2 });
      const reply = await payClient(sim).refundQuery({ out_trade_no: outTradeNo });
      assert.ok(verifySign(reply, DEV.apiKey, 'HMAC-SHA256'));
      assert.equal(reply.transaction_id, transactionId);
      assert.equal(reply.refund_count, '2');
      assert.ok(!('total_refund_count' in reply), 'only with offset');
      assert.equal(reply.out_refund_no_0, 'R-a');
      assert.equal(reply.refund_id_0, r1.refund_id);
      assert.equal(reply.refund_fee_0, '100');
      assert.equal(reply.refund_status_0, 'SUCCESS');
      assert.match(reply.refund_success_time_0, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      assert.equal(reply.out_refund_no_1, 'R-b');
      assert.equal(reply.refund_id_1, r2.refund_id);
    });

    it('by out_refund_no, refund_id or transaction_id', async () => {
      const { outTradeNo, transactionId } = await paidOrder();
      const r1 = await secure.refund(refundRequest(outTradeNo, { out_refund_no: 'R-a', refund_fee: 100 }));
      await secure.refund(refundRequest(outTradeNo, { out_refund_no: 'R-b', refund_fee: 200 }));
      const byNo = await payClient(sim).refundQuery({ out_refund_no: 'R-b' });
      assert.equal(byNo.refund_count, '1');
      assert.equal(byNo.out_refund_no_0, 'R-b');
      const byId = await payClient(sim).refundQuery({ refund_id: r1.refund_id });
      assert.equal(byId.out_refund_no_0, 'R-a');
      assert.equal((await payClient(sim).refundQuery({ transaction_id: transactionId })).refund_count, '2');
    });

    it('pages by 10 with offset, giving total_refund_count', async () => {
      const { outTradeNo } = await paidOrder();
      for (let i = 0; i < 12; i++) await secure.refund(refundRequest(outTradeNo, { out_refund_no: `R-${i}`, refund_fee: 10 }));
      const first = await payClient(sim).refundQuery({ out_trade_no: outTradeNo, offset: 0 });
      assert.equal(first.refund_count, '10');
      assert.equal(first.total_refund_count, '12');
      const second = await payClient(sim).refundQuery({ out_trade_no: outTradeNo, offset: 10 });
      assert.equal(second.refund_count, '2');
      assert.equal(second.out_refund_no_0, 'R-10');
      assert.equal((await apiError(payClient(sim).refundQuery({ out_trade_no: outTradeNo, offset: 12 }))).errCode, 'REFUNDNOTEXIST');
    });

    it('an order without refunds, or unknown numbers, get REFUNDNOTEXIST', async () => {
      const { outTradeNo } = await paidOrder();
      assert.equal((await apiError(payClient(sim).refundQuery({ out_trade_no: outTradeNo }))).errCode, 'REFUNDNOTEXIST');
      assert.equal((await apiError(payClient(sim).refundQuery({ out_refund_no: 'R-none' }))).errCode, 'REFUNDNOTEXIST');
      assert.equal((await apiError(payClient(sim).refundQuery({ out_trade_no: 'T-none' }))).errCode, 'REFUNDNOTEXIST');
    });

    it('another merchant\'s refund gets REFUNDNOTEXIST', async () => {
      const { outTradeNo } = await paidOrder();
      await secure.refund(refundRequest(outTradeNo, { out_refund_no: 'R-mine' }));
      const other = payClient(sim, OTHER_MCH);
      assert.equal((await apiError(other.refundQuery({ out_refund_no: 'R-mine' }))).errCode, 'REFUNDNOTEXIST');
    });

    it('no reference at all gets LACK_PARAMS; a bad offset PARAM_ERROR', async () => {
      assert.equal((await apiError(payClient(sim).refundQuery({}))).errCode, 'LACK_PARAMS');
      const res = await rawCall(sim, '/pay/refundquery', signedXml({ appid: DEV.appId, mch_id: DEV.mchId, nonce_str: 'n', out_trade_no: 'T', offset: '-1' }));
      assert.equal(res.fields.err_code, 'PARAM_ERROR');
    });
  });

  describe('downloadbill', () => {
    const DAY = 24 * 3600 * 1000;
    /** The clock starts at 10:00 Beijing; the next day at 10:00 the bill is ready. */
    const nextMorning = () => clock.advance(DAY);

    function parseBill(text: string) {
      const lines = text.split('\r\n').filter(Boolean);
      const header = lines[0].split(',');
      const rows = lines.slice(1, -2).map(line => {
        const cells = line.split(',`');
        cells[0] = cells[0].replace(/^`/, '');
        return Object.fromEntries(header.map((name, i) => [ name, cells[i] ]));
      });
      return { header, rows, summaryHeader: lines[lines.length - 2].split(','), summary: lines[lines.length - 1].split(',').map(c => c.replace(/^`/, '')) };
    }

    it('lists the day\'s payments and refunds, in yuan, every field prefixed with a backtick', async () => {
      const day = beijingDay(clock.now());
      const { outTradeNo, transactionId } = await paidOrder(1234);
      const refund = await secure.refund(refundRequest(outTradeNo, { total_fee: 1234, refund_fee: 34 }));
      nextMorning();
      const text = await payClient(sim).downloadBill(day, 'ALL');
      const bill = parseBill(text);
      assert.equal(bill.header[0], '交易时间');
      assert.ok(!bill.header.some(h => h.startsWith('`')));
      assert.ok(text.split('\r\n')[1].startsWith('`'));
      assert.equal(bill.rows.length, 2);
      const [ pay, ref ] = bill.rows;
      assert.equal(pay['商户订单号'], outTradeNo);
      assert.equal(pay['微信订单号'], transactionId);
      assert.equal(pay['交易状态'], 'SUCCESS');
      assert.equal(pay['总金额'], '12.34');
      assert.equal(pay['手续费'], '0.07');
      assert.equal(pay['费率'], '0.60%');
      assert.equal(ref['交易状态'], 'REFUND');
      assert.equal(ref['微信退款单号'], refund.refund_id);
      assert.equal(ref['退款金额'], '0.34');
      assert.equal(ref['申请退款金额'], '0.34');
      assert.deepEqual(bill.summaryHeader.slice(0, 3), [ '总交易单数', '应结订单总金额', '退款总金额' ]);
      assert.deepEqual(bill.summary.slice(0, 3), [ '2', '12.34', '0.34' ]);
    });

    it('SUCCESS and REFUND bills hold only their kind', async () => {
      const day = beijingDay(clock.now());
      const { outTradeNo } = await paidOrder();
      await secure.refund(refundRequest(outTradeNo));
      nextMorning();
      assert.deepEqual(parseBill(await payClient(sim).downloadBill(day, 'SUCCESS')).rows.map(r => r['交易状态']), [ 'SUCCESS' ]);
      assert.deepEqual(parseBill(await payClient(sim).downloadBill(day, 'REFUND')).rows.map(r => r['交易状态']), [ 'REFUND' ]);
    });

    it('gzips with tar_type GZIP', async () => {
      const day = beijingDay(clock.now());
      await paidOrder();
      nextMorning();
      const params = { appid: DEV.appId, mch_id: DEV.mchId, nonce_str: 'n', bill_date: day, bill_type: 'ALL', tar_type: 'GZIP' };
      const res = await httpRequest({ method: 'POST', url: `${sim.url}/pay/downloadbill`, body: signedXml(params), timeoutMs: 2000 });
      assert.match(gunzipSync(res.body).toString('utf8'), /^交易时间,/);
    });

    it('is only another merchant\'s business for that merchant', async () => {
      const day = beijingDay(clock.now());
      await paidOrder();
      nextMorning();
      const err = await apiError(payClient(sim, OTHER_MCH).downloadBill(day));
      assert.equal(err.errCode, '20002');
      assert.equal(err.errCodeDes, 'No Bill Exist');
    });

    it('a day without transactions: No Bill Exist', async () => {
      nextMorning();
      const err = await apiError(payClient(sim).downloadBill(beijingDay(new Date(clock.now().getTime() - DAY))));
      assert.equal(err.kind, 'return');
      assert.equal(err.errCodeDes, 'No Bill Exist');
      assert.deepEqual(Object.keys(err.reply).sort(), [ 'error_code', 'return_code', 'return_msg' ]);
    });

    it('today, or yesterday before 10:00 Beijing: Bill Creating', async () => {
      const day = beijingDay(clock.now());
      await paidOrder();
      assert.equal((await apiError(payClient(sim).downloadBill(day))).errCodeDes, 'Bill Creating');
      clock.advance(DAY - 1); // 09:59:59.999 the next day
      assert.equal((await apiError(payClient(sim).downloadBill(day))).errCodeDes, 'Bill Creating');
      clock.advance(1);
      await payClient(sim).downloadBill(day);
    });

    it('a future, malformed or expired date, or a bad bill_type, is refused', async () => {
      const client = payClient(sim);
      assert.equal((await apiError(client.downloadBill('20991231'))).errCodeDes, 'invalid bill_date');
      assert.equal((await apiError(client.downloadBill('2026-01-01'))).errCodeDes, 'invalid bill_date');
      assert.equal((await apiError(client.downloadBill('20260230'))).errCodeDes, 'invalid bill_date');
      assert.equal((await apiError(client.downloadBill('20200101'))).errCodeDes, 'No Bill Exist');
      assert.equal((await apiError(client.downloadBill('20260101', 'NOPE' as any))).errCodeDes, 'invalid bill_type');
    });
  });
});
