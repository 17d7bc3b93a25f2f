import { Service } from 'egg';
import { Op, UniqueConstraintError } from 'sequelize';
import { merchantNumber, SignType, TradeType, WechatApiError } from '../../lib/wechatpay';
import { configuredApps } from '../../config/config.default';
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from '../common/errors';
import { chooseTradeType } from '../domain/channels';
import { LIVE_ATTEMPT_STATUSES } from '../domain/orderStatus';
import { encodeOrderCursor, OrderCursor } from '../domain/orderCursor';
import { withTimeout } from '../infra/withTimeout';
import { SessionUser } from './session';
import { attemptFieldsOf, PaymentParams } from './prepay';
import { OrderRepository } from '../repository/orderRepository';
import { countOrderCreated } from '../infra/metricsWiring';
import type { OrderData, OrderRow } from '../model/order';
import type { AttemptStatus, PaymentAttemptData } from '../model/paymentAttempt';
import { decideUnifiedOrderOptions } from '../domain/unifiedOrderOptions';
import { paidFactsOf } from '../domain/settlementRules';

export interface CreateOrderCommand {
  user: SessionUser;
  items: Array<{ productId: number; quantity: number }>;
  /** Merchant data for WeChat's attach (checked by the controller: at most 127 bytes). */
  attach?: string;
  /** The payer asks for WeChat's invoice entry (receipt=Y). */
  receipt?: boolean;
  idempotencyKey?: string;
  clientIp: string;
  /** The trade type asked for; unset: the session's channel's default (docs/channels.md). */
  tradeType?: TradeType;
}

export interface OrderView {
  outTradeNo: string;
  status: string;
  totalFee: number;
  body: string;
  items: unknown;
  createdAt: string;
  expiresAt: string;
  paidAt: string | null;
  transactionId: string | null;
  /** Fen refunded so far (SUCCESS refunds); a partly refunded order stays SUCCESS with this > 0. */
  refundedFee: number;
  /** The merchant data given at creation, as WeChat echoes it; null when none. */
  attach: string | null;
}


/** Business orders: creation, lookup by owner, and reconciling a late payment by order query. */
export default class OrderService extends Service {
  async create(cmd: CreateOrderCommand): Promise<PaymentParams> {
    // A session of an app no longer configured would make orders whose notifications are refused.
    if (!configuredApps(this.config.wechat).some(a => a.appId === cmd.user.appId)) {
      throw new UnauthorizedError('SESSION_APP_UNKNOWN', 'this session\'s app is no longer configured: log in again');
    }
    // One order path for every channel: the session's channel says which trade types it may use.
    const tradeType = chooseTradeType(cmd.user.channel, cmd.tradeType);
    if (!tradeType) {
      throw new ForbiddenError('TRADE_TYPE_NOT_ALLOWED', `a ${cmd.user.channel} session cannot order with trade type ${cmd.tradeType}`);
    }
    this.assertTradeTypeConfigured(tradeType);
    // A key already used is found by its unique index when the order is inserted (below), not by
    // a read before every order: a retry is rare, a SELECT on every Buy is not.
    const priced = await this.service.catalog.price(cmd.items);
    const options = decideUnifiedOrderOptions(priced.items, priced.totalFee, priced.productOptions, cmd.receipt === true);
    const { Order } = this.app.model;
    const fields = {
      outTradeNo: merchantNumber('P'),
      userId: cmd.user.userId,
      idempotencyKey: cmd.idempotencyKey ?? null,
      totalFee: priced.totalFee,
      body: priced.body,
      items: JSON.stringify(priced.items),
      signType: this.config.wechat.signType,
      // The session's app is the order's channel: the appid every WeChat call for it names.
      appid: cmd.user.appId,
      tradeType,
      attach: cmd.attach ?? null,
      goodsTag: options.goodsTag,
      limitPay: options.limitPay,
      receipt: options.receipt,
      detail: options.detail,
      expiresAt: new Date(Date.now() + this.config.payment.orderTtlSeconds * 1000),
    };
    // The first attempt carries the order's own number.
    const attemptFields = attemptFieldsOf(fields, fields.outTradeNo);
    let ids;
    try {
      ids = await new OrderRepository(this.app.model).insertWithFirstAttempt(fields, attemptFields);
    } catch (err) {
      // The same idempotency key raced us: answer with the order that won.
      if (err instanceof UniqueConstraintError && cmd.idempotencyKey) {
        const existing = await Order.findOne({ where: { userId: cmd.user.userId, idempotencyKey: cmd.idempotencyKey } });
        if (existing) return this.retried(existing, cmd, tradeType);
      }
      throw err;
    }
    countOrderCreated(this.app.metrics, tradeType);
    // The rows as written, as plain data: prepay needs no model instance for them (no read back
    // either). Every column spelled out: the same two objects built with spread syntax cost about
    // 10 KB of allocation each (BENCHMARKS.md, "Allocated per request").
    const { orderId, attemptId, createdAt } = ids;
    const order: OrderData = {
      id: orderId, outTradeNo: fields.outTradeNo, userId: fields.userId, idempotencyKey: fields.idempotencyKey, totalFee: fields.totalFee,
      body: fields.body, items: fields.items, status: 'NOTPAY', signType: fields.signType, appid: fields.appid, tradeType: fields.tradeType,
      attach: fields.attach, goodsTag: fields.goodsTag, limitPay: fields.limitPay, receipt: fields.receipt, detail: fields.detail,
      expiresAt: fields.expiresAt, currentAttemptId: attemptId, paidAttemptId: null, transactionId: null, paidAt: null, bankType: null,
      closedAt: null, refundRequired: false, refundedFee: 0, createdAt, updatedAt: createdAt,
    };
    const attempt: PaymentAttemptData = {
      id: attemptId, orderId, outTradeNo: attemptFields.outTradeNo, totalFee: attemptFields.totalFee, signType: attemptFields.signType,
      appid: attemptFields.appid, tradeType: attemptFields.tradeType, timeStart: attemptFields.timeStart, timeExpire: attemptFields.timeExpire,
      status: 'CREATED', prepayId: null, prepayExpiresAt: null, payUrl: null, transactionId: null, errCode: null, errCodeDes: null,
      cashFee: null, couponFee: null, couponCount: null, settlementTotalFee: null, coupons: null, createdAt, updatedAt: createdAt,
    };
    this.ctx.logger.info('[payment] order %s created: total_fee=%d user=%d', order.outTradeNo, order.totalFee, order.userId);
    return this.service.prepay.paymentParams(order, cmd.user.openid, cmd.clientIp, attempt);
  }

