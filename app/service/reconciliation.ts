import { Service } from 'egg';
import { Op } from 'sequelize';
import { Bill, beijingDay, fromBeijing, parseBill, WechatApiError, WechatError } from '../../lib/wechatpay';
import { compareWithBill, Comparison, Discrepancy, LocalAttempt, LocalPayment, LocalRecords, LocalRefund, splitBillRows, Totals } from '../domain/reconcileMatching';
import { ValidationError } from '../common/errors';
import { ReconciliationStatus } from '../model/reconciliation';
import { JobRun } from './jobLock';

/** The result of reconciling one day, as stored in `reconciliations` and printed by the command. */
export interface ReconciliationReport {
  /** YYYY-MM-DD, a Beijing calendar day. */
  billDate: string;
  status: ReconciliationStatus;
  /** WeChat's side; null when there is no bill (NO_BILL, ERROR, or a day only we have records of). */
  bill: Comparison['bill'];
  local: Totals;
  discrepancies: Discrepancy[];
  /** Why the day could not be reconciled (ERROR only). */
  error: string | null;
  startedAt: Date;
  finishedAt: Date;
}

export interface DailyReconcileResult {
  reconciled: Array<{ billDate: string; status: ReconciliationStatus }>;
  /** Days already reconciled (OK, MISMATCH, NO_BILL): left as they are. */
  skipped: string[];
}

const DAY_MS = 24 * 3600 * 1000;
/** IN lists are sent in slices of this many values. */
const IN_CHUNK = 500;

/**
 * Daily reconciliation: WeChat's ALL bill of one Beijing day against our payments (paid attempts
 * and orders) and refunds. WeChat's day is the Beijing day, [00:00, 24:00) UTC+8; our times are
 * UTC, so the day is read as the UTC window [D-1 16:00, D 16:00). A bill line is matched with our
 * records whatever day we filed them under (by transaction_id, out_refund_no); what we filed under
 * the day and the bill lacks is missing at WeChat.
 */
export default class ReconciliationService extends Service {
  /** Reconciles one day and stores the result (replacing an earlier one); never throws for WeChat or bill trouble: that is an ERROR result. */
  async reconcile(billDate: string): Promise<ReconciliationReport> {
    const day = parseBillDate(billDate);
    const startedAt = new Date();
    let report: ReconciliationReport;
    try {
      const bill = await this.downloadBill(day.compact);
      const local = await this.loadLocalRecords(day.start, day.end, bill);
      const comparison = compareWithBill(bill, local);
      const status: ReconciliationStatus = comparison.discrepancies.length > 0 ? 'MISMATCH' : bill ? 'OK' : 'NO_BILL';
      report = { billDate, status, ...comparison, error: null, startedAt, finishedAt: new Date() };
    } catch (err) {
      if (!(err instanceof WechatError)) this.ctx.logger.error(err as Error);
      report = {
        billDate, status: 'ERROR', bill: null, local: { paymentCount: 0, paymentTotal: 0, refundCount: 0, refundTotal: 0, couponTotal: 0 },
        discrepancies: [], error: describeError(err), startedAt, finishedAt: new Date(),
      };
    }
    await this.store(report);
    this.log(report);
    return report;
  }

  /**
   * The scheduled run: yesterday (Beijing), plus the catchUpDays before it that have no result
   * yet or ended in ERROR (bill not ready, WeChat down), once per tick cluster-wide. A day
   * already reconciled is left alone, so several hosts ticking one after another do it once.
   */
  runDaily(now = new Date()): Promise<JobRun<DailyReconcileResult>> {
    return this.service.jobLock.runExclusive('reconcileDaily', async deadline => {
      const catchUp = Math.max(0, this.config.reconciliation.catchUpDays);
      const yesterday = dashed(beijingDay(new Date(now.getTime() - DAY_MS)));
      const days = Array.from({ length: catchUp + 1 }, (_, i) => addDays(yesterday, i - catchUp));
      const stored = await this.app.model.Reconciliation.findAll({ where: { billDate: days }, attributes: [ 'billDate', 'status' ] });
      const done = new Set(stored.filter(r => r.status !== 'ERROR').map(r => r.billDate));
      const result: DailyReconcileResult = { reconciled: [], skipped: [] };
      for (const billDate of days) {
        if (done.has(billDate)) {
          result.skipped.push(billDate);
          continue;
        }
        // Stay inside the job lock; a day left over is caught up on the next run.
        if (Date.now() >= deadline) break;
        const report = await this.reconcile(billDate);
        result.reconciled.push({ billDate, status: report.status });
      }
      return result;
    });
  }

