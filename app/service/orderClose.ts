import { Service } from 'egg';
import { SignType, WechatApiError, WechatError } from '../../lib/wechatpay';
import { ConflictError, ServiceUnavailableError } from '../common/errors';
import { wechatFailureToAppError } from '../common/wechatErrors';
import { isPaidStatus, LIVE_ATTEMPT_STATUSES } from '../domain/orderStatus';
import { SessionUser } from './session';
import { OrderView, toOrderView } from './order';
import type { OrderRow } from '../model/order';
import { recordOrderEvent } from '../repository/outboxRepository';

/** Who closed the order: its owner, the expiry job, a POS charge that timed out, or an operator (console). Recorded on the CLOSED event. */
export type CloseSource = 'client' | 'job' | 'pos' | 'admin';


/** WeChat answers meaning the number can no longer be paid: as good as closed for us. */
const CLOSED_AT_WECHAT = [ 'ORDERCLOSED', 'ORDERNOTEXIST' ];
/**
 * A /pay racing with the close can open a new attempt between our WeChat calls and our
 * transaction; we close that one too, a bounded number of times.
 */
const MAX_ROUNDS = 3;

/**
 * Closes an unpaid order: every open attempt is closed at WeChat first, then the order is
 * marked CLOSED locally in one transaction, with its row locked and only if it is still NOTPAY.
 * Closing at WeChat first means a payment can never land on an order we consider closed
 * without WeChat having told us (ORDERPAID), and a WeChat failure leaves the order payable.
 */
export default class OrderCloseService extends Service {
  /** The owner's close (POST /payment/orders/:outTradeNo/close). */
  async closeOwned(user: SessionUser, outTradeNo: string): Promise<OrderView> {
    const order = await this.service.order.findOwned(user, outTradeNo);
    return toOrderView(await this.close(order, 'client'));
  }

  /**
   * Closes the order and answers it as stored afterwards. An order already CLOSED answers as it
   * is (idempotent); a paid one, or one WeChat says is paid, is a 409 ORDER_ALREADY_PAID.
   */
  async close(order: OrderRow, source: CloseSource): Promise<OrderRow> {
    const { Order, PaymentAttempt } = this.app.model;
    const closedAtWechat = new Set<string>();
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (order.status === 'CLOSED') return order;
      assertNotPaid(order);

      const open = await PaymentAttempt.findAll({ where: { orderId: order.id, status: LIVE_ATTEMPT_STATUSES } });
      for (const attempt of open) {
        if (closedAtWechat.has(closedKey(attempt))) continue;
        // A payment-code number is reversed, not closed (closeorder does not serve micropay: channels doc §5).
        if (attempt.tradeType === 'MICROPAY') await this.service.pos.cancelAtWechat(order, attempt);
        else await this.closeAtWechat(order, attempt.outTradeNo, { signType: attempt.signType as SignType, appId: attempt.appid });
        closedAtWechat.add(closedKey(attempt));
      }

      const { id: orderId, outTradeNo } = order;
      const outcome = await this.app.model.transaction(async transaction => {
        // The order row first, then its attempts: the lock order of every path
        // (docs/decisions/0002-lock-order.md), so a notification settling meanwhile waits, never deadlocks.
        const locked = await Order.findByPk(orderId, { lock: transaction.LOCK.UPDATE, transaction });
        if (!locked) throw new Error(`order ${outTradeNo} vanished while closing`);
        if (locked.status !== 'NOTPAY') return { order: locked, done: true };
        const stillOpen = await PaymentAttempt.findAll({ where: { orderId, status: LIVE_ATTEMPT_STATUSES }, transaction });
        // An attempt opened after our WeChat calls is still live there: close it first (next round).
        // So is one that got a prepay_id after we closed it (a unified order racing our closeorder).
        if (stillOpen.some(a => !closedAtWechat.has(closedKey(a)))) return { order: locked, done: false };

        // Updated by primary key only: the order was read NOTPAY and its live attempts listed under
        // its lock. A condition on status could be served by a status index, locking other
        // orders' entries on the way (decision 0002).
        const closedAt = new Date();
        const [ changed ] = await Order.update({ status: 'CLOSED', closedAt }, { where: { id: orderId }, transaction });
        if (changed !== 1) throw new Error(`order ${outTradeNo} changed under its row lock`);
        if (stillOpen.length) await PaymentAttempt.update({ status: 'CLOSED' }, { where: { id: stillOpen.map(a => a.id) }, transaction });
        // With its outbox event (order.closed or order.expired), in this transaction.
        await recordOrderEvent(this.app.model, {
          orderId, type: 'CLOSED', source,
          detail: JSON.stringify({ outTradeNos: closedNumbers(closedAtWechat), expired: locked.expiresAt.getTime() <= closedAt.getTime() }),
        }, transaction);
        transaction.afterCommit(() => {
          this.app.logger.info('[payment] order %s closed: source=%s out_trade_nos=%s', outTradeNo, source, closedNumbers(closedAtWechat).join(','));
        });
        return { order: locked, done: true };
      });
      order = (await Order.findByPk(order.id))!;
      if (outcome.done) {
        // Paid while we were closing (its notification won the row lock): the payment stands.
        assertNotPaid(order);
        return order;
      }
    }
    throw new ServiceUnavailableError('ORDER_BUSY', 'the order changed while it was being closed, retry shortly');
  }

  /** closeorder for one out_trade_no, with its order's sign type and appid; resolves when WeChat no longer lets it be paid. */
  private async closeAtWechat(order: OrderRow, outTradeNo: string, options: { signType: SignType; appId: string }): Promise<void> {
    try {
      await this.app.wechatPay.closeOrder(outTradeNo, options);
    } catch (err) {
      if (err instanceof WechatApiError && CLOSED_AT_WECHAT.includes(err.errCode)) return;
      if (err instanceof WechatApiError && err.errCode === 'ORDERPAID') {
        // Learn the payment through the one settlement path before answering; if the query
        // fails the order stays NOTPAY (not closed), and the notification or the overdue job
        // still brings the payment in.
        await this.service.order.refreshFromWechat(order).catch(queryErr => {
          this.ctx.logger.warn('[payment] order %s: WeChat says paid, order query failed: %s', order.outTradeNo, (queryErr as Error).message);
        });
        throw new ConflictError('ORDER_ALREADY_PAID', 'this order is already paid');
      }
      if (err instanceof WechatError) this.ctx.logger.warn('[payment] order %s: closeorder %s failed: %s', order.outTradeNo, outTradeNo, err.message);
      throw wechatFailureToAppError(err, 'to close the order');
    }
  }
}

function assertNotPaid(order: { status: string }): void {
  if (isPaidStatus(order.status)) throw new ConflictError('ORDER_ALREADY_PAID', 'this order is already paid');
}

/** An attempt as we closed it: the same number with a later prepay_id is live again at WeChat. */
function closedKey(attempt: { outTradeNo: string; prepayId?: string | null }): string {
  return `${attempt.outTradeNo} ${attempt.prepayId ?? ''}`;
}

function closedNumbers(keys: Set<string>): string[] {
  return [ ...new Set([ ...keys ].map(k => k.split(' ')[0])) ];
}
