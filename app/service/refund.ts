import { Service } from 'egg';
import { Op, Transaction, UniqueConstraintError } from 'sequelize';
import { merchantNumber, SignType, WechatApiError, WechatError, WechatRequestNotSentError, WechatTransportError } from '../../lib/wechatpay';
import {
  ConflictError, NotFoundError, RequestNotSentError, ServiceUnavailableError, UpstreamRejectedError, ValidationError,
} from '../common/errors';
import { isRetryableWechatCode } from '../common/wechatErrors';
import { isPaidStatus } from '../domain/orderStatus';
import { refundFactsFrom, reservedFee } from '../domain/refundRules';
import type { OrderRow } from '../model/order';
import type { RefundRow } from '../model/refund';
import { recordOrderEvent } from '../repository/outboxRepository';
import { JobRun } from './jobLock';

/** WeChat's limit on refunds of one payment. */
export const MAX_REFUNDS_PER_PAYMENT = 50;

/** err_code of a refund FAILED because its request could not be built or signed (WechatRequestNotSentError). */
export const NOT_SENT_ERR_CODE = 'NOT_SENT';

export interface RefundCommand {
  /** The order's out_trade_no. */
  outTradeNo: string;
  amount: number;
  reason: string;
  idempotencyKey?: string;
  /** Which payment to refund, for an order paid more than once; default: the order's payment. */
  transactionId?: string;
}

export interface RefundView {
  outRefundNo: string;
  refundId: string | null;
  /** The order's number. */
  outTradeNo: string;
  /** The refunded payment: its out_trade_no at WeChat (the order's, unless the order needed several attempts) and transaction_id. */
  paymentOutTradeNo: string;
  transactionId: string;
  amount: number;
  reason: string;
  status: string;
  errCode: string | null;
  errCodeDes: string | null;
  successAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface RefundPaymentView {
  outTradeNo: string;
  transactionId: string;
  totalFee: number;
  /** Refunds that are PROCESSING, SUCCESS or CHANGE hold their amount. */
  reservedFee: number;
  refundableFee: number;
  /** true for money received on top of the order's own payment (refund_required). */
  extra: boolean;
  /** What the payment was made of, as WeChat reported it (null: not reported): the payer's cash, coupons, what WeChat settles. */
  cashFee: number | null;
  couponFee: number | null;
  settlementTotalFee: number | null;
  coupons: PaidCoupon[];
}

export interface PaidCoupon {
  id: string;
  /** CASH or NO_CASH as WeChat named it; empty when it did not. */
  type: string;
  fee: number;
}

export interface OrderRefundsView {
  outTradeNo: string;
  status: string;
  totalFee: number;
  refundedFee: number;
  refundRequired: boolean;
  payments: RefundPaymentView[];
  refunds: RefundView[];
}

/** What became of a refund request: replayed (same idempotency key), and whether WeChat's answer is still pending. */
export interface RefundRequestOutcome {
  refund: RefundView;
  replayed: boolean;
  /** true: WeChat was busy or did not answer; the refund stays PROCESSING and is sent again (same out_refund_no). */
  pending: boolean;
}

type SendOutcome = 'ACCEPTED' | 'PENDING' | 'FAILED';

export interface QueryOverdueRefundsResult {
  queried: number;
  /** Refunds that got a final status through the query. */
  finished: number;
  /** Refunds WeChat had never received, sent again with their out_refund_no. */
  resent: number;
  failed: number;
}

/**
 * Refunds asked by an admin: the amount is reserved under the order's row lock, the refund row
 * is written PROCESSING before WeChat is called, and a call whose outcome is unknown is repeated
 * with the same out_refund_no. Final statuses come through RefundSettlementService only.
 */
export default class RefundService extends Service {
  async request(cmd: RefundCommand): Promise<RefundRequestOutcome> {
    const { Order, Refund } = this.app.model;
    if (!this.app.wechatPay.config.tls) {
      throw new ServiceUnavailableError('REFUNDS_NOT_CONFIGURED', 'refunds need the merchant client certificate, which is not configured');
    }
    const order = await Order.findOne({ where: { outTradeNo: cmd.outTradeNo } });
    if (!order) throw new NotFoundError('ORDER_NOT_FOUND', 'no such order');
    if (cmd.idempotencyKey) {
      const existing = await Refund.findOne({ where: { orderId: order.id, idempotencyKey: cmd.idempotencyKey } });
      if (existing) return this.replay(existing, order, cmd);
    }
    let reserved: { refund: RefundRow; replayed: boolean };
    try {
      reserved = await this.reserve(order.id, cmd);
    } catch (err) {
      // Belt and braces: the order lock serialises same-key requests, the unique key guards the rest.
      if (err instanceof UniqueConstraintError && cmd.idempotencyKey) {
        const existing = await Refund.findOne({ where: { orderId: order.id, idempotencyKey: cmd.idempotencyKey } });
        if (existing) return this.replay(existing, order, cmd);
      }
      throw err;
    }
    if (reserved.replayed) return this.replay(reserved.refund, order, cmd);
    return this.answer(await this.send(reserved.refund), order, false);
  }