  /** The stored result of a day, or null. */
  async find(billDate: string): Promise<ReconciliationReport | null> {
    parseBillDate(billDate);
    const row = await this.app.model.Reconciliation.findOne({ where: { billDate } });
    if (!row) return null;
    return {
      billDate: row.billDate,
      status: row.status,
      bill: row.hasBill ? {
        paymentCount: Number(row.billPaymentCount), paymentTotal: Number(row.billPaymentTotal),
        refundCount: Number(row.billRefundCount), refundTotal: Number(row.billRefundTotal), feeTotal: Number(row.billFeeTotal),
        couponTotal: Number(row.billCouponTotal),
      } : null,
      local: {
        paymentCount: Number(row.localPaymentCount), paymentTotal: Number(row.localPaymentTotal),
        refundCount: Number(row.localRefundCount), refundTotal: Number(row.localRefundTotal), couponTotal: Number(row.localCouponTotal),
      },
      discrepancies: JSON.parse(row.discrepancies),
      error: row.error,
      startedAt: row.startedAt,
      finishedAt: row.finishedAt,
    };
  }

  /** The day's ALL bill, or null when WeChat has none ("No Bill Exist": no transaction that day). */
  private async downloadBill(compactDate: string): Promise<Bill | null> {
    let text: string;
    try {
      text = await this.app.wechatPay.downloadBill(compactDate, 'ALL');
    } catch (err) {
      if (err instanceof WechatApiError && (err.errCodeDes === 'No Bill Exist' || err.errCode === '20002')) return null;
      throw err;
    }
    return parseBill(text);
  }

