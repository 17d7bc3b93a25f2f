import type { SignType, TradeType } from '../lib/wechatpay';

export interface AppCredential {
  appId: string;
  appSecret: string;
}

export interface MerchantCredential {
  mchId: string;
  /** The 32-character API key (v2) shared with the merchant. */
  apiKey: string;
  /** Apps this merchant may take payments for (APPID_MCHID_NOT_MATCH otherwise). */
  appIds: string[];
  /** Refund notifications go here when a refund request names no notify_url (WeChat's merchant-platform setting). */
  refundNotifyUrl?: string;
  /** NATIVE mode 1: where a scan of the merchant's static code is POSTed (the merchant platform's 扫码回调链接). */
  scanCallbackUrl?: string;
  /**
   * Hosts registered for H5 payment (MWEB): an mweb_url's redirect_url and the page's Referer must
   * be on one of them. Default 127.0.0.1 and localhost.
   */
  h5Domains?: string[];
}

export interface SimulatorOptions {
  apps?: AppCredential[];
  merchants?: MerchantCredential[];
  /** Multiplies WeChat's notification retry delays (e.g. 0.001 in tests). */
  retryScale?: number;
  /** How long to wait for the merchant's reply to a notification. */
  notifyTimeoutMs?: number;
  /** Clock for expiry (codes, prepay ids, time_expire) and recorded times. */
  now?: () => Date;
  /** true (default): an accepted refund succeeds right after the reply; false: it stays PROCESSING until completeRefund(). */
  autoCompleteRefunds?: boolean;
}

/** The names faults and recorded requests use. */
export type ApiName =
  | 'jscode2session' | 'oauth2_access_token' | 'unifiedorder' | 'orderquery' | 'closeorder'
  | 'refund' | 'refundquery' | 'downloadbill' | 'notify'
  // Payment code and sandbox (simulator/micropay.ts, simulator/sandbox.ts).
  | 'micropay' | 'reverse' | 'getsignkey';

export const API_NAMES: readonly ApiName[] = [
  'jscode2session', 'oauth2_access_token', 'unifiedorder', 'orderquery', 'closeorder', 'refund', 'refundquery', 'downloadbill', 'notify',
  'micropay', 'reverse', 'getsignkey',
];

export type Fault =
  | { kind: 'slow'; delayMs: number }
  | { kind: 'systemerror' }
  /**
   * A lost reply: the request takes effect, then the connection is cut (for notify: the
   * notification is delivered and the merchant's answer lost). With beforeProcessing the request
   * itself is lost instead (for notify: nothing is sent).
   */
  | { kind: 'drop'; beforeProcessing?: boolean }
  /** Notifications only: each delivery attempt sends this many copies at once. */
  | { kind: 'duplicate'; copies: number };

/** USERPAYING and REVOKED: payment-code orders only (waiting for the payer's password; reversed). */
export type TradeState = 'NOTPAY' | 'SUCCESS' | 'REFUND' | 'CLOSED' | 'PAYERROR' | 'USERPAYING' | 'REVOKED';

export interface SimOrder {
  mchId: string;
  appId: string;
  outTradeNo: string;
  /** Every field of the latest accepted unified order request, as received. */
  params: Record<string, string>;
  signType: SignType;
  notifyUrl: string;
  totalFee: number;
  /** JSAPI: the openid the order named; other trade types: the payer's, set when paid ('' before). */
  openid: string;
  /** The unified order's trade_type (seeded orders: JSAPI). */
  tradeType: TradeType | 'MICROPAY';
  /** NATIVE: the code_url, payable until prepayExpiresAt. */
  codeUrl?: string;
  /** MWEB: the cashier URL's package and when it stops working (5 minutes after it was issued). */
  mwebPackage?: string;
  mwebExpiresAt?: Date;
  attach?: string;
  prepayId: string;
  prepayExpiresAt: Date;
  /** From the request's time_expire: after it the order can no longer be paid and reads as CLOSED. */
  expiresAt?: Date;
  tradeState: TradeState;
  createdAt: Date;
  closedAt?: Date;
  transactionId?: string;
  timeEnd?: string;
  paidAt?: Date;
  bankType?: string;
  /** Coupons the payer paid part of a successful payment with (none: all cash). */
  coupons?: SimCoupon[];
  /** Set when the payer's payment failed (notification with result_code FAIL). */
  payError?: { errCode: string; errCodeDes: string };
  refunds: SimRefund[];
}

