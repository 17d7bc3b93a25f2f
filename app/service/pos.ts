import { createHash } from 'node:crypto';
import { Service } from 'egg';
import { UniqueConstraintError } from 'sequelize';
import {
  merchantNumber, SignType, WechatApiError, WechatError, WechatRequestNotSentError,
} from '../../lib/wechatpay';
import { AppError, ConflictError, NotFoundError, ServiceUnavailableError } from '../common/errors';
import { MICROPAY_PENDING_CODES, micropayFailure, isRetryableWechatCode, wechatFailureToAppError } from '../common/wechatErrors';
import { isPaidStatus } from '../domain/orderStatus';
import { paidFactsOf } from '../domain/settlementRules';
import type { OrderRow } from '../model/order';
import type { PaymentAttemptRow } from '../model/paymentAttempt';
import type { PosChargeRow, PosChargeStatus } from '../model/posCharge';
import { newAttemptFields } from './prepay';

/** scene_info.store_info, as WeChat names its fields. */
export interface StoreInfo {
  id: string;
  name?: string;
  area_code?: string;
  address?: string;
}

export interface ChargeCommand {
  /** The payer's payment code, as scanned (validated by the controller: 18 digits starting 10-15). */
  authCode: string;
  /** Fen, when the charge is an amount; otherwise `items` are priced from the catalogue. */
  amount?: number;
  items?: Array<{ productId: number; quantity: number }>;
  /** WeChat's body for an amount; default config.pos.defaultBody. */
  description?: string;
  storeInfo?: StoreInfo;
  idempotencyKey: string;
  operator: 'admin' | 'cashier';
  clientIp: string;
}

export interface ChargeView {
  outTradeNo: string;
  /** PROCESSING: WeChat's answer is still being awaited (or the reverse is not confirmed yet). */
  status: PosChargeStatus;
  totalFee: number;
  body: string;
  items: unknown;
  /** As given: { id, name?, areaCode?, address? }. */
  storeInfo: { id: string; name?: string; areaCode?: string; address?: string } | null;
  operator: string;
  payerOpenid: string | null;
  transactionId: string | null;
  paidAt: string | null;
  refundedFee: number;
  /** Why the charge failed or was reversed; null when paid or processing. */
  failure: { code: string; wechatCode: string | null; message: string } | null;
  createdAt: string;
}

/** Why a pending charge was reversed, by what was last known. */
const REVERSED_BECAUSE = {
  USERPAYING: { code: 'PAYER_TIMED_OUT', message: 'the payer did not enter the password in time: the payment was cancelled (reversed)' },
  UNKNOWN: { code: 'RESULT_UNKNOWN', message: 'WeChat did not confirm the payment in time: it was cancelled (reversed)' },
};

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/**
 * Payment-code charges at the counter (docs/pos.md): micropay, then order queries while the payer
 * enters the password or WeChat's answer is unclear, then reverse. A payment is applied through the
 * settlement service like every other, so it is applied once however it is learned.
 */
export default class PosService extends Service {
  /** Charges once per idempotency key; the same key again answers the same charge (`replayed`). */
  async charge(cmd: ChargeCommand): Promise<{ view: ChargeView; replayed: boolean }> {
    const { Order, PaymentAttempt, PosCharge } = this.app.model;
    const fingerprint = fingerprintOf(cmd);
    const existing = await PosCharge.findOne({ where: { idempotencyKey: cmd.idempotencyKey } });
    if (existing) return { view: await this.replayed(existing, fingerprint), replayed: true };

    const priced = cmd.items
      ? await this.service.catalog.price(cmd.items)
      : { totalFee: cmd.amount!, body: cmd.description ?? this.config.pos.defaultBody, items: [] };
    let created: { order: OrderRow; attempt: PaymentAttemptRow; charge: PosChargeRow };
    try {
      created = await this.app.model.transaction(async transaction => {
        const order = await Order.create({
          outTradeNo: merchantNumber('M'),
          userId: null,
          idempotencyKey: null,
          totalFee: priced.totalFee,
          body: priced.body,
          items: JSON.stringify(priced.items),
          signType: this.config.wechat.signType,
          appid: this.config.pos.appId,
          tradeType: 'MICROPAY',
          attach: null,
          expiresAt: new Date(Date.now() + this.config.pos.orderTtlSeconds * 1000),
        }, { transaction });
        const attempt = await PaymentAttempt.create(newAttemptFields(order, order.outTradeNo), { transaction });
        order.currentAttemptId = attempt.id;
        await order.save({ transaction });
        const charge = await PosCharge.create({
          orderId: order.id, idempotencyKey: cmd.idempotencyKey, fingerprint, operator: cmd.operator,
          storeInfo: cmd.storeInfo ? JSON.stringify(cmd.storeInfo) : null,
        }, { transaction });
        return { order, attempt, charge };
      });
    } catch (err) {
      // The same key raced us: the other request charges, this one answers its charge.
      if (err instanceof UniqueConstraintError) {
        const winner = await PosCharge.findOne({ where: { idempotencyKey: cmd.idempotencyKey } });
        if (winner) return { view: await this.replayed(winner, fingerprint), replayed: true };
      }
      throw err;
    }
    this.ctx.logger.info('[pos] charge %s: total_fee=%d operator=%s', created.order.outTradeNo, created.order.totalFee, cmd.operator);
    await this.run(created.order, created.attempt, created.charge, cmd);
    return { view: await this.view(created.charge), replayed: false };
  }