  /** Our payments and refunds of the day, and those the bill names whatever their day. */
  private async loadLocalRecords(start: Date, end: Date, bill: Bill | null): Promise<LocalRecords> {
    const { Order, PaymentAttempt } = this.app.model;
    const { payments: paymentRows, refunds: refundRows } = splitBillRows(bill?.rows ?? []);
    const transactionIds = unique(paymentRows.map(row => row.transactionId));
    const outTradeNos = unique(paymentRows.map(row => row.outTradeNo));
    const outRefundNos = unique(refundRows.map(row => row.outRefundNo));
    const inDay = (at: Date | null | undefined) => !!at && at >= start && at < end;

    type OrderRow = InstanceType<typeof Order>;
    type AttemptRow = InstanceType<typeof PaymentAttempt>;
    const orders = new Map<number, OrderRow>();
    const attempts = new Map<number, AttemptRow>();
    const addOrders = (list: OrderRow[]) => list.forEach(o => orders.set(o.id, o));
    const addAttempts = (list: AttemptRow[]) => list.forEach(a => attempts.set(a.id, a));

    addOrders(await Order.findAll({ where: { paidAt: { [Op.gte]: start, [Op.lt]: end } } }));
    for (const ids of chunks(transactionIds)) addOrders(await Order.findAll({ where: { transactionId: ids } }));
    // An extra payment (double payment, paid after close) has no paid_at of its own: the attempt
    // became PAID when we learned of it.
    addAttempts(await PaymentAttempt.findAll({ where: { status: 'PAID', updatedAt: { [Op.gte]: start, [Op.lt]: end } } }));
    for (const ids of chunks(transactionIds)) addAttempts(await PaymentAttempt.findAll({ where: { transactionId: ids } }));
    for (const nos of chunks(outTradeNos)) addAttempts(await PaymentAttempt.findAll({ where: { outTradeNo: nos } }));
    const paidAttemptIds = unique([ ...orders.values() ].map(o => o.paidAttemptId).filter((id): id is number => !!id && !attempts.has(id)));
    for (const ids of chunks(paidAttemptIds)) addAttempts(await PaymentAttempt.findAll({ where: { id: ids } }));
    const orderIds = unique([ ...attempts.values() ].map(a => a.orderId).filter(id => !orders.has(id)));
    for (const ids of chunks(orderIds)) addOrders(await Order.findAll({ where: { id: ids } }));

    const payments: LocalPayment[] = [];
    const recorded = new Set<string>();
    for (const a of attempts.values()) {
      const order = orders.get(a.orderId);
      if (a.status !== 'PAID' || !a.transactionId || !order) continue;
      const paysOrder = order.paidAttemptId === a.id || order.transactionId === a.transactionId;
      const paidAt = paysOrder ? order.paidAt : a.updatedAt;
      recorded.add(a.transactionId);
      payments.push({
        outTradeNo: a.outTradeNo, transactionId: a.transactionId, amount: a.totalFee,
        orderOutTradeNo: order.outTradeNo, orderAmount: order.totalFee, orderStatus: order.status, attemptStatus: a.status,
        paysOrder, refundRequired: order.refundRequired, paidAt, inDay: inDay(paidAt),
        couponFee: a.couponFee ?? 0, settlementTotalFee: a.settlementTotalFee ?? null,
      });
    }
    // An order that says it is paid without a paid attempt behind it still counts as our payment.
    for (const order of orders.values()) {
      if (!order.paidAt && !order.transactionId) continue;
      if (order.transactionId && recorded.has(order.transactionId)) continue;
      const attempt = order.paidAttemptId ? attempts.get(order.paidAttemptId) : undefined;
      payments.push({
        outTradeNo: attempt?.outTradeNo ?? order.outTradeNo, transactionId: order.transactionId, amount: order.totalFee,
        orderOutTradeNo: order.outTradeNo, orderAmount: order.totalFee, orderStatus: order.status, attemptStatus: attempt?.status ?? null,
        paysOrder: true, refundRequired: order.refundRequired, paidAt: order.paidAt, inDay: inDay(order.paidAt),
        couponFee: attempt?.couponFee ?? 0, settlementTotalFee: attempt?.settlementTotalFee ?? null,
      });
    }

    const attemptsByOutTradeNo = new Map<string, LocalAttempt>();
    for (const a of attempts.values()) {
      attemptsByOutTradeNo.set(a.outTradeNo, { status: a.status, transactionId: a.transactionId, orderStatus: orders.get(a.orderId)?.status ?? 'missing' });
    }

    return { payments, refunds: await this.loadRefunds(start, end, outRefundNos), attemptsByOutTradeNo };
  }

  /**
   * Refunds asked for during the day (a refund WeChat refused for good, FAILED, never reached
   * its books), and those the bill names whatever their day.
   */
  private async loadRefunds(start: Date, end: Date, outRefundNos: string[]): Promise<LocalRefund[]> {
    const { Refund } = this.app.model;
    const attributes: Array<keyof LocalRefund & keyof InstanceType<typeof Refund>> =
      [ 'outRefundNo', 'refundId', 'outTradeNo', 'transactionId', 'amount', 'status', 'createdAt' ];
    const found = new Map<string, LocalRefund>();
    const add = (list: Array<InstanceType<typeof Refund>>, day: boolean) => list.forEach(r => {
      found.set(r.outRefundNo, {
        outRefundNo: r.outRefundNo, refundId: r.refundId, outTradeNo: r.outTradeNo, transactionId: r.transactionId,
        amount: r.amount, status: r.status, createdAt: r.createdAt, inDay: day,
      });
    });
    add(await Refund.findAll({ attributes, where: { createdAt: { [Op.gte]: start, [Op.lt]: end }, status: { [Op.ne]: 'FAILED' } } }), true);
    // Numbers already found are the day's: the bill only adds refunds filed under another day.
    for (const nos of chunks(outRefundNos.filter(no => !found.has(no)))) {
      add(await Refund.findAll({ attributes, where: { outRefundNo: nos } }), false);
    }
    return [ ...found.values() ];
  }

