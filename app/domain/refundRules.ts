/** Refund rules and arithmetic: pure, no Egg or database import. */

/**
 * PROCESSING: reserved here and sent (or being sent) to WeChat; SUCCESS, CHANGE (WeChat could not
 * pay it out: manual handling), REFUNDCLOSE: WeChat's final results; FAILED: WeChat refused the
 * request for good, nothing was refunded. Only FAILED and REFUNDCLOSE give the amount back.
 */
export type RefundStatus = 'PROCESSING' | 'SUCCESS' | 'CHANGE' | 'REFUNDCLOSE' | 'FAILED';

/** WeChat's final results, as a notification or a refund query reports them. */
export type RefundResult = 'SUCCESS' | 'CHANGE' | 'REFUNDCLOSE';
export const REFUND_RESULTS: readonly RefundResult[] = [ 'SUCCESS', 'CHANGE', 'REFUNDCLOSE' ];

export const REFUND_RESERVING_STATUSES: RefundStatus[] = [ 'PROCESSING', 'SUCCESS', 'CHANGE' ];

/** Fen a payment's refunds hold: refunded, or in progress, or stuck in CHANGE. Pass one payment's refunds. */
export function reservedFee(refunds: ReadonlyArray<{ status: RefundStatus; amount: number }>): number {
  return refunds.filter(r => REFUND_RESERVING_STATUSES.includes(r.status)).reduce((sum, r) => sum + r.amount, 0);
}


/** What WeChat told us about a finished refund, from a refund notification or a refund query. */
export interface RefundFacts {
  outRefundNo: string;
  /** The out_trade_no WeChat has the refund under (the refunded payment attempt's). */
  outTradeNo: string;
  transactionId?: string;
  refundId: string;
  refundFee: number;
  totalFee?: number;
  status: RefundResult;
  /** yyyy-MM-dd HH:mm:ss, Beijing time (SUCCESS only). */
  successTime?: string;
}

/** A refund's result as WeChat's fields carry it, under the names the notification and the query give them. */
export interface ReportedRefund {
  outRefundNo?: string;
  outTradeNo?: string;
  transactionId?: string;
  refundId?: string;
  refundFee?: string;
  totalFee?: string;
  status?: string;
  successTime?: string;
}

const REFUND_ID = /^[0-9A-Za-z]{1,32}$/;
const FEN = /^[1-9][0-9]{0,9}$/;

/**
 * Checks a reported refund result and turns it into RefundFacts, or answers why it cannot be
 * one: the same rules whether a notification or a refund query reported it.
 */
export function refundFactsFrom(r: ReportedRefund): RefundFacts | { refused: string } {
  if (!r.outTradeNo) return { refused: 'out_trade_no is missing' };
  if (!r.refundId || !REFUND_ID.test(r.refundId)) return { refused: 'refund_id is missing or malformed' };
  if (!FEN.test(r.refundFee ?? '')) return { refused: `refund_fee ${JSON.stringify(r.refundFee ?? null)} is not a positive integer` };
  if (r.totalFee !== undefined && !FEN.test(r.totalFee)) return { refused: 'total_fee is not a positive integer' };
  if (!REFUND_RESULTS.includes(r.status as RefundResult)) return { refused: `refund_status ${JSON.stringify(r.status ?? null)} is not a final status` };
  return {
    outRefundNo: r.outRefundNo ?? '',
    outTradeNo: r.outTradeNo,
    transactionId: r.transactionId,
    refundId: r.refundId,
    refundFee: Number(r.refundFee),
    totalFee: r.totalFee !== undefined ? Number(r.totalFee) : undefined,
    status: r.status as RefundResult,
    successTime: r.successTime,
  };
}
