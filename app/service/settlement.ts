import { Service } from 'egg';
import { Transaction } from 'sequelize';
import { fromBeijing } from '../../lib/wechatpay';

/** What WeChat told us about a successful payment, from a notification or an order query. */
export interface PaidFacts {
  outTradeNo: string;
  transactionId: string;
  totalFee: number;
  timeEnd?: string;
  bankType?: string;
  openid?: string;
}

export type SettlementOutcome =
  | { result: 'APPLIED'; orderId: number }
  | { result: 'DUPLICATE'; orderId: number }
  /** Money arrived for an order that was already paid through another attempt, or closed: recorded, flagged for refund. */
  | { result: 'REFUND_REQUIRED'; orderId: number }
  | { result: 'REJECTED'; reason: string; orderId?: number };

export type PaymentSource = 'notify' | 'query';

export interface ApplyPaidOptions {
  /**
   * Runs inside the settlement transaction, just before it commits: the caller records the
   * outcome (the notification's audit row) atomically with the change it describes, with no
   * extra commit.
   */
  recordOutcome?: (outcome: SettlementOutcome, transaction: Transaction) => Promise<unknown>;
}

/**
 * The one path by which an order becomes paid, whether WeChat's notification or our order query
 * told us. It runs in one transaction with the attempt and order rows locked, so any number of
 * concurrent callers move an order to paid once, and its side effects (the PAID event) happen once.
 */
export default class PaymentSettlementService extends Service {
  async applyPaid(facts: PaidFacts, source: PaymentSource, options: ApplyPaidOptions = {}): Promise<SettlementOutcome> {
    return this.app.model.transaction({ isolationLevel: Transaction.ISOLATION_LEVELS.READ_COMMITTED }, async transaction => {
      const outcome = await this.settle(facts, source, transaction);
      await options.recordOutcome?.(outcome, transaction);
      return outcome;
    });
  }

  private async settle(facts: PaidFacts, source: PaymentSource, transaction: Transaction): Promise<SettlementOutcome> {
    const { PaymentAttempt, Order, OrderEvent, User } = this.app.model;
    const attempt = await PaymentAttempt.findOne({ where: { outTradeNo: facts.outTradeNo }, lock: transaction.LOCK.UPDATE, transaction });
    if (!attempt) return { result: 'REJECTED', reason: 'unknown out_trade_no' } as const;
    const order = await Order.findByPk(attempt.orderId, { lock: transaction.LOCK.UPDATE, transaction });
    if (!order) return { result: 'REJECTED', reason: 'attempt without order' } as const;

    if (facts.totalFee !== attempt.totalFee || attempt.totalFee !== order.totalFee) {
      return { result: 'REJECTED', reason: `total_fee ${facts.totalFee} differs from the order's ${order.totalFee}`, orderId: order.id } as const;
    }
    if (attempt.transactionId) {
      if (attempt.transactionId === facts.transactionId) return { result: 'DUPLICATE', orderId: order.id } as const;
      return { result: 'REJECTED', reason: 'a different transaction_id was already recorded for this out_trade_no', orderId: order.id } as const;
    }
    if (facts.openid) {
      const user = await User.findByPk(order.userId, { transaction });
      if (!user || user.openid !== facts.openid) {
        return { result: 'REJECTED', reason: 'openid is not the order owner\'s', orderId: order.id } as const;
      }
    }
    const taken = await PaymentAttempt.findOne({ where: { transactionId: facts.transactionId }, transaction });
    if (taken) return { result: 'REJECTED', reason: 'transaction_id already belongs to another payment', orderId: order.id } as const;

    const paidAt = fromBeijing(facts.timeEnd) ?? new Date();
    await attempt.update({ status: 'PAID', transactionId: facts.transactionId }, { transaction });

    if (order.status === 'NOTPAY') {
      const [ changed ] = await Order.update({
        // Cut to the column: an overlong value must not fail the payment's recording forever.
        status: 'SUCCESS', paidAttemptId: attempt.id, transactionId: facts.transactionId, paidAt, bankType: facts.bankType?.slice(0, 32) ?? null,
      }, { where: { id: order.id, status: 'NOTPAY' }, transaction });
      if (changed !== 1) throw new Error(`order ${order.outTradeNo} changed under its row lock`);
      await OrderEvent.create({
        orderId: order.id, type: 'PAID', source,
        detail: JSON.stringify({ outTradeNo: facts.outTradeNo, transactionId: facts.transactionId, totalFee: facts.totalFee }),
      }, { transaction });
      transaction.afterCommit(() => {
        this.app.logger.info('[payment] order %s paid: out_trade_no=%s transaction_id=%s total_fee=%d source=%s',
          order.outTradeNo, facts.outTradeNo, facts.transactionId, facts.totalFee, source);
      });
      return { result: 'APPLIED', orderId: order.id } as const;
    }

    // Paid twice (another attempt won) or paid after we closed it: keep the money on record and
    // flag it, so it is refunded rather than lost.
    await order.update({ refundRequired: true }, { transaction });
    const type = order.status === 'CLOSED' ? 'PAID_AFTER_CLOSE' : 'DOUBLE_PAYMENT';
    await OrderEvent.create({
      orderId: order.id, type, source,
      detail: JSON.stringify({ outTradeNo: facts.outTradeNo, transactionId: facts.transactionId, totalFee: facts.totalFee }),
    }, { transaction });
    transaction.afterCommit(() => {
      this.app.logger.error('[payment] order %s: %s out_trade_no=%s transaction_id=%s needs a refund',
        order.outTradeNo, type, facts.outTradeNo, facts.transactionId);
    });
    return { result: 'REFUND_REQUIRED', orderId: order.id } as const;
  }
}