  /** One row per day: a new run replaces the previous result. */
  private async store(report: ReconciliationReport): Promise<void> {
    const bill = report.bill ?? { paymentCount: 0, paymentTotal: 0, refundCount: 0, refundTotal: 0, feeTotal: 0, couponTotal: 0 };
    await this.app.model.Reconciliation.upsert({
      billDate: report.billDate,
      status: report.status,
      hasBill: report.bill !== null,
      billPaymentCount: bill.paymentCount,
      billPaymentTotal: bill.paymentTotal,
      billRefundCount: bill.refundCount,
      billRefundTotal: bill.refundTotal,
      billFeeTotal: bill.feeTotal,
      billCouponTotal: bill.couponTotal,
      localCouponTotal: report.local.couponTotal,
      localPaymentCount: report.local.paymentCount,
      localPaymentTotal: report.local.paymentTotal,
      localRefundCount: report.local.refundCount,
      localRefundTotal: report.local.refundTotal,
      discrepancyCount: report.discrepancies.length,
      discrepancies: JSON.stringify(report.discrepancies),
      error: report.error && report.error.slice(0, 512),
      startedAt: report.startedAt,
      finishedAt: report.finishedAt,
    });
  }

  /** An error line per discrepancy (what operators alert on), one summary line per run. */
  private log(report: ReconciliationReport): void {
    const logger = this.ctx.logger;
    for (const d of report.discrepancies) {
      logger.error('[reconcile] %s %s %s %s: %s', report.billDate, d.kind, d.subject, d.outRefundNo ?? d.outTradeNo, d.message);
    }
    if (report.status === 'ERROR') {
      logger.error('[reconcile] %s could not be reconciled: %s', report.billDate, report.error);
    } else {
      logger.info('[reconcile] %s %s: bill %d payments, %d refunds; ours %d payments, %d refunds; %d discrepancies',
        report.billDate, report.status, report.bill?.paymentCount ?? 0, report.bill?.refundCount ?? 0,
        report.local.paymentCount, report.local.refundCount, report.discrepancies.length);
    }
  }
}

/** YYYY-MM-DD of a real calendar day, with its UTC window and WeChat's yyyyMMdd. */
export function parseBillDate(billDate: string): { compact: string; start: Date; end: Date } {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(billDate));
  const start = m ? fromBeijing(`${m[1]}${m[2]}${m[3]}000000`) : undefined;
  if (!m || !start) throw new ValidationError('date', 'date must be a calendar day as YYYY-MM-DD');
  return { compact: `${m[1]}${m[2]}${m[3]}`, start, end: new Date(start.getTime() + DAY_MS) };
}

function describeError(err: unknown): string {
  if (err instanceof WechatApiError) return `WeChat answered ${err.errCodeDes} (${err.errCode})`;
  if (err instanceof WechatError) return err.message;
  return `internal error: ${(err as Error)?.message ?? String(err)}`;
}

function dashed(compact: string): string {
  return `${compact.slice(0, 4)}-${compact.slice(4, 6)}-${compact.slice(6, 8)}`;
}

function addDays(billDate: string, days: number): string {
  const [ y, m, d ] = billDate.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

function unique<T>(values: T[]): T[] {
  return [ ...new Set(values) ];
}

function chunks<T>(values: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += IN_CHUNK) out.push(values.slice(i, i + IN_CHUNK));
  return out;
}
