export type OrderStatus = 'NOTPAY' | 'SUCCESS' | 'CLOSED' | 'REFUND';

/** An order is paid once SUCCESS, and stays paid when (partly or wholly) refunded: REFUND. */
export function isPaidStatus(status: string): boolean {
  return status === 'SUCCESS' || status === 'REFUND';
}