  /** The order's refunds, newest last, and what each of its payments can still give back. */
  async list(outTradeNo: string): Promise<OrderRefundsView> {
    const { Order, Refund, PaymentAttempt } = this.app.model;
    const order = await Order.findOne({ where: { outTradeNo } });
    if (!order) throw new NotFoundError('ORDER_NOT_FOUND', 'no such order');
    const [ refunds, paid ] = await Promise.all([
      Refund.findAll({ where: { orderId: order.id }, order: [[ 'id', 'ASC' ]] }),
      PaymentAttempt.findAll({ where: { orderId: order.id, status: 'PAID' }, order: [[ 'id', 'ASC' ]] }),
    ]);
    const payments = paid.filter(a => a.transactionId).map(a => {
      const reserved = reservedFee(refunds.filter(r => r.attemptId === a.id));
      return {
        outTradeNo: a.outTradeNo, transactionId: a.transactionId!, totalFee: a.totalFee, reservedFee: reserved,
        refundableFee: Math.max(0, a.totalFee - reserved), extra: a.id !== order.paidAttemptId,
        cashFee: a.cashFee ?? null, couponFee: a.couponFee ?? null, settlementTotalFee: a.settlementTotalFee ?? null, coupons: paidCoupons(a.coupons ?? null),
      };
    });
    return {
      outTradeNo: order.outTradeNo, status: order.status, totalFee: order.totalFee, refundedFee: order.refundedFee,
      refundRequired: order.refundRequired, payments, refunds: refunds.map(r => toRefundView(r, order)),
    };
  }

  /**
   * PROCESSING refunds not looked at for refundQueryAfterSeconds: their notification is overdue,
   * or WeChat never answered the request. WeChat is asked (refundquery); a final result goes
   * through RefundSettlementService like a notification; a refund WeChat never received is sent
   * again with its out_refund_no. Once per tick cluster-wide, under the job lock.
   */
  queryOverdueRefunds(): Promise<JobRun<QueryOverdueRefundsResult>> {
    return this.service.jobLock.runExclusive('queryOverdueRefunds', async deadline => {
      const { Refund } = this.app.model;
      const { batchSize, refundQueryAfterSeconds } = this.config.payment.jobs;
      const cutoff = new Date(Date.now() - refundQueryAfterSeconds * 1000);
      const result: QueryOverdueRefundsResult = { queried: 0, finished: 0, resent: 0, failed: 0 };
      // Each refund looked at has its updated_at moved to now, past the cutoff, so the scan never
      // meets it twice in a run and a backlog is walked oldest first, tick after tick.
      while (Date.now() < deadline) {
        const page = await Refund.findAll({
          where: { status: 'PROCESSING', updatedAt: { [Op.lte]: cutoff } },
          order: [[ 'updatedAt', 'ASC' ], [ 'id', 'ASC' ]],
          limit: batchSize,
        });
        for (const refund of page) {
          if (Date.now() >= deadline) break;
          result.queried++;
          try {
            const outcome = await this.refreshFromWechat(refund);
            if (outcome === 'FINISHED') result.finished++;
            if (outcome === 'RESENT') result.resent++;
          } catch (err) {
            result.failed++;
            this.ctx.logger.warn('[job] queryOverdueRefunds: refund %s not queried: %s', refund.outRefundNo, (err as Error).message);
          }
          await this.touch(refund.id);
        }
        if (page.length < batchSize) break;
      }
      if (result.queried) {
        this.ctx.logger.info('[job] queryOverdueRefunds: queried=%d finished=%d resent=%d failed=%d',
          result.queried, result.finished, result.resent, result.failed);
      }
      return result;
    });
  }

