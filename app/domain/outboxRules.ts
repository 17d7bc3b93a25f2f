/**
 * The merchant-facing events (docs/events.md) and the relay's retry rule. Pure: the outbox
 * repository writes the rows, the outbox service delivers them.
 */

export type OutboxStatus = 'PENDING' | 'DELIVERED' | 'DEAD';
export const OUTBOX_STATUSES: readonly OutboxStatus[] = [ 'PENDING', 'DELIVERED', 'DEAD' ];

export type OutboxEventType =
  | 'order.paid'
  | 'order.paid_after_close'
  | 'order.paid_twice'
  | 'order.closed'
  | 'order.expired'
  | 'refund.succeeded'
  | 'refund.failed'
  | 'refund.needs_attention';

export const OUTBOX_EVENT_TYPES: readonly OutboxEventType[] = [
  'order.paid', 'order.paid_after_close', 'order.paid_twice', 'order.closed', 'order.expired',
  'refund.succeeded', 'refund.failed', 'refund.needs_attention',
];

/**
 * The merchant event an internal order event (order_events.type) becomes, or null for the
 * internal ones no consumer acts on (a refund requested by our own admin API).
 * `detail` is the order event's detail, already parsed.
 */
export function outboxTypeOf(orderEventType: string, detail: Record<string, unknown>): OutboxEventType | null {
  switch (orderEventType) {
    case 'PAID': return 'order.paid';
    case 'PAID_AFTER_CLOSE': return 'order.paid_after_close';
    case 'DOUBLE_PAYMENT': return 'order.paid_twice';
    case 'CLOSED': return detail.expired === true ? 'order.expired' : 'order.closed';
    case 'REFUNDED': return 'refund.succeeded';
    case 'REFUND_CLOSED': case 'REFUND_FAILED': return 'refund.failed';
    case 'REFUND_CHANGE': return 'refund.needs_attention';
    default: return null;
  }
}

/** What an event's payload says about its order (docs/events.md has an example of each type). */
export interface OrderFacts {
  outTradeNo: string;
  appId: string;
  openid: string | null;
  status: string;
  totalFee: number;
  refundedFee: number;
  refundRequired: boolean;
  items: unknown;
  attach: string | null;
  transactionId: string | null;
  createdAt: Date;
  paidAt: Date | null;
  closedAt: Date | null;
}

export interface PaymentFacts {
  outTradeNo: string;
  transactionId: string | null;
  totalFee: number;
}

export interface RefundEventFacts {
  outRefundNo: string;
  refundId: string | null;
  amount: number;
  status: string;
  reason: string;
  successAt: Date | null;
  errCode: string | null;
  errCodeDes: string | null;
  payment: PaymentFacts;
}

/** The payload of an event: amounts in fen, times as ISO 8601 UTC. */
export function eventPayload(order: OrderFacts, extra: { payment?: PaymentFacts; refund?: RefundEventFacts; source: string }): Record<string, unknown> {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  const payload: Record<string, unknown> = {
    order: {
      outTradeNo: order.outTradeNo,
      appId: order.appId,
      openid: order.openid,
      status: order.status,
      totalFee: order.totalFee,
      refundedFee: order.refundedFee,
      refundRequired: order.refundRequired,
      items: order.items,
      attach: order.attach,
      transactionId: order.transactionId,
      createdAt: iso(order.createdAt),
      paidAt: iso(order.paidAt),
      closedAt: iso(order.closedAt),
    },
    source: extra.source,
  };
  if (extra.payment) payload.payment = extra.payment;
  if (extra.refund) payload.refund = { ...extra.refund, successAt: iso(extra.refund.successAt) };
  return payload;
}

/** The retry rule: attempt n (1-based) failed, wait base * 2^(n-1), at most max. */
export interface RetryPolicy {
  backoffBaseMs: number;
  backoffMaxMs: number;
  maxAttempts: number;
}

/** When to try again after `attempts` failed attempts, or null: give up (the event is DEAD). */
export function nextAttemptAfter(attempts: number, now: Date, policy: RetryPolicy): Date | null {
  if (attempts >= policy.maxAttempts) return null;
  return new Date(now.getTime() + backoffMs(attempts, policy));
}

export function backoffMs(attempts: number, policy: Pick<RetryPolicy, 'backoffBaseMs' | 'backoffMaxMs'>): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  return Math.min(policy.backoffBaseMs * 2 ** exponent, policy.backoffMaxMs);
}

/** The JSON a sink sends: the same body for the webhook and RabbitMQ. */
export interface EventEnvelope {
  id: string;
  type: string;
  createdAt: string;
  outTradeNo: string;
  /** Per order, from 1, in the order the changes were committed. */
  sequence: number;
  data: Record<string, unknown>;
}
