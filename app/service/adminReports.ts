import { Service } from 'egg';
import { NotFoundError, ValidationError } from '../common/errors';
import { addDays, beijingDate, beijingDayWindow, lastBeijingDays, share } from '../domain/beijingDays';
import { AdminRepository } from '../repository/adminRepository';
import { ReconciliationReport } from './reconciliation';

/** One Beijing day of the dashboard. */
export interface DayFigures {
  /** YYYY-MM-DD, Beijing. */
  day: string;
  /** Fen taken: orders turned paid that day. */
  amountTaken: number;
  payments: number;
  /** Fen given back: refunds that succeeded that day. */
  refundAmount: number;
  refunds: number;
  ordersCreated: number;
  /** Of the orders created that day, how many are paid (SUCCESS or REFUND) now. */
  ordersPaid: number;
  /** ordersPaid / ordersCreated, null without orders. */
  paidShare: number | null;
  /** Mean seconds from an order's creation to its payment, over the day's payments; null without any. */
  avgSecondsToPaid: number | null;
  /** The median of the same; null without any. */
  medianSecondsToPaid: number | null;
  /** Payment notifications answered FAIL (refused on their face, or not recorded). */
  notificationsRefused: number;
}

export interface Dashboard {
  today: DayFigures;
  /** Oldest first, today last. */
  days: DayFigures[];
}

export interface ReconciliationSummary {
  billDate: string;
  status: string;
  discrepancyCount: number;
  bill: ReconciliationReport['bill'];
  local: ReconciliationReport['local'];
  error: string | null;
  finishedAt: string;
}

/** A discrepancy with the order it concerns, for the console's link. */
export type LinkedDiscrepancy = ReconciliationReport['discrepancies'][number] & { orderOutTradeNo: string | null };

/** The back office's figures: the dashboard by Beijing day, and the reconciliation reports. */
export default class AdminReportsService extends Service {
  async dashboard(days: number, now = new Date()): Promise<Dashboard> {
    const dayList = lastBeijingDays(now, days);
    const start = beijingDayWindow(dayList[0]).start;
    const end = beijingDayWindow(dayList[dayList.length - 1]).end;
    const rows = await new AdminRepository(this.app.model).dayFigures(start, end);
    const byDay = <T extends { day: string }>(list: T[]) => new Map(list.map(r => [ r.day, r ]));
    const payments = byDay(rows.payments);
    const refunds = byDay(rows.refunds);
    const orders = byDay(rows.orders);
    const refused = byDay(rows.notificationsRefused);
    const figures = dayList.map(day => {
      const p = payments.get(day);
      const o = orders.get(day);
      return {
        day,
        amountTaken: p?.amount ?? 0,
        payments: p?.count ?? 0,
        refundAmount: refunds.get(day)?.amount ?? 0,
        refunds: refunds.get(day)?.count ?? 0,
        ordersCreated: o?.created ?? 0,
        ordersPaid: o?.paid ?? 0,
        paidShare: share(o?.paid ?? 0, o?.created ?? 0),
        avgSecondsToPaid: tenths(p?.avgSecondsToPaid),
        medianSecondsToPaid: tenths(p?.medianSecondsToPaid),
        notificationsRefused: refused.get(day)?.count ?? 0,
      };
    });
    return { today: figures[figures.length - 1], days: figures };
  }

  /** The stored reports of the Beijing days [from, to], newest first. */
  async reconciliations(from: string, to: string): Promise<ReconciliationSummary[]> {
    const { Op } = this.app.Sequelize;
    const rows = await this.app.model.Reconciliation.findAll({
      where: { billDate: { [Op.between]: [ from, to ] } },
      order: [[ 'billDate', 'DESC' ]],
      attributes: { exclude: [ 'discrepancies' ] },
    });
    return rows.map(row => ({
      billDate: row.billDate, status: row.status, discrepancyCount: Number(row.discrepancyCount),
      bill: row.hasBill ? {
        paymentCount: Number(row.billPaymentCount), paymentTotal: Number(row.billPaymentTotal),
        refundCount: Number(row.billRefundCount), refundTotal: Number(row.billRefundTotal), couponTotal: Number(row.billCouponTotal), feeTotal: Number(row.billFeeTotal),
      } : null,
      local: {
        paymentCount: Number(row.localPaymentCount), paymentTotal: Number(row.localPaymentTotal),
        refundCount: Number(row.localRefundCount), refundTotal: Number(row.localRefundTotal), couponTotal: Number(row.localCouponTotal),
      },
      error: row.error, finishedAt: row.finishedAt.toISOString(),
    }));
  }

  async reconciliation(billDate: string): Promise<ReconciliationSummary & { discrepancies: LinkedDiscrepancy[] }> {
    const report = await this.service.reconciliation.find(billDate);
    if (!report) throw new NotFoundError('RECONCILIATION_NOT_FOUND', `${billDate} has not been reconciled`);
    return { ...summary(report), discrepancies: await this.linked(report) };
  }

  /** Reconciles the day again (replacing its stored result) and answers the new report. */
  async rerun(billDate: string, now = new Date()): Promise<ReconciliationSummary & { discrepancies: LinkedDiscrepancy[] }> {
    // WeChat's bill of a day exists from the next morning: today and later cannot be reconciled.
    if (billDate >= beijingDate(now)) throw new ValidationError('billDate', `only days before today (${beijingDate(now)}, Beijing) can be reconciled`);
    if (billDate < addDays(beijingDate(now), -365)) throw new ValidationError('billDate', 'WeChat keeps bills for a year: the day is too old');
    const report = await this.service.reconciliation.reconcile(billDate);
    return { ...summary(report), discrepancies: await this.linked(report) };
  }

  /** Each discrepancy's order: the order of the payment attempt WeChat knows it by. */
  private async linked(report: ReconciliationReport): Promise<LinkedDiscrepancy[]> {
    const numbers = [ ...new Set(report.discrepancies.map(d => d.outTradeNo).filter(Boolean)) ];
    const attempts = numbers.length ? await this.app.model.PaymentAttempt.findAll({ where: { outTradeNo: numbers }, attributes: [ 'outTradeNo', 'orderId' ] }) : [];
    const orders = attempts.length ? await this.app.model.Order.findAll({ where: { id: attempts.map(a => a.orderId) }, attributes: [ 'id', 'outTradeNo' ] }) : [];
    const orderNo = new Map(attempts.map(a => [ a.outTradeNo, orders.find(o => o.id === a.orderId)?.outTradeNo ?? null ]));
    return report.discrepancies.map(d => ({ ...d, orderOutTradeNo: orderNo.get(d.outTradeNo) ?? null }));
  }
}

function summary(report: ReconciliationReport): ReconciliationSummary {
  return {
    billDate: report.billDate, status: report.status, discrepancyCount: report.discrepancies.length, bill: report.bill,
    local: report.local, error: report.error, finishedAt: new Date(report.finishedAt).toISOString(),
  };
}

/** Seconds to a tenth; null stays null. */
function tenths(seconds: number | null | undefined): number | null {
  return seconds === null || seconds === undefined ? null : Math.round(seconds * 10) / 10;
}