  /**
   * Asks WeChat about one PROCESSING refund and applies what it says: a final status through the
   * settlement path; REFUNDNOTEXIST for a refund WeChat never accepted: sent again, same number.
   */
  async refreshFromWechat(refund: RefundRow): Promise<'FINISHED' | 'PROCESSING' | 'RESENT' | 'REFUSED'> {
    let reply: Record<string, string>;
    try {
      const attempt = await this.app.model.PaymentAttempt.findByPk(refund.attemptId);
      reply = await this.app.wechatPay.refundQuery({ out_refund_no: refund.outRefundNo }, { signType: attempt?.signType as SignType | undefined, appId: attempt?.appid });
    } catch (err) {
      if (err instanceof WechatApiError && err.errCode === 'REFUNDNOTEXIST') {
        if (refund.refundId) throw new Error(`WeChat says refund ${refund.outRefundNo} (refund_id ${refund.refundId}) does not exist`);
        // WeChat has no such refund, so a refusal of this send is final even after unanswered tries.
        const { outcome } = await this.send(refund, true);
        return outcome === 'ACCEPTED' ? 'RESENT' : outcome === 'FAILED' ? 'REFUSED' : 'PROCESSING';
      }
      throw err;
    }
    const n = Object.keys(reply).find(k => /^out_refund_no_\d+$/.test(k) && reply[k] === refund.outRefundNo)?.slice('out_refund_no_'.length);
    if (n === undefined) throw new Error(`refund query for ${refund.outRefundNo} answered other refunds`);
    const status = reply[`refund_status_${n}`];
    const refundId = reply[`refund_id_${n}`];
    if (status === 'PROCESSING') {
      if (!refund.refundId && refundId) await this.updateUnderOrderLock(refund, { refundId }, { refundId: null });
      return 'PROCESSING';
    }
    const facts = refundFactsFrom({
      outRefundNo: refund.outRefundNo, outTradeNo: reply.out_trade_no, transactionId: reply.transaction_id, refundId,
      refundFee: reply[`refund_fee_${n}`], totalFee: reply.total_fee, status, successTime: reply[`refund_success_time_${n}`],
    });
    if ('refused' in facts) throw new Error(`refund query for ${refund.outRefundNo} refused: ${facts.refused}`);
    const outcome = await this.service.refundSettlement.applyResult(facts, 'query');
    if (outcome.result === 'REJECTED') throw new Error(`refund query result refused: ${outcome.reason}`);
    return 'FINISHED';
  }

