import { newTransactionId } from './ids';
import { RecordedRequest, SimOrder, SimRefund } from './types';

/** Every order placed through unified order, per merchant, with WeChat's time-driven transitions. */
export class OrderBook {
  private readonly byKey = new Map<string, SimOrder>();
  private readonly transactionIds = new Map<string, SimOrder>();

  constructor(private readonly now: () => Date) {}

  get(mchId: string, outTradeNo: string): SimOrder | undefined {
    return this.refresh(this.byKey.get(key(mchId, outTradeNo)));
  }

  getByTransactionId(mchId: string, transactionId: string): SimOrder | undefined {
    const order = this.transactionIds.get(transactionId);
    return order && order.mchId === mchId ? this.refresh(order) : undefined;
  }

  /** By out_trade_no alone (the payer's and tests' view); the newest when merchants share a number. */
  find(outTradeNo: string): SimOrder | undefined {
    let found: SimOrder | undefined;
    for (const order of this.byKey.values()) {
      if (order.outTradeNo === outTradeNo && (!found || order.createdAt >= found.createdAt)) found = order;
    }
    return this.refresh(found);
  }

  all(): SimOrder[] {
    return [ ...this.byKey.values() ].map(o => this.refresh(o)!);
  }

  /** A merchant's refund by out_refund_no or refund_id, with its order. */
  findRefund(mchId: string, by: { outRefundNo?: string; refundId?: string }): { order: SimOrder; refund: SimRefund } | undefined {
    for (const order of this.byKey.values()) {
      if (order.mchId !== mchId) continue;
      const refund = order.refunds.find(r => (by.refundId ? r.refundId === by.refundId : r.outRefundNo === by.outRefundNo));
      if (refund) return { order: this.refresh(order)!, refund };
    }
    return undefined;
  }

  /** By out_refund_no alone (tests' view); the newest when merchants share a number. */
  findRefundAnywhere(outRefundNo: string): { order: SimOrder; refund: SimRefund } | undefined {
    let found: { order: SimOrder; refund: SimRefund } | undefined;
    for (const order of this.byKey.values()) {
      const refund = order.refunds.find(r => r.outRefundNo === outRefundNo);
      if (refund && (!found || refund.createdAt >= found.refund.createdAt)) found = { order, refund };
    }
    return found;
  }

  add(order: SimOrder): void {
    this.byKey.set(key(order.mchId, order.outTradeNo), order);
  }

  /** Marks an order paid under a fresh, unique transaction id. */
  assignTransactionId(order: SimOrder): string {
    let id: string;
    do id = newTransactionId(this.now()); while (this.transactionIds.has(id));
    order.transactionId = id;
    this.transactionIds.set(id, order);
    return id;
  }

  /** A new code_url no order holds yet. */
  uniqueCodeUrl(make: () => string): string {
    let url: string;
    do url = make(); while (this.findByCodeUrl(url));
    return url;
  }

  /** The NATIVE order a code_url names (what a payer's scan finds). */
  findByCodeUrl(codeUrl: string): SimOrder | undefined {
    for (const order of this.byKey.values()) if (order.codeUrl === codeUrl) return this.refresh(order);
    return undefined;
  }

  /** The order of this merchant a prepay_id names. */
  findByPrepayId(mchId: string, prepayId: string): SimOrder | undefined {
    for (const order of this.byKey.values()) if (order.mchId === mchId && order.prepayId === prepayId) return this.refresh(order);
    return undefined;
  }

  /** The MWEB order an mweb_url names: its prepay_id and the package of its latest mweb_url. */
  findByMweb(prepayId: string, pkg: string): SimOrder | undefined {
    for (const order of this.byKey.values()) {
      if (order.prepayId === prepayId && order.mwebPackage === pkg) return this.refresh(order);
    }
    return undefined;
  }

  reset(): void {
    this.byKey.clear();
    this.transactionIds.clear();
  }

  /** An unpaid order past its time_expire can no longer be paid: WeChat reports it closed. */
  private refresh(order: SimOrder | undefined): SimOrder | undefined {
    if (order && (order.tradeState === 'NOTPAY' || order.tradeState === 'PAYERROR') &&
        order.expiresAt && this.now() >= order.expiresAt) {
      order.tradeState = 'CLOSED';
      order.closedAt = order.expiresAt;
    }
    return order;
  }
}

function key(mchId: string, outTradeNo: string): string {
  return `${mchId}/${outTradeNo}`;
}

/** Incoming WeChat API requests, for tests' assertions. */
export class RequestLog {
  private entries: RecordedRequest[] = [];

  record(entry: RecordedRequest): void {
    this.entries.push(entry);
  }

  list(api?: string): RecordedRequest[] {
    return this.entries.filter(e => !api || e.api === api).map(e => ({ ...e, params: { ...e.params } }));
  }

  reset(): void {
    this.entries = [];
  }
}
