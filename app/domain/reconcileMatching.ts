import { Bill, BillRow, fenToYuan } from '../../lib/wechatpay';
import { isPaidStatus } from '../domain/orderStatus';

/**
 * The comparison of one day of WeChat's bill with our own records, as a pure function: the
 * service gathers the records (app/service/reconciliation.ts), this decides what differs.
 */

export type DiscrepancyKind = 'MISSING_LOCAL' | 'MISSING_AT_WECHAT' | 'AMOUNT_MISMATCH' | 'STATUS_MISMATCH';

export interface Discrepancy {
  kind: DiscrepancyKind;
  subject: 'PAYMENT' | 'REFUND';
  /** The number WeChat knows the payment by (a payment attempt's). */
  outTradeNo: string;
  transactionId: string | null;
  outRefundNo?: string;
  refundId?: string | null;
  /** What the bill says; absent when the bill does not have it. */
  wechat?: { amount: number; state: string; time: string; line: number };
  /** What we have; absent when we have nothing. */
  ours?: { amount: number; state: string; time: string | null };
  /** One readable sentence: what differs, and where to look. */
  message: string;
}

/** A payment we recorded: a paid attempt, or an order that says it is paid. */
export interface LocalPayment {
  /** The out_trade_no sent to WeChat (the attempt's). */
  outTradeNo: string;
  transactionId: string | null;
  /** The attempt's total_fee, what WeChat was asked to collect (the order's when there is no attempt). */
  amount: number;
  orderOutTradeNo: string;
  orderAmount: number;
  orderStatus: string;
  /** null when the order says paid but no paid attempt backs it. */
  attemptStatus: string | null;
  /** true: this payment paid the order; false: extra money (double payment, paid after close). */
  paysOrder: boolean;
  refundRequired: boolean;
  paidAt: Date | null;
  /** Counted as one of the day's payments (its payment time falls in the Beijing day). */
  inDay: boolean;
  /** Fen paid by coupons, as WeChat reported it (0: none, or not reported). */
  couponFee: number;
  /** What WeChat settles: the amount less NO_CASH coupons; null when not reported. */
  settlementTotalFee: number | null;
}

/** What we know of an attempt WeChat's bill names, when no payment of ours matches the line. */
export interface LocalAttempt {
  status: string;
  transactionId: string | null;
  orderStatus: string;
}

export interface LocalRefund {
  outRefundNo: string;
  refundId: string | null;
  outTradeNo: string;
  transactionId: string | null;
  amount: number;
  status: string;
  createdAt: Date;
  /** Counted as one of the day's refunds (asked for that Beijing day, and not refused by WeChat). */
  inDay: boolean;
}

export interface LocalRecords {
  payments: LocalPayment[];
  refunds: LocalRefund[];
  attemptsByOutTradeNo: Map<string, LocalAttempt>;
}

export interface Totals {
  paymentCount: number;
  /** fen */
  paymentTotal: number;
  refundCount: number;
  /** fen asked for (refund_fee; the bill's 申请退款金额 where it has it), coupons' shares included. */
  refundTotal: number;
  /** fen paid by coupons in the day's payments (the bill's 代金券或立减优惠金额 column; ours: as WeChat reported each payment). */
  couponTotal: number;
}

export interface Comparison {
  discrepancies: Discrepancy[];
  /** null: WeChat has no bill for the day. */
  bill: (Totals & { feeTotal: number }) | null;
  local: Totals;
}

/** A bill line is a refund when its trade state says so; anything else is a payment line. */
export const isRefundRow = (row: BillRow) => row.tradeState === 'REFUND';

/** The bill's lines split once into payment lines and refund lines (by isRefundRow), in bill order. */
export function splitBillRows(rows: BillRow[]): { payments: BillRow[]; refunds: BillRow[] } {
  const payments: BillRow[] = [];
  const refunds: BillRow[] = [];
  for (const row of rows) (isRefundRow(row) ? refunds : payments).push(row);
  return { payments, refunds };
}

