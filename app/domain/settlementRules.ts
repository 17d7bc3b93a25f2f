import { fromBeijing, isSignType, verifySign } from '../../lib/wechatpay';
import { payerIsOrderOwner } from './channels';
import { OPEN_ATTEMPT_STATUSES } from './orderStatus';
import type { OrderFacts } from './outboxRules';

/**
 * The settlement decision: given the rows of one payment, read under its order's row lock, and
 * what WeChat reported, decide the outcome and the changes to write. Pure: the settlement service
 * (app/service/settlement.ts) reads the rows and writes the changes in one transaction.
 */

/** What WeChat told us about a successful payment, from a notification or an order query. */
export interface PaidFacts {
  outTradeNo: string;
  transactionId: string;
  totalFee: number;
  timeEnd?: string;
  bankType?: string;
  openid?: string;
  /** What the payment was made of (cash, coupons); recorded, never matched: total_fee is. */
  amounts?: PaymentAmounts;
}

/**
 * The facts of a payment WeChat answered as paid (an order query's or micropay's reply), under our
 * own number: the reply's amount and transaction are then checked against it by decidePaid.
 */
export function paidFactsOf(outTradeNo: string, fields: Record<string, string | undefined>): PaidFacts {
  return {
    outTradeNo, transactionId: fields.transaction_id as string, totalFee: Number(fields.total_fee),
    timeEnd: fields.time_end, bankType: fields.bank_type, openid: fields.openid, amounts: paymentAmountsOf(fields),
  };
}

/** A payment's cash, coupons and settled amount, as WeChat reports them; null where it did not say. */
export interface PaymentAmounts {
  cashFee: number | null;
  couponFee: number | null;
  couponCount: number | null;
  settlementTotalFee: number | null;
  coupons: Array<{ id: string; type: string; fee: number }>;
}

/** WeChat's coupon list is coupon_*_$n for $n below coupon_count; more than this is not believed. */
const MAX_COUPONS = 20;

/**
 * The amounts of a notification or order query: cash_fee, coupon_fee, coupon_count,
 * coupon_type_$n, coupon_id_$n, coupon_fee_$n ($n from 0) and settlement_total_fee. WeChat signed
 * them, but they move no order: one that is absent or malformed is kept as null (or left out of
 * the list) rather than refusing a payment whose total_fee matches.
 */
export function paymentAmountsOf(fields: Record<string, string | undefined>): PaymentAmounts {
  const fen = (name: string) => (/^(0|[1-9][0-9]{0,9})$/.test(fields[name] ?? '') ? Number(fields[name]) : null);
  const couponCount = fen('coupon_count');
  const coupons: PaymentAmounts['coupons'] = [];
  for (let n = 0; n < Math.min(couponCount ?? 0, MAX_COUPONS); n++) {
    const fee = fen(`coupon_fee_${n}`);
    if (fee === null) continue;
    coupons.push({ id: (fields[`coupon_id_${n}`] ?? '').slice(0, 32), type: (fields[`coupon_type_${n}`] ?? '').slice(0, 16), fee });
  }
  return { cashFee: fen('cash_fee'), couponFee: fen('coupon_fee'), couponCount, settlementTotalFee: fen('settlement_total_fee'), coupons };
}

export type SettlementOutcome =
  | { result: 'APPLIED'; orderId: number }
  | { result: 'DUPLICATE'; orderId: number }
  /** Money arrived for an order that was already paid through another attempt, or closed: recorded, flagged for refund. */
  | { result: 'REFUND_REQUIRED'; orderId: number }
  | { result: 'REJECTED'; reason: string; orderId?: number };

/** A notification's outcome: a settlement outcome, or WeChat reporting a payment that failed (recorded on the attempt). */
export type NotificationSettlementOutcome = SettlementOutcome | { result: 'PAYMENT_FAILED'; errCode: string };

export type PaymentSource = 'notify' | 'query';

/** The rows a payment is judged against, read with the order's row locked. */
export interface SettlementRows {
  order: { id: number; outTradeNo: string; status: string; totalFee: number };
  /** `appid`: the app the payment was made for; WeChat's report about it must name that app. */
  attempt: { id: number; outTradeNo: string; status: string; totalFee: number; signType: string; appid: string; transactionId: string | null;
    /** Absent on rows read before channels: JSAPI. Only JSAPI names its payer (MICROPAY: whoever's code was scanned). */
    tradeType?: string;
  };
  /** The openid of the order's owner. */
  ownerOpenid: string | null;
  /** The out_trade_no of the attempt that already holds the reported transaction_id, if any. */
  transactionIdHolder: string | null;
}

