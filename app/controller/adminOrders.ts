import { Controller } from 'egg';
import { OUT_REFUND_NO_PATTERN, OUT_TRADE_NO_PATTERN } from '../../lib/wechatpay';
import { ValidationError } from '../common/errors';
import { requireString } from '../common/validate';
import { beijingDayWindow, isCalendarDay } from '../domain/beijingDays';
import type { OrderStatus } from '../domain/orderStatus';
import { OrderSearchFilter } from '../repository/adminRepository';
import { decodeCursor } from '../service/adminOrders';

const ORDER_STATUSES: readonly OrderStatus[] = [ 'NOTPAY', 'SUCCESS', 'CLOSED', 'REFUND' ];
const TRADE_TYPES = [ 'JSAPI', 'NATIVE', 'APP', 'MWEB', 'MICROPAY' ];

/** Admin API (adminAuth): order search, an order's story, and the operator's actions on it. */
export default class AdminOrdersController extends Controller {
  /** GET /admin/orders?outTradeNo&transactionId&openid&status&tradeType&appid&from&to&cursor&limit */
  async search() {
    const q = this.ctx.query;
    const optional = (name: string, max: number, pattern: RegExp) => (q[name] === undefined || q[name] === '' ? undefined :
      requireString(q[name], name, { max, pattern }));
    const filter: OrderSearchFilter = {
      outTradeNo: optional('outTradeNo', 32, OUT_TRADE_NO_PATTERN),
      transactionId: optional('transactionId', 32, /^[0-9A-Za-z]+$/),
      openid: optional('openid', 64, /^[A-Za-z0-9_-]+$/),
      appid: optional('appid', 32, /^[A-Za-z0-9_]+$/),
      status: optional('status', 16, /^[A-Z]+$/),
      tradeType: optional('tradeType', 16, /^[A-Z]+$/),
      limit: 20,
    };
    if (filter.status && !(ORDER_STATUSES as readonly string[]).includes(filter.status)) {
      throw new ValidationError('status', `status must be one of ${ORDER_STATUSES.join(', ')}`);
    }
    if (filter.tradeType && !TRADE_TYPES.includes(filter.tradeType)) throw new ValidationError('tradeType', `tradeType must be one of ${TRADE_TYPES.join(', ')}`);
    const from = optional('from', 10, /^\d{4}-\d{2}-\d{2}$/);
    const to = optional('to', 10, /^\d{4}-\d{2}-\d{2}$/);
    for (const [ name, day ] of [[ 'from', from ], [ 'to', to ]]) {
      if (day && !isCalendarDay(day)) throw new ValidationError(name!, `${name} must be a calendar day as YYYY-MM-DD (Beijing)`);
    }
    if (from && to && from > to) throw new ValidationError('to', 'to must not be before from');
    if (from) filter.createdFrom = beijingDayWindow(from).start;
    if (to) filter.createdBefore = beijingDayWindow(to).end;
    if (q.cursor !== undefined) {
      const cursor = decodeCursor(requireString(q.cursor, 'cursor', { max: 64, pattern: /^[A-Za-z0-9_-]+$/ }));
      if (!cursor) throw new ValidationError('cursor', 'cursor is not one this API gave');
      filter.beforeId = cursor;
    }
    if (q.limit !== undefined) {
      const limit = Number(q.limit);
      if (!/^\d{1,3}$/.test(String(q.limit)) || limit < 1 || limit > 100) throw new ValidationError('limit', 'limit must be an integer between 1 and 100');
      filter.limit = limit;
    }
    this.ctx.body = await this.service.adminOrders.search(filter);
  }

  /** GET /admin/orders/:outTradeNo */
  async show() {
    this.ctx.body = await this.service.adminOrders.detail(this.outTradeNo());
  }

  /** POST /admin/orders/:outTradeNo/query: ask WeChat now. */
  async query() {
    this.ctx.body = await this.service.adminOrders.queryNow(this.outTradeNo());
  }

  /** POST /admin/orders/:outTradeNo/close */
  async close() {
    this.ctx.body = await this.service.adminOrders.close(this.outTradeNo());
  }

  /** POST /admin/refunds/:outRefundNo/query: ask WeChat now about a refund. */
  async queryRefund() {
    const outRefundNo = requireString(this.ctx.params.outRefundNo, 'outRefundNo', { max: 64, pattern: OUT_REFUND_NO_PATTERN });
    this.ctx.body = await this.service.adminOrders.queryRefund(outRefundNo);
  }

  private outTradeNo(): string {
    return requireString(this.ctx.params.outTradeNo, 'outTradeNo', { max: 32, pattern: OUT_TRADE_NO_PATTERN });
  }
}
