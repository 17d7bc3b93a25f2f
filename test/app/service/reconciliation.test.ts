import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { format } from 'node:util';
import { app, mock } from 'egg-mock/bootstrap';
import { beijingDay, fromBeijing, WechatPayClient } from '../../../lib/wechatpay';
import { DEV_CREDENTIALS, PayOptions, RefundStatus, WechatSimulator } from '../../../simulator';
import { formatReport } from '../../../scripts/reconcileReport';
import { runReconcileCommand } from '../../../scripts/reconcileCommand';
import { Discrepancy } from '../../../app/domain/reconcileMatching';
import { jobLockKey } from '../../../app/service/jobLock';
import ReconciliationService, { type ReconciliationReport } from '../../../app/service/reconciliation';
import { closedUrl } from '../../support/closedPort';
import { testEnv } from '../../support/env';
import { createOrder, login, resetWorld } from '../../support/fixtures';

const DAY_MS = 24 * 3600 * 1000;
const ROOT = path.join(__dirname, '../../..');

/** YYYY-MM-DD of the Beijing day an instant falls in. */
const beijingDate = (at: Date) => {
  const d = beijingDay(at);
  return `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}`;
};

/** An instant of a Beijing day: `hhmmss` Beijing time on YYYY-MM-DD. */
const beijingAt = (day: string, hhmmss: string) => fromBeijing(`${day.replace(/-/g, '')}${hhmmss}`)!;

/** The Beijing day `days` after (before, if negative) `day`. */
const addDays = (day: string, days: number) => beijingDate(new Date(beijingAt(day, '120000').getTime() + days * DAY_MS));

/**
 * The Beijing day the payments and refunds of these tests happen on: a fixed day, never today's,
 * which changes under a test running across Beijing midnight (16:00 UTC). The simulator's clock
 * starts at its noon in every test, and our own rows are dated from that clock.
 */
const DAY = '2026-11-23';

interface Paid {
  outTradeNo: string;
  transactionId: string;
  totalFee: number;
  orderId: number;
  attemptId: number;
}

/** The parts of discrepancies a test asserts on, in a stable order. */
const kinds = (report: ReconciliationReport) =>
  report.discrepancies.map(d => [ d.kind, d.subject, d.outRefundNo ?? d.outTradeNo ]).sort();