  /** Under the order's row lock: checks what the payment can still give back, then writes the refund PROCESSING. */
  private reserve(orderId: number, cmd: RefundCommand): Promise<{ refund: RefundRow; replayed: boolean }> {
    const { Order, Refund } = this.app.model;
    return this.app.model.transaction(async transaction => {
      const order = await Order.findByPk(orderId, { lock: transaction.LOCK.UPDATE, transaction });
      if (!order) throw new NotFoundError('ORDER_NOT_FOUND', 'no such order');
      if (cmd.idempotencyKey) {
        // A concurrent request with the same key may have committed while we waited for the lock.
        const existing = await Refund.findOne({ where: { orderId, idempotencyKey: cmd.idempotencyKey }, transaction });
        if (existing) return { refund: existing, replayed: true };
      }
      const attempt = await this.refundablePayment(order, cmd.transactionId, transaction);
      const held = await Refund.findAll({ where: { attemptId: attempt.id, status: { [Op.ne]: 'FAILED' } }, transaction });
      if (held.length >= MAX_REFUNDS_PER_PAYMENT) {
        throw new ConflictError('REFUND_LIMIT_REACHED', `WeChat allows at most ${MAX_REFUNDS_PER_PAYMENT} refunds of one payment`);
      }
      const reserved = reservedFee(held);
      const left = attempt.totalFee - reserved;
      if (cmd.amount > left) {
        throw new ConflictError('REFUND_EXCEEDS_PAID', `at most ${left} fen of this payment can still be refunded (paid ${attempt.totalFee}, refunded or in progress ${reserved})`);
      }
      const refund = await Refund.create({
        orderId, attemptId: attempt.id, outTradeNo: attempt.outTradeNo, transactionId: attempt.transactionId!,
        outRefundNo: merchantNumber('R'), amount: cmd.amount, reason: cmd.reason, idempotencyKey: cmd.idempotencyKey ?? null,
      }, { transaction });
      await recordOrderEvent(this.app.model, {
        orderId, type: 'REFUND_REQUESTED', source: 'admin',
        detail: JSON.stringify({ outRefundNo: refund.outRefundNo, amount: cmd.amount, outTradeNo: attempt.outTradeNo }),
      }, transaction);
      transaction.afterCommit(() => {
        this.app.metrics.refunds.inc({ status: 'PROCESSING' });
        this.app.logger.info('[refund] refund %s of order %s requested: amount=%d of %d (payment %s)',
          refund.outRefundNo, order.outTradeNo, cmd.amount, attempt.totalFee, attempt.outTradeNo);
      });
      return { refund, replayed: false };
    });
  }

  /**
   * The paid attempt to refund: the one named by transactionId, else the order's own payment, else
   * (an order closed and then paid) its single paid attempt. Unpaid orders cannot be refunded.
   */
  private async refundablePayment(order: OrderRow, transactionId: string | undefined, transaction: Transaction) {
    const paid = (await this.app.model.PaymentAttempt.findAll({ where: { orderId: order.id, status: 'PAID' }, transaction }))
      .filter(a => a.transactionId);
    if (transactionId) {
      const named = paid.find(a => a.transactionId === transactionId);
      if (!named) throw new ValidationError('transactionId', 'transactionId is not a payment of this order');
      if (named.id !== order.paidAttemptId && !order.refundRequired) {
        throw new ConflictError('ORDER_NOT_REFUNDABLE', 'this payment is not refundable');
      }
      if (named.id === order.paidAttemptId && !isPaidStatus(order.status)) {
        throw new ConflictError('ORDER_NOT_REFUNDABLE', `an order in status ${order.status} cannot be refunded`);
      }
      return named;
    }
    if (isPaidStatus(order.status)) {
      const own = paid.find(a => a.id === order.paidAttemptId);
      if (own) return own;
    }
    if (order.refundRequired && paid.length === 1) return paid[0];
    if (order.refundRequired && paid.length > 1) {
      throw new ValidationError('transactionId', 'this order was paid more than once: name the payment to refund with transactionId');
    }
    throw new ConflictError('ORDER_NOT_REFUNDABLE', `an order in status ${order.status} cannot be refunded: only paid orders can`);
  }

  /** A retried request with an idempotency key: the same refund, if it is the same request. */
  private async replay(refund: RefundRow, order: OrderRow, cmd: RefundCommand): Promise<RefundRequestOutcome> {
    if (refund.amount !== cmd.amount || refund.reason !== cmd.reason || (cmd.transactionId && cmd.transactionId !== refund.transactionId)) {
      throw new ConflictError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different refund');
    }
    // Still not accepted by WeChat (busy, timeout): this retry sends it again, same out_refund_no.
    if (refund.status === 'PROCESSING' && !refund.refundId) return this.answer(await this.send(refund), order, true);
    return this.answer({ outcome: refund.status === 'FAILED' ? 'FAILED' : 'ACCEPTED', refund }, order, true);
  }