/** What a decision changes, written by the settlement service in the decision's transaction. */
export interface SettlementChanges {
  attemptPaid?: { transactionId: string; amounts?: PaymentAmounts };
  /** WeChat reported the payment failed: the attempt is FAILED (if still open) and keeps WeChat's codes. */
  attemptFailed?: { errCode: string; errCodeDes: string; markFailed: boolean };
  orderPaid?: { transactionId: string; paidAt: Date; bankType: string | null };
  refundRequired?: true;
  /**
   * `payerOpenid`: the openid WeChat reported paying, for an order with no owner (a payment-code
   * charge, whose payer is whoever's code was scanned): the event names the payer.
   */
  event?: { type: 'PAID' | 'PAID_AFTER_CLOSE' | 'DOUBLE_PAYMENT'; detail: string; payerOpenid?: string };
}

export interface SettlementLogLine {
  level: 'info' | 'error';
  message: string;
  args: unknown[];
}

export interface SettlementDecision<O> {
  outcome: O;
  changes: SettlementChanges;
  /** Written once the change is committed. */
  log?: SettlementLogLine;
}

export const TRANSACTION_ID_PATTERN = /^[0-9A-Za-z]{1,32}$/;
const FEN = /^[1-9][0-9]{0,9}$/;

/** The transaction_id a report claims, if it is well formed (only then is its holder looked up). */
export function claimedTransactionId(value: unknown): string | undefined {
  return typeof value === 'string' && TRANSACTION_ID_PATTERN.test(value) ? value : undefined;
}

/** A payment notification: signature with the order's sign type, then the payment rules. */
export function decideNotification(rows: SettlementRows | null, fields: Record<string, string>, apiKey: string, now: Date): SettlementDecision<NotificationSettlementOutcome> {
  if (!rows) return rejected('unknown out_trade_no');
  const { attempt, order } = rows;
  // Signed with the sign type of the unified order that created it; the field itself is often absent.
  if (!isSignType(attempt.signType)) return rejected(`the order's sign type ${attempt.signType} is not supported`, order.id);
  if (fields.sign_type !== undefined && fields.sign_type !== attempt.signType) return rejected('sign_type differs from the order\'s', order.id);
  if (!verifySign(fields, apiKey, attempt.signType)) return rejected('signature does not verify', order.id);
  // The merchant's key signs for all its apps, so a signature that verifies can still name another
  // of them: a payment is only ever the app's its order was made in.
  if (fields.appid !== attempt.appid) return rejected('appid is not the order\'s', order.id);

  if (fields.result_code !== 'SUCCESS') {
    // A failed payment moves no money: the order stays payable, and the next /pay closes this
    // number at WeChat and opens a new one (WeChat's rule after a failed payment).
    const errCode = (fields.err_code ?? 'PAYERROR').slice(0, 32);
    return {
      outcome: { result: 'PAYMENT_FAILED', errCode },
      changes: { attemptFailed: { errCode, errCodeDes: (fields.err_code_des ?? '').slice(0, 255), markFailed: OPEN_ATTEMPT_STATUSES.includes(attempt.status) } },
      log: { level: 'info', message: '[notify] order %s: payment failed at WeChat: %s', args: [ attempt.outTradeNo, errCode ] },
    };
  }
  // WeChat sends the payer's openid with every JSAPI payment: without it the owner cannot be checked.
  if (!fields.openid) return rejected('openid is missing', order.id);
  const totalFee = FEN.test(fields.total_fee ?? '') ? Number(fields.total_fee) : NaN;
  if (!Number.isSafeInteger(totalFee)) return rejected(`total_fee ${JSON.stringify(fields.total_fee ?? null)} is not a positive integer`, order.id);
  return decidePaid(rows, {
    outTradeNo: attempt.outTradeNo, transactionId: fields.transaction_id, totalFee,
    timeEnd: fields.time_end, bankType: fields.bank_type, openid: fields.openid, amounts: paymentAmountsOf(fields),
  }, 'notify', now);
}