  /** A charge by its order's out_trade_no. */
  async find(outTradeNo: string): Promise<ChargeView> {
    const order = await this.app.model.Order.findOne({ where: { outTradeNo, tradeType: 'MICROPAY' } });
    const charge = order && await this.app.model.PosCharge.findOne({ where: { orderId: order.id } });
    if (!order || !charge) throw new NotFoundError('CHARGE_NOT_FOUND', 'no such charge');
    return toChargeView(order, charge);
  }

  /**
   * Makes a payment-code number unpayable at WeChat, for the close path (orderClose): asks first, and
   * a payment found is settled (ORDER_ALREADY_PAID); otherwise reverses, again while WeChat answers
   * recall=Y or gives no answer, at most pos.reverseMaxCalls times. Reverse refunds a payment that
   * completed meanwhile, so the number never ends paid behind a closed order.
   */
  async cancelAtWechat(order: OrderRow, attempt: { outTradeNo: string; signType: string; appid: string }): Promise<void> {
    const options = { signType: attempt.signType as SignType, appId: attempt.appid };
    const wechat = this.app.wechatPay;
    try {
      const reply = await wechat.orderQuery({ out_trade_no: attempt.outTradeNo }, options);
      if (reply.trade_state === 'SUCCESS' || reply.trade_state === 'REFUND') {
        await this.service.order.refreshFromWechat(order);
        throw new ConflictError('ORDER_ALREADY_PAID', 'this order is already paid');
      }
      if (reply.trade_state === 'REVOKED' || reply.trade_state === 'CLOSED') return;
    } catch (err) {
      if (err instanceof AppError) throw err;
      // Unclear (no answer, or the number unknown so far): the reverse below settles it either way.
    }
    const { reverseMaxCalls, reverseIntervalMs } = this.config.pos;
    let last: unknown;
    for (let call = 1; call <= reverseMaxCalls; call++) {
      if (call > 1) await sleep(reverseIntervalMs);
      try {
        const reply = await wechat.reverse({ out_trade_no: attempt.outTradeNo }, options);
        if (reply.recall !== 'Y') {
          this.ctx.logger.info('[pos] order %s: %s reversed after %d call(s)', order.outTradeNo, attempt.outTradeNo, call);
          return;
        }
        last = new Error('recall=Y');
      } catch (err) {
        last = err;
        if (err instanceof WechatApiError) {
          // Never at WeChat: nothing can be paid under it.
          if (err.errCode === 'ORDERNOTEXIST') return;
          if (err.reply.recall !== 'Y' && !(err.kind === 'result' && isRetryableWechatCode(err.errCode))) throw wechatFailureToAppError(err, 'to reverse the payment');
        } else if (err instanceof WechatRequestNotSentError) {
          throw wechatFailureToAppError(err, 'to reverse the payment');
        } else if (!(err instanceof WechatError)) {
          throw err;
        }
      }
    }
    this.ctx.logger.warn('[pos] order %s: reverse of %s not confirmed after %d calls: %s', order.outTradeNo, attempt.outTradeNo, reverseMaxCalls,
      last instanceof Error ? last.message : String(last));
    throw new ServiceUnavailableError('WECHAT_REVERSE_PENDING', 'WeChat did not confirm the reverse yet; the expiry job tries again');
  }