  /**
   * Sends the refund to WeChat (/secapi/pay/refund, mutual TLS). Accepted: WeChat's refund_id is
   * recorded, the status stays PROCESSING until the notification or a query. Refused for good:
   * FAILED, which gives the amount back. Busy or no answer: PROCESSING, to be sent again with the
   * same out_refund_no. A request that fails before it is sent (it cannot be built or signed, no
   * certificate) fails the same way again on every retry: FAILED too, never retried forever. A
   * refusal or failure after an earlier unanswered try is left to a refund query (the overdue
   * job), since that earlier try may have gone through; knownAbsent: the query said WeChat has no
   * such refund, so a refusal is final.
   */
  private async send(refund: RefundRow, knownAbsent = false): Promise<{ outcome: SendOutcome; refund: RefundRow }> {
    const { PaymentAttempt } = this.app.model;
    const attempt = await PaymentAttempt.findByPk(refund.attemptId);
    if (!attempt) throw new Error(`refund ${refund.outRefundNo} has no payment attempt`);
    const uncertainBefore = !knownAbsent && !refund.refundId && Boolean(refund.errCode);
    let reply: Record<string, string>;
    try {
      reply = await this.app.wechatPay.refund({
        out_trade_no: refund.outTradeNo,
        out_refund_no: refund.outRefundNo,
        total_fee: attempt.totalFee,
        refund_fee: refund.amount,
        refund_desc: refund.reason,
        notify_url: this.config.wechat.refundNotifyUrl,
      }, { signType: attempt.signType as SignType, appId: attempt.appid });
    } catch (err) {
      if (!(err instanceof WechatError)) throw err;
      const notSent = err instanceof WechatRequestNotSentError;
      const definitive = notSent || (err instanceof WechatApiError && !isRetryableWechatCode(err.errCode));
      const errCode = (notSent ? NOT_SENT_ERR_CODE : err instanceof WechatApiError ? err.errCode :
        err instanceof WechatTransportError ? err.reason.toUpperCase() : 'BAD_REPLY').slice(0, 32);
      const errCodeDes = (err instanceof WechatApiError ? err.errCodeDes : err.message).slice(0, 255);
      if (definitive && !uncertainBefore) {
        const changed = await this.markFailed(refund, errCode, errCodeDes);
        if (notSent) this.ctx.logger.error('[refund] refund %s could not be sent, marked FAILED: %s', refund.outRefundNo, errCodeDes);
        else this.ctx.logger.warn('[refund] refund %s refused by WeChat: %s %s', refund.outRefundNo, errCode, errCodeDes);
        if (changed) {
          this.app.metrics.refunds.inc({ status: 'FAILED' });
          return { outcome: 'FAILED', refund: await this.reloaded(refund) };
        }
      } else {
        await this.updateUnderOrderLock(refund, { errCode, errCodeDes }, { status: 'PROCESSING', refundId: null });
        this.ctx.logger.warn('[refund] refund %s: no answer from WeChat yet (%s), kept PROCESSING to send again with the same out_refund_no%s',
          refund.outRefundNo, errCode, definitive ? `; ${notSent ? 'not sent' : 'refused'} after an unanswered try: a refund query decides` : '');
      }
      return { outcome: 'PENDING', refund: await this.reloaded(refund) };
    }
    if (reply.out_refund_no !== refund.outRefundNo || (reply.refund_fee !== undefined && Number(reply.refund_fee) !== refund.amount)) {
      this.ctx.logger.error('[refund] refund %s: WeChat accepted it with different details (out_refund_no %s, refund_fee %s)',
        refund.outRefundNo, reply.out_refund_no, reply.refund_fee);
    }
    // The notification may have finished the refund already (it can arrive before this reply is read).
    await this.updateUnderOrderLock(refund, { refundId: reply.refund_id || null, errCode: null, errCodeDes: null }, { refundId: null });
    this.ctx.logger.info('[refund] refund %s accepted by WeChat: refund_id=%s', refund.outRefundNo, reply.refund_id);
    return { outcome: 'ACCEPTED', refund: await this.reloaded(refund) };
  }

  /**
   * A refund refused for good: FAILED, with its refund.failed event, in one transaction under the
   * order's row lock (the lock order of every path). false: it was no longer PROCESSING unsent.
   */
  private markFailed(refund: RefundRow, errCode: string, errCodeDes: string): Promise<boolean> {
    return this.updateUnderOrderLock(refund, { status: 'FAILED', errCode, errCodeDes }, { status: 'PROCESSING', refundId: null },
      transaction => recordOrderEvent(this.app.model, {
        orderId: refund.orderId, type: 'REFUND_FAILED', source: 'wechat',
        detail: JSON.stringify({ outRefundNo: refund.outRefundNo, amount: refund.amount, outTradeNo: refund.outTradeNo, errCode }),
      }, transaction));
  }