/** A coupon used in a payment: CASH ones are funded by WeChat/the merchant's marketing account, NO_CASH (免充值) ones reduce what the merchant is settled. */
export interface SimCoupon {
  id: string;
  type: 'CASH' | 'NO_CASH';
  fee: number;
}

/** The amounts of a paid order as WeChat reports them (notification, order query, bill). */
export function paymentAmounts(order: Pick<SimOrder, 'totalFee' | 'coupons'>): { couponFee: number; cashFee: number; settlementTotalFee: number } {
  const coupons = order.coupons ?? [];
  const couponFee = coupons.reduce((t, c) => t + c.fee, 0);
  const noCash = coupons.filter(c => c.type === 'NO_CASH').reduce((t, c) => t + c.fee, 0);
  return { couponFee, cashFee: order.totalFee - couponFee, settlementTotalFee: order.totalFee - noCash };
}

/** WeChat's coupon fields: coupon_fee, coupon_count, coupon_type_$n, coupon_id_$n, coupon_fee_$n ($n from 0), settlement_total_fee. */
export function couponFields(order: Pick<SimOrder, 'totalFee' | 'coupons'>): Record<string, string | number> {
  const coupons = order.coupons ?? [];
  if (coupons.length === 0) return {};
  const { couponFee, settlementTotalFee } = paymentAmounts(order);
  const out: Record<string, string | number> = { settlement_total_fee: settlementTotalFee, coupon_fee: couponFee, coupon_count: coupons.length };
  coupons.forEach((c, n) => {
    out[`coupon_type_${n}`] = c.type;
    out[`coupon_id_${n}`] = c.id;
    out[`coupon_fee_${n}`] = c.fee;
  });
  return out;
}

/**
 * How a refund is shared between cash and the payment's coupons, as WeChat reports it (refund reply
 * and query, refund notification, bill): in proportion to the payment, each share taken on all of
 * the order's refunds so far and rounded down, so an order refunded in full has refunded its coupons
 * exactly. The split is WeChat's to make (this is the simulator's rule); the service records what
 * is reported and reconciles on the amount asked for.
 */
export function refundAmounts(order: Pick<SimOrder, 'totalFee' | 'coupons'>, refundedBefore: number, refundFee: number):
{ couponRefundFee: number; cashRefundFee: number; settlementRefundFee: number } {
  const coupons = order.coupons ?? [];
  const share = (part: number) =>
    Math.floor((refundedBefore + refundFee) * part / order.totalFee) - Math.floor(refundedBefore * part / order.totalFee);
  const couponRefundFee = share(coupons.reduce((t, c) => t + c.fee, 0));
  const noCashRefundFee = share(coupons.filter(c => c.type === 'NO_CASH').reduce((t, c) => t + c.fee, 0));
  return { couponRefundFee, cashRefundFee: refundFee - couponRefundFee, settlementRefundFee: refundFee - noCashRefundFee };
}

export type RefundStatus = 'PROCESSING' | 'SUCCESS' | 'CHANGE' | 'REFUNDCLOSE';

