import { Service } from 'egg';
import { WechatError } from '../../lib/wechatpay';
import { NotFoundError } from '../common/errors';
import { wechatFailureToAppError } from '../common/wechatErrors';
import { AdminRepository, OrderSearchFilter, OrderSearchRow } from '../repository/adminRepository';
import { OrderRefundsView, RefundView, toRefundView } from './refund';
import { OrderView, toOrderView } from './order';

export interface OrderSummary {
  outTradeNo: string;
  status: string;
  totalFee: number;
  refundedFee: number;
  body: string;
  appid: string;
  tradeType: string;
  transactionId: string | null;
  openid: string | null;
  createdAt: string;
  paidAt: string | null;
}

export interface OrderPage {
  orders: OrderSummary[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/** One line of an order's story; `at` orders them. */
export interface TimelineEntry {
  at: string;
  kind: 'CREATED' | 'ATTEMPT' | 'NOTIFICATION' | 'EVENT' | 'REFUND';
  /** One readable line. */
  summary: string;
  detail: Record<string, unknown>;
}

export interface AdminOrderDetail {
  order: OrderView & { appid: string; tradeType: string; openid: string | null; refundRequired: boolean; closedAt: string | null };
  amounts: { paid: number; refunded: number; refundable: number };
  payments: OrderRefundsView['payments'];
  refunds: RefundView[];
  timeline: TimelineEntry[];
}

/**
 * The back office's view of orders (docs/console.md): search, the whole story of one order, and
 * the operator's actions on it (ask WeChat now, close). Refunds go through RefundService.
 */
export default class AdminOrdersService extends Service {
  async search(filter: OrderSearchFilter): Promise<OrderPage> {
    const rows = await new AdminRepository(this.app.model).searchOrders({ ...filter, limit: filter.limit + 1 });
    const page = rows.slice(0, filter.limit);
    return {
      orders: page.map(toSummary),
      nextCursor: rows.length > filter.limit ? encodeCursor(page[page.length - 1].id) : null,
    };
  }

  async detail(outTradeNo: string): Promise<AdminOrderDetail> {
    const { Order, PaymentAttempt, PaymentNotification, OrderEvent, User } = this.app.model;
    const order = await Order.findOne({ where: { outTradeNo } });
    if (!order) throw new NotFoundError('ORDER_NOT_FOUND', 'no such order');
    const [ attempts, events, user, refundState ] = await Promise.all([
      PaymentAttempt.findAll({ where: { orderId: order.id }, order: [[ 'id', 'ASC' ]] }),
      OrderEvent.findAll({ where: { orderId: order.id }, order: [[ 'id', 'ASC' ]] }),
      // A payment-code (POS) order has no user.
      order.userId === null ? null : User.findByPk(order.userId),
      this.service.refund.list(outTradeNo),
    ]);
    // Notifications name the payment (an attempt's number) or WeChat's transaction; refund
    // notifications carry the same numbers. The raw bodies stay in the table.
    const numbers = attempts.map(a => a.outTradeNo);
    const transactionIds = attempts.map(a => a.transactionId).filter((t): t is string => Boolean(t));
    const { Op } = this.app.Sequelize;
    const notifications = await PaymentNotification.findAll({
      where: { [Op.or]: [{ outTradeNo: numbers }, ...(transactionIds.length ? [{ transactionId: transactionIds }] : []) ] },
      attributes: [ 'id', 'kind', 'outTradeNo', 'transactionId', 'outcome', 'reason', 'remoteIp', 'createdAt' ],
      order: [[ 'id', 'ASC' ]],
    });

    const timeline: TimelineEntry[] = [
      { at: iso(order.createdAt), kind: 'CREATED', summary: `order created: ${order.totalFee} fen, ${order.tradeType}`, detail: { totalFee: order.totalFee, body: order.body } },
      ...attempts.map(a => ({
        at: iso(a.createdAt), kind: 'ATTEMPT' as const,
        summary: `payment attempt ${a.outTradeNo}: ${a.status}${a.errCode ? ` (${a.errCode})` : ''}`,
        detail: { outTradeNo: a.outTradeNo, status: a.status, totalFee: a.totalFee, signType: a.signType, prepayId: a.prepayId ?? null, transactionId: a.transactionId ?? null, errCode: a.errCode ?? null, errCodeDes: a.errCodeDes ?? null },
      })),
      ...notifications.map(n => ({
        at: iso(n.createdAt), kind: 'NOTIFICATION' as const,
        summary: `${n.kind === 'pay' ? 'payment' : 'refund'} notification ${n.outcome}${n.reason && n.reason !== n.outcome ? `: ${n.reason}` : ''}`,
        detail: { kind: n.kind, outTradeNo: n.outTradeNo, transactionId: n.transactionId, outcome: n.outcome, reason: n.reason ?? null, remoteIp: n.remoteIp },
      })),
      ...events.map(e => ({
        at: iso(e.createdAt), kind: 'EVENT' as const, summary: `${e.type} (${e.source})`,
        detail: { type: e.type, source: e.source, ...parsedDetail(e.detail) },
      })),
      ...refundState.refunds.map(r => ({
        at: r.createdAt, kind: 'REFUND' as const, summary: `refund ${r.outRefundNo} of ${r.amount} fen: ${r.status}`,
        detail: { outRefundNo: r.outRefundNo, amount: r.amount, reason: r.reason, status: r.status, successAt: r.successAt, errCode: r.errCode },
      })),
    ];
    timeline.sort((a, b) => a.at.localeCompare(b.at));

    const paid = refundState.payments.reduce((sum, p) => sum + p.totalFee, 0);
    // From the refund rows themselves, as refundedFee is kept (the SUCCESS ones): the order row was
    // read a moment earlier and may predate the refund notification committed in between.
    const refunded = refundState.refunds.filter(r => r.status === 'SUCCESS').reduce((sum, r) => sum + r.amount, 0);
    return {
      order: {
        ...toOrderView(order), appid: order.appid, tradeType: order.tradeType, openid: user?.openid ?? null,
        refundRequired: order.refundRequired, closedAt: order.closedAt ? iso(order.closedAt) : null,
      },
      amounts: { paid, refunded, refundable: refundState.payments.reduce((sum, p) => sum + p.refundableFee, 0) },
      payments: refundState.payments,
      refunds: refundState.refunds,
      timeline,
    };
  }

  /**
   * Asks WeChat now about each attempt of the order that can still change (orderquery), applies a
   * payment found through the one settlement path, and records the query on the timeline.
   */
  async queryNow(outTradeNo: string): Promise<AdminOrderDetail> {
    const order = await this.app.model.Order.findOne({ where: { outTradeNo } });
    if (!order) throw new NotFoundError('ORDER_NOT_FOUND', 'no such order');
    try {
      await this.service.order.refreshFromWechat(order);
    } catch (err) {
      await this.recordQuery(order.id, { order: outTradeNo, before: order.status, error: (err as Error).message });
      if (err instanceof WechatError) throw wechatFailureToAppError(err, 'the order query');
      throw err;
    }
    const after = await this.app.model.Order.findByPk(order.id);
    await this.recordQuery(order.id, { order: outTradeNo, before: order.status, after: after!.status });
    return this.detail(outTradeNo);
  }

  /** Closes an unpaid order at WeChat and here (OrderCloseService); 409 ORDER_ALREADY_PAID for a paid one. */
  async close(outTradeNo: string): Promise<AdminOrderDetail> {
    const order = await this.app.model.Order.findOne({ where: { outTradeNo } });
    if (!order) throw new NotFoundError('ORDER_NOT_FOUND', 'no such order');
    await this.service.orderClose.close(order, 'admin');
    return this.detail(outTradeNo);
  }

  /**
   * Asks WeChat now about a refund still PROCESSING (refundquery) and applies a final result
   * through the refund settlement path; a refund already final is answered as it is.
   */
  async queryRefund(outRefundNo: string): Promise<{ refund: RefundView; queried: boolean }> {
    const { Refund, Order, OrderEvent } = this.app.model;
    const refund = await Refund.findOne({ where: { outRefundNo } });
    if (!refund) throw new NotFoundError('REFUND_NOT_FOUND', 'no such refund');
    const order = (await Order.findByPk(refund.orderId))!;
    if (refund.status !== 'PROCESSING') return { refund: toRefundView(refund, order), queried: false };
    let outcome: string;
    try {
      outcome = await this.service.refund.refreshFromWechat(refund);
    } catch (err) {
      await OrderEvent.create({ orderId: order.id, type: 'REFUND_QUERIED', source: 'admin', detail: JSON.stringify({ outRefundNo, error: (err as Error).message }) });
      if (err instanceof WechatError) throw wechatFailureToAppError(err, 'the refund query');
      throw err;
    }
    await OrderEvent.create({ orderId: order.id, type: 'REFUND_QUERIED', source: 'admin', detail: JSON.stringify({ outRefundNo, outcome }) });
    const reloaded = (await Refund.findByPk(refund.id))!;
    return { refund: toRefundView(reloaded, (await Order.findByPk(refund.orderId))!), queried: true };
  }

  private async recordQuery(orderId: number, detail: Record<string, unknown>): Promise<void> {
    await this.app.model.OrderEvent.create({ orderId, type: 'QUERIED', source: 'admin', detail: JSON.stringify(detail) });
  }
}

function toSummary(row: OrderSearchRow): OrderSummary {
  return {
    outTradeNo: row.outTradeNo, status: row.status, totalFee: row.totalFee, refundedFee: row.refundedFee, body: row.body,
    appid: row.appid, tradeType: row.tradeType, transactionId: row.transactionId ?? null, openid: row.openid ?? null,
    createdAt: iso(row.createdAt), paidAt: row.paidAt ? iso(row.paidAt) : null,
  };
}

const iso = (at: Date | string) => new Date(at).toISOString();

function parsedDetail(detail: string | null): Record<string, unknown> {
  if (!detail) return {};
  try {
    const parsed = JSON.parse(detail);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : { detail: parsed };
  } catch {
    return { detail };
  }
}

/** The cursor is the last order id of a page, opaque to clients. */
export function encodeCursor(id: number): string {
  return Buffer.from(`o:${id}`).toString('base64url');
}

/** The order id a cursor names, or undefined when it is not one of ours. */
export function decodeCursor(cursor: string): number | undefined {
  const m = /^o:([1-9]\d{0,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}