  /**
   * Updates a refund's row under its order's row lock, in a transaction: the lock order of every
   * path (decision 0002). The row is read by primary key under the lock and `expected` checked
   * there; the UPDATE then names only the primary key, and `andThen` runs in the same transaction.
   * Answers whether the row was as expected (and so updated). A bare UPDATE ... WHERE id = ? AND
   * refund_id IS NULL was read through the refund_id index (MariaDB's choice), locking index
   * entries before the row, the reverse of the refund notification's settlement: the two deadlocked.
   */
  private updateUnderOrderLock(refund: RefundRow, changes: Partial<Pick<RefundRow, 'status' | 'refundId' | 'errCode' | 'errCodeDes'>>,
    expected: Partial<Pick<RefundRow, 'status' | 'refundId'>>, andThen?: (transaction: Transaction) => Promise<void>): Promise<boolean> {
    const { Order, Refund } = this.app.model;
    return this.app.model.transaction(async transaction => {
      await Order.findByPk(refund.orderId, { attributes: [ 'id' ], lock: transaction.LOCK.UPDATE, transaction });
      const row = await Refund.findByPk(refund.id, { lock: transaction.LOCK.UPDATE, transaction });
      if (!row || Object.entries(expected).some(([ column, value ]) => row.get(column) !== value)) return false;
      await Refund.update(changes, { where: { id: refund.id }, transaction });
      if (andThen) await andThen(transaction);
      return true;
    });
  }

  private async reloaded(refund: RefundRow): Promise<RefundRow> {
    return (await this.app.model.Refund.findByPk(refund.id))!;
  }

  private answer({ outcome, refund }: { outcome: SendOutcome; refund: RefundRow }, order: OrderRow, replayed: boolean): RefundRequestOutcome {
    if (outcome === 'FAILED' && refund.errCode === NOT_SENT_ERR_CODE) {
      throw new RequestNotSentError('REFUND_NOT_SENT',
        `refund ${refund.outRefundNo} could not be sent to WeChat and is FAILED, its amount free again: ${refund.errCodeDes ?? ''}`.trim());
    }
    if (outcome === 'FAILED') {
      throw new UpstreamRejectedError('WECHAT_REFUND_REJECTED',
        `WeChat refused refund ${refund.outRefundNo}: ${refund.errCode ?? ''} ${refund.errCodeDes ?? ''}`.trim());
    }
    return { refund: toRefundView(refund, order), replayed, pending: outcome === 'PENDING' };
  }

  /** Marks a refund as looked at by the overdue job (updated_at = now); by primary key only (see updateUnderOrderLock). */
  private async touch(id: number): Promise<void> {
    await this.app.model.query('UPDATE refunds FORCE INDEX (PRIMARY) SET updated_at = ? WHERE id = ? AND status = \'PROCESSING\'', { replacements: [ new Date(), id ] });
  }
}

export function toRefundView(refund: RefundRow, order: OrderRow): RefundView {
  return {
    outRefundNo: refund.outRefundNo,
    refundId: refund.refundId ?? null,
    outTradeNo: order.outTradeNo,
    paymentOutTradeNo: refund.outTradeNo,
    transactionId: refund.transactionId,
    amount: refund.amount,
    reason: refund.reason,
    status: refund.status,
    errCode: refund.errCode ?? null,
    errCodeDes: refund.errCodeDes ?? null,
    successAt: refund.successAt ? refund.successAt.toISOString() : null,
    createdAt: refund.createdAt.toISOString(),
    updatedAt: refund.updatedAt.toISOString(),
  };
}

/** The coupons stored on a paid attempt (JSON [{id, type, fee}], written by settlement); [] when none. */
function paidCoupons(stored: string | null): PaidCoupon[] {
  if (!stored) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    // Shown, not relied on: an unreadable list must not keep an operator from the refunds (the column keeps it).
    return [];
  }
  return Array.isArray(parsed) ? parsed.map(c => ({ id: String(c?.id ?? ''), type: String(c?.type ?? ''), fee: Number(c?.fee) || 0 })) : [];
}