export interface SimRefund {
  outRefundNo: string;
  refundId: string;
  totalFee: number;
  refundFee: number;
  /** The refund's shares (refundAmounts), fixed when WeChat accepts it. */
  couponRefundFee: number;
  cashRefundFee: number;
  /** refund_fee less what goes back to NO_CASH coupons: what the merchant's settlement gives back. */
  settlementRefundFee: number;
  status: RefundStatus;
  createdAt: Date;
  /** When the refund finished (any final status). */
  finishedAt?: Date;
  /** yyyy-MM-dd HH:mm:ss, Beijing time, as refund query and notification write it; SUCCESS only. */
  successTime?: string;
  /** The refund request's notify_url, else the merchant's refundNotifyUrl; none: no notification. */
  notifyUrl?: string;
  /** Every field of the refund request, as received. */
  params: Record<string, string>;
}

export interface PaymentRecord {
  outTradeNo: string;
  result: 'SUCCESS' | 'FAIL';
  tradeState: TradeState;
  totalFee: number;
  openid: string;
  bankType: string;
  timeEnd: string;
  /** Only for a successful payment. */
  transactionId?: string;
  /** Fen paid by coupons (0: none) and in cash. */
  couponFee: number;
  cashFee: number;
}

export interface DeliveryAttempt {
  /** A payment result notification, or a refund result notification (encrypted req_info). */
  kind: 'payment' | 'refund';
  outTradeNo: string;
  /** Refund notifications only. */
  outRefundNo?: string;
  /** 1 for the first delivery, n for the (n-1)th retry; manual sends number their copies. */
  attempt: number;
  /** 'schedule': WeChat's own delivery and retries; 'manual': sendNotification(). */
  source: 'schedule' | 'manual';
  /** Which copy within the attempt (a duplicate fault or sendNotification sends several). */
  copy: number;
  /** Scaled delay waited after the previous attempt (0 for the first). */
  delayMs: number;
  at: Date;
  url: string;
  /** The XML sent. */
  body: string;
  status?: number;
  reply?: string;
  error?: string;
  acknowledged: boolean;
}

/** A scheduled delivery that has finished: acknowledged, or WeChat gave up after the last retry. */
export interface DeliveryEnd {
  kind: 'payment' | 'refund';
  outTradeNo: string;
  outRefundNo?: string;
  acknowledged: boolean;
  /** Attempts made (copies of one attempt count once). */
  attempts: number;
}

export interface RecordedRequest {
  api: ApiName;
  method: string;
  /** The URL path: tells a sandbox call (/sandboxnew/...) from a production one. */
  path: string;
  /** Query parameters (jscode2session) or the XML fields (pay APIs); empty when unreadable. */
  params: Record<string, string>;
  at: Date;
}

export interface LoginCodeOptions {
  appId?: string;
  openid?: string;
  unionid?: string;
}

export interface PayOptions {
  result?: 'SUCCESS' | 'FAIL';
  /** The payer's openid for an order that names none (NATIVE, MWEB, APP); random when unset. */
  openid?: string;
  bankType?: string;
  /** Pay part of the order with coupons (fee in fen, type CASH by default); they must leave at least 1 fen in cash. */
  coupons?: Array<{ fee: number; type?: 'CASH' | 'NO_CASH'; id?: string }>;
  /**
   * Tests only (not exposed on /simulator/pay): pays even an order closed by closeorder, as when
   * the payer's payment completes at WeChat while the merchant closes the order.
   */
  payClosedOrder?: boolean;
}

export interface AddPaidOrdersOptions {
  mchId?: string;
  appId?: string;
  paidAt?: Date;
  totalFee?: number;
}

export interface SendNotificationOptions {
  copies?: number;
  concurrent?: boolean;
  /** Lets a test tamper with the fields before sending; a field set to undefined is left out. */
  mutate?: (fields: Record<string, string>) => Record<string, string | undefined>;
  /** true (default): sign again after mutate; false: keep the original sign. */
  resign?: boolean;
}

export interface WaitForDeliveryOptions {
  /** Count only payment (or only refund) notifications; both by default. */
  kind?: 'payment' | 'refund';
  /** Count only attempts with this outcome. */
  acknowledged?: boolean;
  /** How many matching attempts to wait for (default 1). */
  count?: number;
  timeoutMs?: number;
}