describe('reconciliation with WeChat\'s bill', () => {
  /**
   * A simulator of our own whose clock is set by the tests and runs on from there: each test starts
   * at noon of DAY; a day's bill exists only from 10:00 the next (Beijing) day, so to download a
   * day's bill the simulator is moved two days past it, and to place a payment on another day it is
   * moved to that moment while the payer pays.
   */
  let offsetMs = 0;
  /** The simulator's time, which our rows written by hand (a refund asked for, a payment planted) take too. */
  const simNow = () => new Date(Date.now() + offsetMs);
  const setSimClock = (at: Date) => { offsetMs = at.getTime() - Date.now(); };
  const sim = new WechatSimulator({
    now: simNow, retryScale: 0.001, notifyTimeoutMs: 3000, autoCompleteRefunds: false,
  });
  let saved: { sim: WechatSimulator; payBaseUrl: string; loginBaseUrl: string };
  /** The merchant's client with its certificate, for refunds straight at the simulator. */
  let secure: WechatPayClient;
  let token: string;
  let refundSeq = 0;

  before(async () => {
    await sim.start();
    await sim.startHttps();
    const wechat = app.config.wechat;
    saved = { sim: testEnv.sim, payBaseUrl: wechat.payBaseUrl, loginBaseUrl: wechat.loginBaseUrl };
    testEnv.sim = sim;
    wechat.payBaseUrl = sim.url;
    wechat.loginBaseUrl = sim.url;
    secure = new WechatPayClient({
      appId: DEV_CREDENTIALS.appId, mchId: DEV_CREDENTIALS.mchId, apiKey: DEV_CREDENTIALS.apiKey, signType: 'HMAC-SHA256',
      baseUrl: sim.httpsUrl, timeoutMs: 2000, tls: sim.merchantTls(),
    });
  });
  after(async () => {
    testEnv.sim = saved.sim;
    app.config.wechat.payBaseUrl = saved.payBaseUrl;
    app.config.wechat.loginBaseUrl = saved.loginBaseUrl;
    await sim.stop();
  });
  beforeEach(async () => {
    setSimClock(beijingAt(DAY, '120000'));
    await resetWorld();
    ({ token } = await login());
  });
  afterEach(() => {
    offsetMs = 0;
    mock.restore();
    sim.clearFaults();
  });

  async function newOrder(quantity = 1): Promise<string> {
    return (await createOrder(token, [{ productId: 1, quantity }]).expect(200)).body.outTradeNo;
  }

  /** An order paid at WeChat (at the simulator's clock, moved to `at` if given) and applied here. */
  async function paidOrder(options: { quantity?: number; at?: Date; coupons?: PayOptions['coupons']; attach?: string } = {}): Promise<Paid> {
    const outTradeNo = options.attach === undefined ? await newOrder(options.quantity)
      : (await app.httpRequest().post('/payment/order').set('Authorization', `Bearer ${token}`)
        .send({ items: [{ productId: 1, quantity: options.quantity ?? 1 }], attach: options.attach })
        .expect(200)).body.outTradeNo;
    const saved = offsetMs;
    if (options.at) setSimClock(options.at);
    const delivered = sim.waitForDelivery(outTradeNo, { kind: 'payment', acknowledged: true });
    const payment = await sim.pay(outTradeNo, { coupons: options.coupons });
    offsetMs = saved;
    await delivered;
    const order = (await app.model.Order.findOne({ where: { outTradeNo } }))!;
    assert.equal(order.status, 'SUCCESS');
    return { outTradeNo, transactionId: payment.transactionId!, totalFee: order.totalFee, orderId: order.id, attemptId: order.paidAttemptId! };
  }

  /** A refund accepted by WeChat (mutual TLS), then ended there with `status`. */
  async function refundAtWechat(paid: Paid, amount: number, status: RefundStatus = 'SUCCESS') {
    const outRefundNo = `RF${paid.outTradeNo.slice(1, 20)}${++refundSeq}`;
    const reply = await secure.refund({ out_trade_no: paid.outTradeNo, out_refund_no: outRefundNo, total_fee: paid.totalFee, refund_fee: amount });
    if (status !== 'PROCESSING') sim.completeRefund(outRefundNo, status);
    return { outRefundNo, refundId: reply.refund_id as string | null, reply };
  }

  /** Our `refunds` row, as the refund service writes it. */
  async function recordRefund(paid: Paid, refund: { outRefundNo: string; refundId: string | null; amount: number; status: string; createdAt?: Date }) {
    const at = refund.createdAt ?? simNow();
    await app.model.query(
      `INSERT INTO refunds (order_id, attempt_id, out_trade_no, transaction_id, out_refund_no, refund_id, amount, reason, status, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'test', ?, ?, ?)`,
      { replacements: [ paid.orderId, paid.attemptId, paid.outTradeNo, paid.transactionId, refund.outRefundNo, refund.refundId,
        refund.amount, refund.status, at, at ] },
    );
  }

  /** Runs `fn` with the simulator's clock at `at`, then sets it back. */
  async function withSimClockAt<T>(at: Date, fn: () => Promise<T>): Promise<T> {
    const saved = offsetMs;
    setSimClock(at);
    try {
      return await fn();
    } finally {
      offsetMs = saved;
    }
  }

  /** Reconciles a day (DAY by default) with the simulator two days later, when that day's bill is ready. */
  async function reconcile(billDate = DAY): Promise<ReconciliationReport> {
    return withSimClockAt(beijingAt(addDays(billDate, 2), '120000'),
      () => app.createAnonymousContext().service.reconciliation.reconcile(billDate));
  }

  async function stored(billDate: string) {
    return (await app.model.Reconciliation.findOne({ where: { billDate } }))!;
  }

  async function sql(query: string, replacements: unknown[]) {
    await app.model.query(query, { replacements });
  }

  describe('coupons', () => {
    it('an order with attach paid partly by coupons reconciles: matched on total_fee, coupon totals on both sides', async () => {
      const coupon = await paidOrder({ attach: 'table=7', coupons: [{ fee: 200, type: 'CASH' }, { fee: 100, type: 'NO_CASH' }] });
      const plain = await paidOrder();
      const report = await reconcile();
      assert.equal(report.status, 'OK');
      assert.deepEqual(report.discrepancies, []);
      // The bill's 订单金额 is the orders' total_fee; 应结订单金额 less the NO_CASH coupon; fees on what is settled.
      assert.deepEqual(report.bill, { paymentCount: 2, paymentTotal: 2400, refundCount: 0, refundTotal: 0, feeTotal: 7 + 7, couponTotal: 300 });
      assert.deepEqual(report.local, { paymentCount: 2, paymentTotal: 2400, refundCount: 0, refundTotal: 0, couponTotal: 300 });
      const row = await stored(DAY);
      assert.deepEqual([ Number(row.billCouponTotal), Number(row.localCouponTotal) ], [ 300, 300 ]);
      assert.deepEqual(await app.createAnonymousContext().service.reconciliation.find(DAY), { ...report, billDate: DAY });
      assert.match(formatReport(report), /\n {2}coupons {5}3\.00 {18}3\.00\n/);
      // The bill WeChat gave: the attach and the coupon on the coupon order's line.
      const bill = await withSimClockAt(beijingAt(addDays(DAY, 2), '120000'), () => app.wechatPay.downloadBill(DAY.replace(/-/g, ''), 'ALL'));
      const line = bill.split('\r\n').find(l => l.includes(coupon.outTradeNo))!;
      assert.match(line, /`table=7,/);
      assert.match(line, /,`11\.00,`3\.00,/);
      assert.ok(plain.transactionId);
    });

    it('refunds of an order paid partly by coupons reconcile on the amount asked for, where the bill\'s 退款金额 is less the NO_CASH coupon\'s share', async () => {
      const paid = await paidOrder({ coupons: [{ fee: 200, type: 'CASH' }, { fee: 100, type: 'NO_CASH' }] });
      assert.equal(paid.totalFee, 1200);
      const first = await refundAtWechat(paid, 600);
      const rest = await refundAtWechat(paid, 600);
      // WeChat shares each refund between cash and the coupons as they shared the payment: of 6.00,
      // 1.50 goes back to the coupons, 0.50 of it to the NO_CASH one, so the settlement gives back 5.50.
      const split = (reply: Record<string, unknown>) => [ reply.settlement_refund_fee, reply.cash_refund_fee, reply.coupon_refund_fee ];
      assert.deepEqual([ split(first.reply), split(rest.reply) ], [[ '550', '450', '150' ], [ '550', '450', '150' ]]);
      await recordRefund(paid, { ...first, amount: 600, status: 'SUCCESS' });
      await recordRefund(paid, { ...rest, amount: 600, status: 'SUCCESS' });

      const report = await reconcile();
      assert.equal(report.status, 'OK');
      assert.deepEqual(report.discrepancies, []);
      // Fees on what is settled: 0.07 on the payment's 11.00, 0.03 back on each refund's 5.50.
      assert.deepEqual(report.bill, { paymentCount: 1, paymentTotal: 1200, refundCount: 2, refundTotal: 1200, feeTotal: 7 - 3 - 3, couponTotal: 300 });
      assert.deepEqual(report.local, { paymentCount: 1, paymentTotal: 1200, refundCount: 2, refundTotal: 1200, couponTotal: 300 });

      const bill = await withSimClockAt(beijingAt(addDays(DAY, 2), '120000'), () => app.wechatPay.downloadBill(DAY.replace(/-/g, ''), 'ALL'));
      const lines = bill.trimEnd().split('\r\n');
      for (const outRefundNo of [ first.outRefundNo, rest.outRefundNo ]) {
        // 退款金额 5.50, 代金券或立减优惠退款金额 1.50, ..., 订单金额 12.00, 申请退款金额 6.00.
        assert.match(lines.find(l => l.includes(outRefundNo))!, /,`5\.50,`1\.50,`ORIGINAL,`SUCCESS,.*,`12\.00,`6\.00,`$/);
      }
      // 总交易单数, 应结订单总金额, 退款总金额 (settled), 充值券退款总金额 (the CASH coupon's shares), 手续费总金额, 订单总金额, 申请退款总金额.
      assert.equal(lines[lines.length - 1], '`3,`11.00,`11.00,`2.00,`0.01,`12.00,`12.00');
    });

    it('our payment says other coupons than the bill: AMOUNT_MISMATCH naming the coupons', async () => {
      const paid = await paidOrder({ coupons: [{ fee: 200 }] });
      await sql('UPDATE payment_attempts SET coupon_fee = 0 WHERE id = ?', [ paid.attemptId ]);
      const report = await reconcile();
      assert.equal(report.status, 'MISMATCH');
      assert.deepEqual(kinds(report), [[ 'AMOUNT_MISMATCH', 'PAYMENT', paid.outTradeNo ]]);
      assert.match(report.discrepancies[0].message, /2\.00 yuan of coupons.*0\.00 yuan/);
    });
  });

  describe('a clean day', () => {
    it('matches every payment and refund: OK, totals on both sides, the result stored', async () => {
      const a = await paidOrder();
      const b = await paidOrder({ quantity: 3 });
      await newOrder(); // unpaid: on neither side
      const refund = await refundAtWechat(b, 500);
      await recordRefund(b, { ...refund, amount: 500, status: 'SUCCESS' });
      // Refused by WeChat for good: never on its books, so not one of our refunds of the day.
      await recordRefund(a, { outRefundNo: 'RF-refused', refundId: null, amount: 100, status: 'FAILED' });

      const today = DAY;
      const report = await reconcile(today);
      assert.equal(report.status, 'OK');
      assert.deepEqual(report.discrepancies, []);
      assert.equal(report.error, null);
      assert.deepEqual(report.bill, { paymentCount: 2, paymentTotal: 4800, refundCount: 1, refundTotal: 500, feeTotal: 7 + 22 - 3, couponTotal: 0 });
      assert.deepEqual(report.local, { paymentCount: 2, paymentTotal: 4800, refundCount: 1, refundTotal: 500, couponTotal: 0 });

      const [ request ] = sim.requests('downloadbill');
      assert.equal(request.params.bill_date, today.replace(/-/g, ''));
      assert.equal(request.params.bill_type, 'ALL');

      const row = await stored(today);
      assert.equal(row.status, 'OK');
      assert.equal(row.hasBill, true);
      assert.deepEqual([ row.billPaymentCount, Number(row.billPaymentTotal), row.billRefundCount, Number(row.billRefundTotal), Number(row.billFeeTotal) ],
        [ 2, 4800, 1, 500, 26 ]);
      assert.deepEqual([ row.localPaymentCount, Number(row.localPaymentTotal), row.localRefundCount, Number(row.localRefundTotal) ], [ 2, 4800, 1, 500 ]);
      assert.equal(row.discrepancyCount, 0);
      assert.equal(row.discrepancies, '[]');
      assert.ok(row.startedAt <= row.finishedAt);
      assert.deepEqual(await app.createAnonymousContext().service.reconciliation.find(today), { ...report, billDate: today });
    });

    // POS (payment code): docs/pos.md.
    it('a payment-code charge is on the bill like any payment: OK', async () => {
      await paidOrder();
      const charged = await app.httpRequest().post('/admin/pos/charges').set({ Authorization: `Bearer ${app.config.adminToken}` })
        .set('Idempotency-Key', 'reconcile-pos-1')
        .send({ authCode: sim.issuePaymentCode().authCode, amount: 1500 })
        .expect(201);
      assert.equal(charged.body.status, 'PAID');
      const report = await reconcile();
      assert.deepEqual(report.discrepancies, []);
      assert.equal(report.status, 'OK');
      assert.deepEqual(report.local, { paymentCount: 2, paymentTotal: 1200 + 1500, refundCount: 0, refundTotal: 0, couponTotal: 0 });
      assert.equal(report.bill?.paymentTotal, 1200 + 1500);
    });

    it('a double payment flagged for refund is ours too: OK', async () => {
      const paid = await paidOrder();
      // A second attempt of the same order paid at WeChat: recorded and flagged (what settlement does).
      const second = await paidOrder();
      // Its attempt became PAID when we learned of the payment, on the payment's day.
      await sql('UPDATE payment_attempts SET order_id = ?, updated_at = ? WHERE id = ?', [ paid.orderId, simNow(), second.attemptId ]);
      await sql('DELETE FROM orders WHERE id = ?', [ second.orderId ]);
      await sql('UPDATE orders SET refund_required = 1 WHERE id = ?', [ paid.orderId ]);
      const report = await reconcile();
      assert.equal(report.status, 'OK', JSON.stringify(report.discrepancies));
      assert.equal(report.local.paymentCount, 2);

      await sql('UPDATE orders SET refund_required = 0 WHERE id = ?', [ paid.orderId ]);
      const unflagged = await reconcile();
      assert.deepEqual(kinds(unflagged), [[ 'STATUS_MISMATCH', 'PAYMENT', second.outTradeNo ]]);
      assert.match(unflagged.discrepancies[0].message, /second payment .* not flagged for refund/);
    });
  });

  describe('payments: a planted discrepancy of each kind is found', () => {
    it('paid at WeChat, notification never applied here: MISSING_LOCAL', async () => {
      const clean = await paidOrder();
      mock(app.config.wechat, 'notifyUrl', await closedUrl('/payment/notify'));
      const lost = await newOrder(2);
      mock.restore();
      const payment = await sim.pay(lost);

      const report = await reconcile();
      assert.equal(report.status, 'MISMATCH');
      const [ d ] = report.discrepancies;
      assert.deepEqual(kinds(report), [[ 'MISSING_LOCAL', 'PAYMENT', lost ]]);
      assert.equal(d.transactionId, payment.transactionId);
      assert.equal(d.wechat!.amount, 2400);
      assert.equal(d.wechat!.state, 'SUCCESS');
      assert.equal(d.ours, undefined);
      assert.match(d.message, /WeChat took 24\.00 yuan .* our attempt is PREPAID and its order NOTPAY: the payment was never applied here/);
      assert.deepEqual(report.bill, { paymentCount: 2, paymentTotal: 3600, refundCount: 0, refundTotal: 0, feeTotal: 7 + 14, couponTotal: 0 });
      assert.deepEqual(report.local, { paymentCount: 1, paymentTotal: clean.totalFee, refundCount: 0, refundTotal: 0, couponTotal: 0 });
      const row = await stored(report.billDate);
      assert.equal(row.status, 'MISMATCH');
      assert.equal(row.discrepancyCount, 1);
      assert.deepEqual(JSON.parse(row.discrepancies), report.discrepancies);
    });

    it('our rows of a paid order are gone: MISSING_LOCAL', async () => {
      const paid = await paidOrder();
      await sql('DELETE FROM payment_attempts WHERE order_id = ?', [ paid.orderId ]);
      await sql('DELETE FROM orders WHERE id = ?', [ paid.orderId ]);
      const report = await reconcile();
      assert.deepEqual(kinds(report), [[ 'MISSING_LOCAL', 'PAYMENT', paid.outTradeNo ]]);
      assert.match(report.discrepancies[0].message, /we have no payment attempt with this out_trade_no/);
    });

    it('an unpaid order marked paid here: MISSING_AT_WECHAT', async () => {
      await paidOrder();
      const fake = await newOrder();
      await sql('UPDATE orders SET status = \'SUCCESS\', paid_at = ?, transaction_id = \'4200000000209901010000000001\' WHERE out_trade_no = ?',
        [ simNow(), fake ]);
      const report = await reconcile();
      assert.equal(report.status, 'MISMATCH');
      assert.deepEqual(kinds(report), [[ 'MISSING_AT_WECHAT', 'PAYMENT', fake ]]);
      const [ d ] = report.discrepancies;
      assert.equal(d.transactionId, '4200000000209901010000000001');
      assert.equal(d.wechat, undefined);
      assert.equal(d.ours!.amount, 1200);
      assert.match(d.message, /WeChat's bill does not have it/);
      assert.deepEqual(report.local, { paymentCount: 2, paymentTotal: 2400, refundCount: 0, refundTotal: 0, couponTotal: 0 });
    });

    it('a day only we have payments on (WeChat: No Bill Exist): MISMATCH, not NO_BILL', async () => {
      const fake = await newOrder();
      const tenDaysAgo = new Date(simNow().getTime() - 10 * DAY_MS);
      await sql('UPDATE orders SET status = \'SUCCESS\', paid_at = ?, transaction_id = \'4200000000209901010000000002\' WHERE out_trade_no = ?',
        [ tenDaysAgo, fake ]);
      const report = await reconcile(beijingDate(tenDaysAgo));
      assert.equal(report.status, 'MISMATCH');
      assert.equal(report.bill, null);
      assert.deepEqual(kinds(report), [[ 'MISSING_AT_WECHAT', 'PAYMENT', fake ]]);
      assert.equal((await stored(report.billDate)).hasBill, false);
    });

    it('our order says another amount: AMOUNT_MISMATCH', async () => {
      const paid = await paidOrder();
      await sql('UPDATE orders SET total_fee = 1300 WHERE id = ?', [ paid.orderId ]);
      const report = await reconcile();
      assert.deepEqual(kinds(report), [[ 'AMOUNT_MISMATCH', 'PAYMENT', paid.outTradeNo ]]);
      const [ d ] = report.discrepancies;
      assert.equal(d.wechat!.amount, 1200);
      assert.equal(d.ours!.amount, 1300);
      assert.match(d.message, /WeChat took 12\.00 yuan, we recorded 13\.00 yuan \(order .* total_fee\)/);
    });

    it('our payment attempt says another amount: AMOUNT_MISMATCH', async () => {
      const paid = await paidOrder();
      await sql('UPDATE payment_attempts SET total_fee = 1 WHERE id = ?', [ paid.attemptId ]);
      const report = await reconcile();
      assert.deepEqual(kinds(report), [[ 'AMOUNT_MISMATCH', 'PAYMENT', paid.outTradeNo ]]);
      assert.equal(report.discrepancies[0].ours!.amount, 1);
      assert.equal(report.local.paymentTotal, 1);
    });

    it('our order is not paid although WeChat took the money: STATUS_MISMATCH', async () => {
      const paid = await paidOrder();
      await sql('UPDATE orders SET status = \'CLOSED\' WHERE id = ?', [ paid.orderId ]);
      const report = await reconcile();
      assert.deepEqual(kinds(report), [[ 'STATUS_MISMATCH', 'PAYMENT', paid.outTradeNo ]]);
      const [ d ] = report.discrepancies;
      assert.equal(d.wechat!.state, 'SUCCESS');
      assert.match(d.ours!.state, /order CLOSED/);
      assert.match(d.message, /WeChat took the payment, our order .* is CLOSED/);
    });

    it('every kind at once: each is reported, with an error log line each', async () => {
      const changed = await paidOrder();
      const closed = await paidOrder();
      mock(app.config.wechat, 'notifyUrl', await closedUrl('/payment/notify'));
      const lost = await newOrder();
      mock.restore();
      await sim.pay(lost);
      const fake = await newOrder();
      await sql('UPDATE orders SET status = \'SUCCESS\', paid_at = ?, transaction_id = \'4200000000209901010000000003\' WHERE out_trade_no = ?',
        [ simNow(), fake ]);
      await sql('UPDATE orders SET total_fee = 999 WHERE id = ?', [ changed.orderId ]);
      await sql('UPDATE orders SET status = \'NOTPAY\' WHERE id = ?', [ closed.orderId ]);

      const errors: string[] = [];
      const ctx = app.createAnonymousContext();
      mock(ctx.logger, 'error', (text: string, ...args: unknown[]) => { errors.push(format(text, ...args)); });
      const report = await withSimClockAt(beijingAt(addDays(DAY, 2), '120000'), () => ctx.service.reconciliation.reconcile(DAY));
      assert.deepEqual(kinds(report), [
        [ 'AMOUNT_MISMATCH', 'PAYMENT', changed.outTradeNo ],
        [ 'MISSING_AT_WECHAT', 'PAYMENT', fake ],
        [ 'MISSING_LOCAL', 'PAYMENT', lost ],
        [ 'STATUS_MISMATCH', 'PAYMENT', closed.outTradeNo ],
      ].sort());
      assert.equal(errors.length, 4);
      for (const d of report.discrepancies) assert.ok(errors.some(line => line.includes(`[reconcile] ${report.billDate} ${d.kind} PAYMENT`)));
    });
  });

  describe('refunds: a planted discrepancy of each kind is found', () => {
    it('refunded at WeChat, no refund here: MISSING_LOCAL', async () => {
      const paid = await paidOrder();
      const refund = await refundAtWechat(paid, 300);
      const report = await reconcile();
      assert.deepEqual(kinds(report), [[ 'MISSING_LOCAL', 'REFUND', refund.outRefundNo ]]);
      const [ d ] = report.discrepancies;
      assert.equal(d.refundId, refund.refundId);
      assert.equal(d.outTradeNo, paid.outTradeNo);
      assert.deepEqual([ d.wechat!.amount, d.wechat!.state ], [ 300, 'SUCCESS' ]);
      assert.match(d.message, /WeChat refunded 3\.00 yuan of .* we have no such refund/);
    });

    it('a refund of ours WeChat never had: MISSING_AT_WECHAT', async () => {
      const paid = await paidOrder();
      await recordRefund(paid, { outRefundNo: 'RF-never-sent', refundId: null, amount: 200, status: 'PROCESSING' });
      const report = await reconcile();
      assert.deepEqual(kinds(report), [[ 'MISSING_AT_WECHAT', 'REFUND', 'RF-never-sent' ]]);
      assert.deepEqual(report.local, { paymentCount: 1, paymentTotal: 1200, refundCount: 1, refundTotal: 200, couponTotal: 0 });
      assert.equal(report.bill!.refundCount, 0);
    });

    it('another amount here: AMOUNT_MISMATCH', async () => {
      const paid = await paidOrder();
      const refund = await refundAtWechat(paid, 300);
      await recordRefund(paid, { ...refund, amount: 200, status: 'SUCCESS' });
      const report = await reconcile();
      assert.deepEqual(kinds(report), [[ 'AMOUNT_MISMATCH', 'REFUND', refund.outRefundNo ]]);
      assert.deepEqual([ report.discrepancies[0].wechat!.amount, report.discrepancies[0].ours!.amount ], [ 300, 200 ]);
    });

    it('another status here: STATUS_MISMATCH (WeChat closed it, we still wait)', async () => {
      const paid = await paidOrder();
      const refund = await refundAtWechat(paid, 300, 'REFUNDCLOSE');
      await recordRefund(paid, { ...refund, amount: 300, status: 'PROCESSING' });
      const report = await reconcile();
      assert.deepEqual(kinds(report), [[ 'STATUS_MISMATCH', 'REFUND', refund.outRefundNo ]]);
      assert.match(report.discrepancies[0].message, /WeChat says REFUNDCLOSE, we have PROCESSING/);
    });

    it('a refund asked for on an earlier day still matches its bill line', async () => {
      const paid = await paidOrder();
      const refund = await refundAtWechat(paid, 300);
      await recordRefund(paid, { ...refund, amount: 300, status: 'SUCCESS', createdAt: new Date(simNow().getTime() - 3 * DAY_MS) });
      const report = await reconcile();
      assert.equal(report.status, 'OK', JSON.stringify(report.discrepancies));
      assert.equal(report.local.refundCount, 0);
    });
  });

  describe('days and time zones', () => {
    it('a payment belongs to its Beijing day, not its UTC day', async () => {
      const day = addDays(DAY, -3);
      const compact = day.replace(/-/g, '');
      // 00:00:30 Beijing is 16:00:30 UTC the day before; 23:59:59 Beijing is 15:59:59 UTC the same day.
      const early = await paidOrder({ at: fromBeijing(`${compact}000030`)! });
      const late = await paidOrder({ at: fromBeijing(`${compact}235959`)! });
      // The first second of the next day.
      const next = await paidOrder({ at: beijingAt(addDays(day, 1), '000000') });
      const earlyRow = await app.model.Order.findOne({ where: { outTradeNo: early.outTradeNo } });
      assert.equal(earlyRow!.paidAt!.toISOString().slice(11, 19), '16:00:30');
      assert.notEqual(earlyRow!.paidAt!.toISOString().slice(0, 10), day);
      const lateRow = await app.model.Order.findOne({ where: { outTradeNo: late.outTradeNo } });
      assert.equal(lateRow!.paidAt!.toISOString(), `${day}T15:59:59.000Z`);

      const report = await reconcile(day);
      assert.equal(report.status, 'OK', JSON.stringify(report.discrepancies));
      assert.equal(report.local.paymentCount, 2);
      assert.equal(report.bill!.paymentCount, 2);
      assert.ok(late);
      assert.deepEqual(report.local, { paymentCount: 2, paymentTotal: early.totalFee + late.totalFee, refundCount: 0, refundTotal: 0, couponTotal: 0 });

      // The next day has the payment of its first second, and not `late`, one second before it.
      const nextDay = await reconcile(addDays(day, 1));
      assert.equal(nextDay.status, 'OK', JSON.stringify(nextDay.discrepancies));
      assert.deepEqual(nextDay.discrepancies, []);
      assert.deepEqual(nextDay.local, { paymentCount: 1, paymentTotal: next.totalFee, refundCount: 0, refundTotal: 0, couponTotal: 0 });
      assert.equal(nextDay.bill!.paymentCount, 1);

      const dayBefore = beijingDate(new Date(fromBeijing(`${compact}000000`)!.getTime() - DAY_MS));
      assert.equal((await reconcile(dayBefore)).status, 'NO_BILL');
    });

    it('a day without transactions on either side: NO_BILL, stored', async () => {
      await paidOrder(); // DAY: not the day reconciled
      const day = addDays(DAY, -10);
      const report = await reconcile(day);
      assert.equal(report.status, 'NO_BILL');
      assert.equal(report.bill, null);
      assert.deepEqual(report.discrepancies, []);
      const row = await stored(day);
      assert.equal(row.status, 'NO_BILL');
      assert.equal(row.hasBill, false);
    });

    it('a bill not ready yet (today): ERROR with WeChat\'s answer, stored', async () => {
      await paidOrder();
      // Today for the simulator, whose clock is at DAY's noon.
      const today = beijingDate(simNow());
      assert.equal(today, DAY);
      const report = await app.createAnonymousContext().service.reconciliation.reconcile(today);
      assert.equal(report.status, 'ERROR');
      assert.equal(report.error, 'WeChat answered Bill Creating (20003)');
      assert.deepEqual(report.discrepancies, []);
      const row = await stored(today);
      assert.equal(row.status, 'ERROR');
      assert.equal(row.error, 'WeChat answered Bill Creating (20003)');
    });

    it('WeChat unreachable: ERROR', async () => {
      mock(app.config.wechat, 'payBaseUrl', await closedUrl());
      const report = await reconcile(addDays(DAY, -1));
      assert.equal(report.status, 'ERROR');
      assert.match(report.error!, /ECONNREFUSED/);
      assert.equal((await stored(report.billDate)).status, 'ERROR');
    });

    it('refuses a date that is not a calendar day', async () => {
      const service = app.createAnonymousContext().service.reconciliation;
      for (const bad of [ '2026-02-30', '20261123', '2026-1-5', 'yesterday', '' ]) {
        await assert.rejects(service.reconcile(bad), (err: any) => err.code === 'VALIDATION_FAILED' && err.field === 'date', bad);
      }
      assert.equal(sim.requests('downloadbill').length, 0);
    });

    it('reconciling a day again replaces its result', async () => {
      const paid = await paidOrder();
      await sql('UPDATE orders SET status = \'CLOSED\' WHERE id = ?', [ paid.orderId ]);
      const first = await reconcile();
      assert.equal(first.status, 'MISMATCH');
      const before = await stored(first.billDate);
      await sql('UPDATE orders SET status = \'SUCCESS\' WHERE id = ?', [ paid.orderId ]);
      const second = await reconcile();
      assert.equal(second.status, 'OK');
      const rows = await app.model.Reconciliation.findAll();
      assert.equal(rows.length, 1);
      assert.equal(rows[0].status, 'OK');
      assert.equal(rows[0].discrepancyCount, 0);
      assert.equal(rows[0].id, before.id);
      assert.ok(rows[0].finishedAt >= before.finishedAt);
    });
  });

  describe('the daily job', () => {
    /** The tick: at 10:30 Beijing the day after DAY, as the cron has it; WeChat's clock there too. */
    const TICK = beijingAt(addDays(DAY, 1), '103000');
    beforeEach(() => {
      // The scheduled task calls runDaily() without a time: it gets the tick's, not the real clock's.
      const runDaily = ReconciliationService.prototype.runDaily;
      mock(ReconciliationService.prototype, 'runDaily', function(this: ReconciliationService, now?: Date) {
        return runDaily.call(this, now ?? TICK);
      });
    });
    const runDaily = () => withSimClockAt(TICK, () => app.runSchedule('reconcileDaily') as Promise<any>);
    const yesterday = () => DAY;
    const daysBack = (n: number) => addDays(DAY, 1 - n);

    it('is a worker job on a Beijing-time cron from config, off in unittest', () => {
      const items = Object.values((app as any).scheduleWorker.scheduleItems as Record<string, { key: string; schedule: any }>);
      const schedule = items.find(item => item.key.includes('app/schedule/reconcileDaily.'))!.schedule;
      assert.deepEqual(schedule, { type: 'worker', cron: '0 30 10 * * *', cronOptions: { tz: 'Asia/Shanghai' }, disable: true });
    });

    it('reconciles yesterday and the days before it without a result; a second run skips them', async () => {
      const paid = await paidOrder();
      // WeChat's clock at the tick, past 10:00: yesterday's bill is ready.
      const run = await runDaily();
      assert.equal(run.ran, true);
      assert.deepEqual(run.result.reconciled, [
        { billDate: daysBack(4), status: 'NO_BILL' },
        { billDate: daysBack(3), status: 'NO_BILL' },
        { billDate: daysBack(2), status: 'NO_BILL' },
        { billDate: yesterday(), status: 'OK' },
      ]);
      assert.deepEqual(run.result.skipped, []);
      assert.equal((await stored(yesterday())).localPaymentTotal, paid.totalFee);

      const again = await runDaily();
      assert.deepEqual(again, { ran: true, result: { reconciled: [], skipped: [ daysBack(4), daysBack(3), daysBack(2), yesterday() ] } });
    });

    it('tries a day that ended in ERROR again', async () => {
      // WeChat unreachable for the first run.
      const wechat = app.config.wechat.payBaseUrl;
      mock(app.config.wechat, 'payBaseUrl', await closedUrl());
      const failed = await runDaily();
      assert.deepEqual(failed.result.reconciled.map((r: any) => r.status), [ 'ERROR', 'ERROR', 'ERROR', 'ERROR' ]);
      mock(app.config.wechat, 'payBaseUrl', wechat);
      const retried = await runDaily();
      assert.deepEqual(retried.result.reconciled.map((r: any) => [ r.billDate, r.status ]), [
        [ daysBack(4), 'NO_BILL' ], [ daysBack(3), 'NO_BILL' ], [ daysBack(2), 'NO_BILL' ], [ yesterday(), 'NO_BILL' ],
      ]);
    });

    it('skips its tick while another worker holds the job lock', async () => {
      await app.redis.set(jobLockKey('reconcileDaily'), 'someone-else', 'PX', 60_000);
      assert.deepEqual(await runDaily(), { ran: false, reason: 'LOCKED' });
      assert.equal(sim.requests('downloadbill').length, 0);
      assert.equal(await app.model.Reconciliation.count(), 0);
    });
  });

  describe('the command', () => {
    function io() {
      const out: string[] = [];
      const err: string[] = [];
      return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
    }
    async function command(argv: string[]) {
      const captured = io();
      // WeChat two days after DAY: the bills of DAY and the days before are ready.
      const code = await withSimClockAt(beijingAt(addDays(DAY, 2), '120000'), () => runReconcileCommand(app, argv, captured.io));
      return { code, stdout: captured.out.join(''), stderr: captured.err.join('') };
    }

    it('exit 0 and a readable report when everything matches', async () => {
      await paidOrder();
      const today = DAY;
      const { code, stdout, stderr } = await command([ '--date', today ]);
      assert.equal(code, 0);
      assert.equal(stderr, '');
      assert.equal(stdout, [
        `Reconciliation of ${today} (Beijing day, WeChat bill ALL): OK`,
        '              WeChat (count / yuan) ours (count / yuan)',
        '  payments    1 / 12.00             1 / 12.00',
        '  refunds     0 / 0.00              0 / 0.00',
        '  fees        0.07',
        '  every payment and refund matches.',
        '',
      ].join('\n'));
    });

    it('exit 1 on a mismatch, one ERROR line per discrepancy on stderr', async () => {
      const paid = await paidOrder();
      await sql('UPDATE orders SET total_fee = 1300 WHERE id = ?', [ paid.orderId ]);
      const today = DAY;
      const { code, stdout, stderr } = await command([ `--date=${today}` ]);
      assert.equal(code, 1);
      assert.match(stdout, /: MISMATCH\n/);
      assert.match(stdout, /1 discrepancy:\n {4}AMOUNT_MISMATCH {4}PAYMENT {2}.*WeChat took 12\.00 yuan, we recorded 13\.00 yuan/);
      assert.deepEqual(stderr.trimEnd().split('\n'), [
        `ERROR reconcile ${today} AMOUNT_MISMATCH PAYMENT: ${paid.outTradeNo}: WeChat took 12.00 yuan, we recorded 13.00 yuan (order ${paid.outTradeNo} total_fee)`,
      ]);
    });

    it('exit 0 for a day with no bill and nothing of ours', async () => {
      const { code, stdout } = await command([ '--date', addDays(DAY, -10) ]);
      assert.equal(code, 0);
      assert.match(stdout, /: NO_BILL\n {2}WeChat has no bill for this day and we have no payment or refund on it\.\n$/);
    });

    it('exit 2 when the day cannot be reconciled, or on bad usage', async () => {
      mock(app.config.wechat, 'payBaseUrl', await closedUrl());
      const failed = await command([ '--date', addDays(DAY, -1) ]);
      assert.equal(failed.code, 2);
      assert.match(failed.stdout, /: ERROR\n {2}could not reconcile: /);
      assert.match(failed.stderr, /^ERROR reconcile \d{4}-\d{2}-\d{2}: /);

      for (const argv of [[], [ '--date' ], [ '--date', '2026-13-01' ], [ '--day', '2026-01-01' ]]) {
        const usage = await command(argv);
        assert.equal(usage.code, 2, argv.join(' '));
        assert.equal(usage.stdout, '');
        assert.match(usage.stderr, /usage: npm run reconcile -- --date YYYY-MM-DD/);
      }
    });

    it('runs as `node scripts/reconcile.js` in its own process: report, ERROR lines, exit 1, result stored', async function() {
      this.timeout(120_000);
      const paid = await paidOrder();
      await sql('UPDATE orders SET status = \'CLOSED\' WHERE id = ?', [ paid.orderId ]);
      const today = DAY;
      setSimClock(beijingAt(addDays(DAY, 2), '120000'));
      const child = spawn(process.execPath, [ path.join(ROOT, 'scripts/reconcile.js'), '--date', today ], {
        cwd: ROOT,
        env: {
          ...process.env, EGG_SERVER_ENV: 'unittest', NODE_ENV: 'test', WECHAT_PAY_BASE_URL: sim.url, WECHAT_LOGIN_BASE_URL: sim.url,
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', chunk => { stdout += chunk; });
      child.stderr.on('data', chunk => { stderr += chunk; });
      const code = await new Promise<number | null>(resolve => child.on('close', resolve));
      assert.equal(code, 1, `stdout:\n${stdout}\nstderr:\n${stderr}`);
      assert.match(stdout, new RegExp(`^Reconciliation of ${today} \\(Beijing day, WeChat bill ALL\\): MISMATCH\n`));
      assert.match(stdout, /\n {4}STATUS_MISMATCH +PAYMENT +.*our order .* is CLOSED\n/);
      assert.match(stderr, new RegExp(`^ERROR reconcile ${today} STATUS_MISMATCH PAYMENT: ${paid.outTradeNo}: WeChat took the payment`));
      const row = await stored(today);
      assert.equal(row.status, 'MISMATCH');
      assert.deepEqual(JSON.parse(row.discrepancies).map((d: Discrepancy) => d.kind), [ 'STATUS_MISMATCH' ]);
    });
  });
});