  /** A retried create with a key already used: the same order, if the request is the same. */
  private async retried(order: OrderRow, cmd: CreateOrderCommand, tradeType: TradeType): Promise<PaymentParams> {
    const priced = await this.service.catalog.price(cmd.items);
    if (priced.totalFee !== order.totalFee || JSON.stringify(priced.items) !== order.items || (cmd.attach ?? null) !== (order.attach ?? null) ||
        (cmd.receipt === true) !== !!order.receipt || tradeType !== order.tradeType) {
      throw new ConflictError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different order');
    }
    return this.service.prepay.paymentParams(order, cmd.user.openid, cmd.clientIp);
  }

  async pay(user: SessionUser, outTradeNo: string, clientIp: string): Promise<PaymentParams> {
    const order = await this.findOwned(user, outTradeNo);
    this.assertTradeTypeConfigured(order.tradeType);
    return this.service.prepay.paymentParams(order, user.openid, clientIp);
  }

  /** MWEB needs the H5 site and return page (production has none until both are set). */
  private assertTradeTypeConfigured(tradeType: string) {
    const web = this.config.wechat.web;
    if (tradeType === 'MWEB' && !(web.wapUrl && web.h5ReturnUrl)) {
      throw new NotFoundError('CHANNEL_NOT_CONFIGURED', 'H5 payment (MWEB) is not configured');
    }
  }

  async findOwned(user: SessionUser, outTradeNo: string) {
    const order = await this.app.model.Order.findOne({ where: { outTradeNo, userId: user.userId } });
    // Another user's order answers exactly like a missing one.
    if (!order) throw new NotFoundError('ORDER_NOT_FOUND', 'no such order');
    return order;
  }

  /**
   * A page of the user's own orders, newest first (created_at, then id, both descending: the
   * (user_id, created_at) index, whose entries end with the id), after `cursor` when given. Each
   * order in the view of GET /payment/orders/:outTradeNo, from the database as it is (listing asks
   * WeChat nothing). nextCursor: null on the last page.
   */
  async listOwned(user: SessionUser, page: { limit: number; cursor?: OrderCursor }): Promise<{ orders: OrderView[]; nextCursor: string | null }> {
    const { cursor, limit } = page;
    const after = cursor ? new Date(cursor.createdAtMs) : undefined;
    const rows = await this.app.model.Order.findAll({
      where: {
        userId: user.userId,
        ...(after ? { [Op.or]: [{ createdAt: { [Op.lt]: after } }, { createdAt: after, id: { [Op.lt]: cursor!.id } }] } : {}),
      },
      order: [[ 'createdAt', 'DESC' ], [ 'id', 'DESC' ]],
      limit: limit + 1,
    });
    const orders = rows.slice(0, limit);
    const last = orders[orders.length - 1];
    return {
      orders: orders.map(toOrderView),
      nextCursor: rows.length > limit ? encodeOrderCursor({ createdAtMs: last.createdAt.getTime(), id: last.id }) : null,
    };
  }