export function compareWithBill(bill: Bill | null, local: LocalRecords): Comparison {
  const rows = bill?.rows ?? [];
  const { payments, refunds } = splitBillRows(rows);
  const discrepancies = [
    ...comparePayments(payments, local),
    ...compareRefunds(refunds, local.refunds),
  ];
  const dayPayments = local.payments.filter(p => p.inDay);
  const dayRefunds = local.refunds.filter(r => r.inDay);
  return {
    discrepancies,
    bill: bill && {
      paymentCount: payments.length,
      paymentTotal: sum(payments.map(orderAmountOf)),
      refundCount: refunds.length,
      refundTotal: sum(refunds.map(refundAmountOf)),
      feeTotal: sum(rows.map(row => row.fee)),
      couponTotal: sum(payments.map(row => row.couponFee)),
    },
    local: {
      paymentCount: dayPayments.length,
      paymentTotal: sum(dayPayments.map(p => p.amount)),
      refundCount: dayRefunds.length,
      refundTotal: sum(dayRefunds.map(r => r.amount)),
      couponTotal: sum(dayPayments.map(p => p.couponFee)),
    },
  };
}

/**
 * The order's amount (total_fee) of a payment line: 订单金额 where the bill has it; a legacy bill
 * has only 总金额, which is the settled amount (less NO_CASH coupons).
 */
function orderAmountOf(row: BillRow): number {
  return row.orderFee ?? row.totalFee;
}

/**
 * The refund_fee asked for of a refund line: 申请退款金额 where the bill has it; there 退款金额 is what
 * the settlement gives back, less the share of NO_CASH coupons. A legacy bill, from before those
 * coupons, has only 退款金额.
 */
function refundAmountOf(row: BillRow): number {
  return row.appliedRefundFee ?? row.refundFee;
}

function comparePayments(rows: BillRow[], local: LocalRecords): Discrepancy[] {
  const out: Discrepancy[] = [];
  const byTransactionId = new Map<string, LocalPayment>();
  for (const p of local.payments) if (p.transactionId) byTransactionId.set(p.transactionId, p);
  const matched = new Set<LocalPayment>();

  for (const row of rows) {
    const wechat = { amount: orderAmountOf(row), state: row.tradeState, time: row.tradeTime.toISOString(), line: row.line };
    const base = { subject: 'PAYMENT' as const, outTradeNo: row.outTradeNo, transactionId: row.transactionId, wechat };
    // WeChat's transaction_id is the payment's identity; our records are looked up whatever their day.
    const ours = byTransactionId.get(row.transactionId);
    if (!ours) {
      const attempt = local.attemptsByOutTradeNo.get(row.outTradeNo);
      const why = !attempt
        ? 'we have no payment attempt with this out_trade_no'
        : attempt.transactionId && attempt.transactionId !== row.transactionId
          ? `our attempt has another transaction_id (${attempt.transactionId})`
          : `our attempt is ${attempt.status} and its order ${attempt.orderStatus}: the payment was never applied here`;
      out.push({ ...base, kind: 'MISSING_LOCAL', message: `WeChat took ${fenToYuan(orderAmountOf(row))} yuan for ${row.outTradeNo} (line ${row.line}); ${why}` });
      continue;
    }
    matched.add(ours);
    const oursView = { amount: ours.amount, state: stateOf(ours), time: ours.paidAt ? ours.paidAt.toISOString() : null };

    // Matched on the order's amount (total_fee), as WeChat documents; a legacy bill's 总金额 is the
    // settled amount, compared with the settled amount WeChat reported to us, if any.
    const billAmount = orderAmountOf(row);
    const oursAmount = row.orderFee === undefined ? ours.settlementTotalFee ?? ours.amount : ours.amount;
    const amountOff = oursAmount !== billAmount ? oursAmount
      : ours.paysOrder && ours.orderAmount !== ours.amount ? ours.orderAmount : undefined;
    if (amountOff !== undefined) {
      out.push({
        ...base, kind: 'AMOUNT_MISMATCH', ours: { ...oursView, amount: amountOff },
        message: `${row.outTradeNo}: WeChat took ${fenToYuan(billAmount)} yuan, we recorded ${fenToYuan(amountOff)} yuan` +
          (amountOff === oursAmount ? '' : ` (order ${ours.orderOutTradeNo} total_fee)`),
      });
    } else if (ours.couponFee !== row.couponFee) {
      out.push({
        ...base, kind: 'AMOUNT_MISMATCH', ours: oursView,
        message: `${row.outTradeNo}: WeChat's bill has ${fenToYuan(row.couponFee)} yuan of coupons, the payment we recorded ${fenToYuan(ours.couponFee)} yuan`,
      });
    }
    const statusProblem = paymentStatusProblem(row, ours);
    if (statusProblem) out.push({ ...base, kind: 'STATUS_MISMATCH', ours: oursView, message: `${row.outTradeNo}: ${statusProblem}` });
  }

  for (const p of local.payments) {
    if (!p.inDay || matched.has(p)) continue;
    out.push({
      kind: 'MISSING_AT_WECHAT', subject: 'PAYMENT', outTradeNo: p.outTradeNo, transactionId: p.transactionId,
      ours: { amount: p.amount, state: stateOf(p), time: p.paidAt ? p.paidAt.toISOString() : null },
      message: `we recorded ${p.outTradeNo} paid (${fenToYuan(p.amount)} yuan, transaction_id ${p.transactionId ?? 'none'}); WeChat's bill does not have it`,
    });
  }
  return out;
}

