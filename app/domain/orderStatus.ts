export type OrderStatus = 'NOTPAY' | 'SUCCESS' | 'CLOSED' | 'REFUND';

/** An order is paid once SUCCESS, and stays paid when (partly or wholly) refunded: REFUND. */
export function isPaidStatus(status: string): boolean {
  return status === 'SUCCESS' || status === 'REFUND';
}

/**
 * Payment attempts WeChat may still be paid under: not paid, not closed there. Their outcome can
 * still change, so they are queried, and closed at WeChat before a new number or a close replaces them.
 */
export const LIVE_ATTEMPT_STATUSES: string[] = [ 'CREATED', 'PREPAID', 'FAILED' ];

/** Live attempts whose payment has not failed: a prepay_id may be stored on them, a failed payment marks them FAILED. */
export const OPEN_ATTEMPT_STATUSES: string[] = [ 'CREATED', 'PREPAID' ];