  /** The out_trade_no WeChat can be paid under now: the order's current attempt's (undefined for no such order). */
  async liveOutTradeNo(outTradeNo: string): Promise<string | undefined> {
    const order = await this.app.model.Order.findOne({ where: { outTradeNo } });
    if (!order?.currentAttemptId) return undefined;
    return (await this.app.model.PaymentAttempt.findByPk(order.currentAttemptId))?.outTradeNo;
  }

  /**
   * The owner's view of an order. An unpaid order whose prepay is old enough is checked with
   * WeChat first (the documented remedy for a notification that has not arrived), at most once
   * per statusQueryIntervalSeconds however often the client polls.
   */
  async status(user: SessionUser, outTradeNo: string): Promise<OrderView> {
    let order = await this.findOwned(user, outTradeNo);
    if (order.status === 'NOTPAY') {
      const attempt = await this.app.model.PaymentAttempt.findByPk(order.currentAttemptId!);
      const ageMs = attempt ? Date.now() - attempt.updatedAt.getTime() : 0;
      if (attempt && attempt.status === 'PREPAID' && ageMs >= this.config.payment.queryAfterSeconds * 1000 &&
          await this.claimStatusQuery(order.outTradeNo)) {
        try {
          await this.refreshFromWechat(order);
          order = await this.findOwned(user, outTradeNo);
        } catch (err) {
          this.ctx.logger.warn('[payment] order %s: order query failed, answering local status: %s', order.outTradeNo, (err as Error).message);
        }
      }
    }
    return toOrderView(order);
  }

  /**
   * Claims this window's order query of one order for status polling: SET NX PX in Redis, so
   * workers and hosts share it, and a client polling in a loop cannot use up the merchant's
   * orderquery allowance that the jobs need too. Redis not answering: no query (fail safe); the
   * notification and the overdue-order job still bring a payment in.
   */
  private async claimStatusQuery(outTradeNo: string): Promise<boolean> {
    const windowMs = this.config.payment.statusQueryIntervalSeconds * 1000;
    try {
      const reply = await withTimeout(this.app.redis.set(`orderquery:status:${outTradeNo}`, '1', 'PX', windowMs, 'NX'),
        this.config.session.commandTimeoutMs, 'redis');
      return reply === 'OK';
    } catch (err) {
      this.ctx.logger.warn('[payment] order %s: order query throttle unavailable, answering the local status without asking WeChat: %s',
        outTradeNo, (err as Error).message);
      return false;
    }
  }

  /** Asks WeChat about each attempt of the order that can still change and applies a payment found. */
  async refreshFromWechat(order: { id: number; outTradeNo: string }): Promise<void> {
    const attempts = await this.app.model.PaymentAttempt.findAll({
      where: { orderId: order.id, status: LIVE_ATTEMPT_STATUSES as AttemptStatus[] },
      order: [[ 'id', 'ASC' ]],
    });
    for (const attempt of attempts) {
      let reply: Record<string, string>;
      try {
        reply = await this.app.wechatPay.orderQuery({ out_trade_no: attempt.outTradeNo }, { signType: attempt.signType as SignType, appId: attempt.appid });
      } catch (err) {
        if (err instanceof WechatApiError && err.errCode === 'ORDERNOTEXIST') continue;
        throw err;
      }
      if (reply.trade_state !== 'SUCCESS' && reply.trade_state !== 'REFUND') continue;
      const outcome = await this.service.settlement.applyPaid(paidFactsOf(attempt.outTradeNo, reply));
      if (outcome.result === 'REJECTED') {
        this.ctx.logger.error('[payment] order %s: order query result refused: %s', order.outTradeNo, outcome.reason);
      }
    }
  }
}

export function toOrderView(order: OrderRow): OrderView {
  return {
    outTradeNo: order.outTradeNo,
    status: order.status,
    totalFee: order.totalFee,
    body: order.body,
    items: JSON.parse(order.items),
    createdAt: order.createdAt.toISOString(),
    expiresAt: order.expiresAt.toISOString(),
    paidAt: order.paidAt ? order.paidAt.toISOString() : null,
    transactionId: order.transactionId ?? null,
    refundedFee: order.refundedFee ?? 0,
    attach: order.attach ?? null,
  };
}