  private async replayed(charge: PosChargeRow, fingerprint: string): Promise<ChargeView> {
    if (charge.fingerprint !== fingerprint) throw new ConflictError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different charge');
    return this.view(charge);
  }

  private async view(charge: PosChargeRow): Promise<ChargeView> {
    await charge.reload();
    const order = await this.app.model.Order.findByPk(charge.orderId);
    if (!order) throw new Error(`charge ${charge.id} has no order`);
    return toChargeView(order, charge);
  }

  /** micropay, then whatever its answer calls for. Leaves the charge PAID, FAILED, REVERSED, or PROCESSING when WeChat could not confirm the reverse. */
  private async run(order: OrderRow, attempt: PaymentAttemptRow, charge: PosChargeRow, cmd: ChargeCommand): Promise<void> {
    const options = { signType: attempt.signType as SignType, appId: attempt.appid };
    const startedAt = Date.now();
    let lastKnown: 'USERPAYING' | 'UNKNOWN' = 'UNKNOWN';
    try {
      const reply = await this.app.wechatPay.micropay({
        body: order.body,
        out_trade_no: attempt.outTradeNo,
        total_fee: attempt.totalFee,
        spbill_create_ip: cmd.clientIp,
        auth_code: cmd.authCode,
        scene_info: cmd.storeInfo ? JSON.stringify({ store_info: cmd.storeInfo }) : undefined,
      }, options);
      if (await this.settle(order, attempt, charge, reply)) return;
    } catch (err) {
      if (err instanceof WechatApiError && err.kind === 'result' && MICROPAY_PENDING_CODES.includes(err.errCode)) {
        if (err.errCode === 'USERPAYING') lastKnown = 'USERPAYING';
        this.ctx.logger.info('[pos] order %s: micropay answered %s, querying', order.outTradeNo, err.errCode);
      } else if (err instanceof WechatApiError || err instanceof WechatRequestNotSentError) {
        // Refused for good (or never sent): nothing was paid, and this number never will be.
        const failure = err instanceof WechatApiError
          ? micropayFailure(err.errCode, err.errCodeDes || err.reply.return_msg || '')
          : { code: 'REQUEST_NOT_SENT', wechatCode: null, message: err.message };
        return this.fail(order, attempt, charge, failure);
      } else if (err instanceof WechatError) {
        // No answer, or one we cannot trust: the payment may have happened. Query.
        this.ctx.logger.warn('[pos] order %s: micropay gave no usable answer (%s), querying', order.outTradeNo, err.message);
      } else {
        throw err;
      }
    }

    const { queryIntervalMs, queryLimitMs } = this.config.pos;
    // At least one query, however long micropay itself took: only a query can say "failed" rather than "unknown".
    for (let polls = 0; polls === 0 || Date.now() + queryIntervalMs - startedAt <= queryLimitMs; polls++) {
      await sleep(queryIntervalMs);
      let reply: Record<string, string>;
      try {
        reply = await this.app.wechatPay.orderQuery({ out_trade_no: attempt.outTradeNo }, options);
      } catch (err) {
        if (!(err instanceof WechatError)) throw err;
        this.ctx.logger.warn('[pos] order %s: order query failed: %s', order.outTradeNo, err.message);
        continue;
      }
      const state = reply.trade_state;
      if (state === 'SUCCESS' || state === 'REFUND') {
        if (await this.settle(order, attempt, charge, reply)) return;
        break;
      }
      if (state === 'PAYERROR' || state === 'CLOSED' || state === 'REVOKED') {
        return this.fail(order, attempt, charge, micropayFailure(state, reply.trade_state_desc ?? ''));
      }
      lastKnown = state === 'USERPAYING' ? 'USERPAYING' : lastKnown;
    }

    // Out of time: cancel it at WeChat through the one close path (query once more, then reverse).
    try {
      await this.service.orderClose.close(order, 'pos');
      await charge.update({ status: 'REVERSED', failureCode: REVERSED_BECAUSE[lastKnown].code, failureMessage: REVERSED_BECAUSE[lastKnown].message });
    } catch (err) {
      if (err instanceof AppError && err.code === 'ORDER_ALREADY_PAID') {
        // Paid at the last moment: the close path settled it.
        await charge.update({ status: 'PAID' });
        return;
      }
      // Left PROCESSING: the order stays NOTPAY, and the expiry job reverses it (docs/pos.md).
      this.ctx.logger.error('[pos] order %s: could not reverse: %s', order.outTradeNo, (err as Error).message);
    }
  }