/** Why our record of a payment WeChat lists as taken disagrees with it, or undefined. */
function paymentStatusProblem(row: BillRow, ours: LocalPayment): string | undefined {
  if (row.tradeState !== 'SUCCESS') return `WeChat's state is ${row.tradeState}, we recorded it paid (${stateOf(ours)})`;
  if (ours.attemptStatus !== null && ours.attemptStatus !== 'PAID') return `WeChat took the payment, our attempt is ${ours.attemptStatus}`;
  if (ours.paysOrder && !isPaidStatus(ours.orderStatus)) {
    return `WeChat took the payment, our order ${ours.orderOutTradeNo} is ${ours.orderStatus}`;
  }
  if (!ours.paysOrder && !ours.refundRequired) {
    return `WeChat took a second payment for order ${ours.orderOutTradeNo}, which is not flagged for refund`;
  }
  return undefined;
}

function stateOf(p: LocalPayment): string {
  return `order ${p.orderStatus}${p.attemptStatus ? `, attempt ${p.attemptStatus}` : ''}${p.refundRequired ? ', refund required' : ''}`;
}

function compareRefunds(rows: BillRow[], refunds: LocalRefund[]): Discrepancy[] {
  const out: Discrepancy[] = [];
  const byOutRefundNo = new Map(refunds.map(r => [ r.outRefundNo, r ]));
  const matched = new Set<LocalRefund>();

  for (const row of rows) {
    const amount = refundAmountOf(row);
    const wechat = { amount, state: row.refundStatus, time: row.tradeTime.toISOString(), line: row.line };
    const base = {
      subject: 'REFUND' as const, outTradeNo: row.outTradeNo, transactionId: row.transactionId,
      outRefundNo: row.outRefundNo, refundId: row.refundId, wechat,
    };
    const ours = byOutRefundNo.get(row.outRefundNo);
    if (!ours) {
      out.push({
        ...base, kind: 'MISSING_LOCAL',
        message: `WeChat refunded ${fenToYuan(amount)} yuan of ${row.outTradeNo} as ${row.outRefundNo} (line ${row.line}); we have no such refund`,
      });
      continue;
    }
    matched.add(ours);
    const oursView = { amount: ours.amount, state: ours.status, time: ours.createdAt.toISOString() };
    if (ours.amount !== amount) {
      out.push({
        ...base, kind: 'AMOUNT_MISMATCH', ours: oursView,
        message: `refund ${row.outRefundNo}: WeChat refunded ${fenToYuan(amount)} yuan, we recorded ${fenToYuan(ours.amount)} yuan`,
      });
    }
    if (ours.status !== row.refundStatus) {
      out.push({
        ...base, kind: 'STATUS_MISMATCH', ours: oursView,
        message: `refund ${row.outRefundNo}: WeChat says ${row.refundStatus}, we have ${ours.status}`,
      });
    }
  }

  for (const r of refunds) {
    if (!r.inDay || matched.has(r)) continue;
    out.push({
      kind: 'MISSING_AT_WECHAT', subject: 'REFUND', outTradeNo: r.outTradeNo, transactionId: r.transactionId,
      outRefundNo: r.outRefundNo, refundId: r.refundId,
      ours: { amount: r.amount, state: r.status, time: r.createdAt.toISOString() },
      message: `we recorded refund ${r.outRefundNo} of ${r.outTradeNo} (${fenToYuan(r.amount)} yuan, ${r.status}); WeChat's bill does not have it`,
    });
  }
  return out;
}

function sum(values: number[]): number {
  return values.reduce((total, v) => total + v, 0);
}