/** A successful payment, from a notification or an order query: the one set of payment rules. */
export function decidePaid(rows: SettlementRows | null, facts: PaidFacts, source: PaymentSource, now: Date): SettlementDecision<SettlementOutcome> {
  if (!rows) return rejected('unknown out_trade_no');
  const { attempt, order } = rows;
  if (typeof facts.transactionId !== 'string' || !TRANSACTION_ID_PATTERN.test(facts.transactionId)) return rejected('transaction_id is missing or malformed', order.id);
  if (facts.totalFee !== attempt.totalFee || attempt.totalFee !== order.totalFee) {
    return rejected(`total_fee ${facts.totalFee} differs from the order's ${order.totalFee}`, order.id);
  }
  if (attempt.transactionId) {
    if (attempt.transactionId === facts.transactionId) return { outcome: { result: 'DUPLICATE', orderId: order.id }, changes: {} };
    return rejected('a different transaction_id was already recorded for this out_trade_no', order.id);
  }
  // Only a JSAPI order names its payer; a QR code, an H5 cashier or the app may be paid by anyone's WeChat.
  if (payerIsOrderOwner(attempt.tradeType ?? 'JSAPI') && facts.openid && facts.openid !== rows.ownerOpenid) {
    return rejected('openid is not the order owner\'s', order.id);
  }
  if (rows.transactionIdHolder !== null && rows.transactionIdHolder !== attempt.outTradeNo) {
    return rejected('transaction_id already belongs to another payment', order.id);
  }

  const detail = JSON.stringify({ outTradeNo: facts.outTradeNo, transactionId: facts.transactionId, totalFee: facts.totalFee });
  const attemptPaid = { transactionId: facts.transactionId, amounts: facts.amounts };
  const payer = rows.ownerOpenid === null && facts.openid ? { payerOpenid: facts.openid } : {};
  if (order.status === 'NOTPAY') {
    return {
      outcome: { result: 'APPLIED', orderId: order.id },
      changes: {
        attemptPaid,
        orderPaid: {
          transactionId: facts.transactionId,
          paidAt: fromBeijing(facts.timeEnd) ?? now,
          // Cut to the column: an overlong value must not fail the payment's recording forever.
          bankType: facts.bankType?.slice(0, 32) ?? null,
        },
        event: { type: 'PAID', detail, ...payer },
      },
      log: {
        level: 'info',
        message: '[payment] order %s paid: out_trade_no=%s transaction_id=%s total_fee=%d source=%s',
        args: [ order.outTradeNo, facts.outTradeNo, facts.transactionId, facts.totalFee, source ],
      },
    };
  }
  // Paid twice (another attempt won) or paid after we closed it: keep the money on record and
  // flag it, so it is refunded rather than lost.
  const type = order.status === 'CLOSED' ? 'PAID_AFTER_CLOSE' : 'DOUBLE_PAYMENT';
  return {
    outcome: { result: 'REFUND_REQUIRED', orderId: order.id },
    changes: { attemptPaid, refundRequired: true, event: { type, detail, ...payer } },
    log: {
      level: 'error',
      message: '[payment] order %s: %s out_trade_no=%s transaction_id=%s needs a refund',
      args: [ order.outTradeNo, type, facts.outTradeNo, facts.transactionId ],
    },
  };
}

/**
 * The order as a decision's changes leave it, from the row read under its lock: what the event's
 * payload (outboxRules.eventPayload) says, without reading the row again after the writes.
 */
export function orderFactsAfter<O extends OrderFacts>(order: O, changes: SettlementChanges): O {
  const after = { ...order };
  if (changes.orderPaid) Object.assign(after, { status: 'SUCCESS', transactionId: changes.orderPaid.transactionId, paidAt: changes.orderPaid.paidAt });
  if (changes.refundRequired) after.refundRequired = true;
  if (after.openid === null && changes.event?.payerOpenid) after.openid = changes.event.payerOpenid;
  return after;
}

/** How a notification's outcome is kept in its audit row. */
export function auditOutcomeOf(outcome: NotificationSettlementOutcome): { outcome: 'APPLIED' | 'DUPLICATE' | 'REJECTED'; reason: string } {
  switch (outcome.result) {
    case 'REJECTED': return { outcome: 'REJECTED', reason: outcome.reason };
    case 'DUPLICATE': return { outcome: 'DUPLICATE', reason: 'DUPLICATE' };
    case 'PAYMENT_FAILED': return { outcome: 'APPLIED', reason: `payment failed: ${outcome.errCode}` };
    default: return { outcome: 'APPLIED', reason: outcome.result };
  }
}

function rejected(reason: string, orderId?: number): SettlementDecision<SettlementOutcome> {
  return { outcome: orderId === undefined ? { result: 'REJECTED', reason } : { result: 'REJECTED', reason, orderId }, changes: {} };
}