  /** Applies a paid reply (micropay's or a query's) through the settlement service; false when settlement refused it. */
  private async settle(order: OrderRow, attempt: PaymentAttemptRow, charge: PosChargeRow, reply: Record<string, string>): Promise<boolean> {
    // Our number, whatever the reply echoes: the reply's amount and transaction are checked against it.
    const outcome = await this.service.settlement.applyPaid(paidFactsOf(attempt.outTradeNo, reply));
    if (outcome.result === 'APPLIED' || outcome.result === 'DUPLICATE') {
      await charge.update({ status: 'PAID', payerOpenid: reply.openid?.slice(0, 128) ?? null });
      return true;
    }
    this.ctx.logger.error('[pos] order %s: WeChat reports a payment that settlement refused: %s', order.outTradeNo,
      outcome.result === 'REJECTED' ? outcome.reason : outcome.result);
    return false;
  }

  /** A final refusal: the order is closed here (nothing to close at WeChat: the number failed there), the charge FAILED with why. */
  private async fail(order: OrderRow, attempt: PaymentAttemptRow, charge: PosChargeRow,
    failure: { code: string; wechatCode: string | null; message: string }): Promise<void> {
    const { Order, PaymentAttempt, OrderEvent } = this.app.model;
    await this.app.model.transaction(async transaction => {
      // The order row first, then its attempt (docs/decisions/0002-lock-order.md).
      const locked = await Order.findByPk(order.id, { lock: transaction.LOCK.UPDATE, transaction });
      if (!locked || locked.status !== 'NOTPAY') return;
      await Order.update({ status: 'CLOSED', closedAt: new Date() }, { where: { id: order.id }, transaction });
      await PaymentAttempt.update({ status: 'FAILED', errCode: (failure.wechatCode ?? failure.code).slice(0, 32), errCodeDes: failure.message.slice(0, 255) },
        { where: { id: attempt.id }, transaction });
      await OrderEvent.create({ orderId: order.id, type: 'CLOSED', source: 'pos', detail: JSON.stringify({ failed: failure.wechatCode ?? failure.code }) }, { transaction });
      await charge.update({
        status: 'FAILED', failureCode: failure.code, wechatCode: failure.wechatCode?.slice(0, 32) ?? null, failureMessage: failure.message.slice(0, 255),
      }, { transaction });
    });
    this.ctx.logger.info('[pos] order %s: charge failed: %s', order.outTradeNo, failure.wechatCode ?? failure.code);
  }
}

/** What makes two charge requests the same: a retry must carry the same code, amount, items and store. */
function fingerprintOf(cmd: ChargeCommand): string {
  const canonical = JSON.stringify([ cmd.authCode, cmd.amount ?? null, cmd.items ?? null, cmd.description ?? null, cmd.storeInfo ?? null ]);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/**
 * The charge as the cashier sees it. The order decides where it can: a charge whose reverse was
 * finished by the expiry job, or whose payment was learned by another path, reads as such.
 */
export function toChargeView(order: OrderRow, charge: PosChargeRow): ChargeView {
  let status: PosChargeStatus = 'PROCESSING';
  if (isPaidStatus(order.status)) status = 'PAID';
  else if (order.status === 'CLOSED') status = charge.status === 'FAILED' ? 'FAILED' : 'REVERSED';
  const failure = status === 'FAILED' || status === 'REVERSED'
    ? { code: charge.failureCode ?? 'REVERSED', wechatCode: charge.wechatCode ?? null, message: charge.failureMessage ?? 'the payment was cancelled (reversed)' }
    : null;
  return {
    outTradeNo: order.outTradeNo,
    status,
    totalFee: order.totalFee,
    body: order.body,
    items: JSON.parse(order.items),
    storeInfo: charge.storeInfo ? storeInfoView(JSON.parse(charge.storeInfo)) : null,
    operator: charge.operator,
    payerOpenid: charge.payerOpenid ?? null,
    transactionId: order.transactionId ?? null,
    paidAt: order.paidAt ? order.paidAt.toISOString() : null,
    refundedFee: order.refundedFee ?? 0,
    failure,
    createdAt: order.createdAt.toISOString(),
  };
}

function storeInfoView(stored: StoreInfo): ChargeView['storeInfo'] {
  const { area_code: areaCode, ...rest } = stored;
  return areaCode ? { ...rest, areaCode } : rest;
}
