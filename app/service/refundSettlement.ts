import { Service } from 'egg';
import { Op, Transaction } from 'sequelize';
import { fromBeijing } from '../../lib/wechatpay';
import { RefundFacts, RefundResult } from '../domain/refundRules';
import { recordOrderEvent } from '../repository/outboxRepository';

export type RefundSource = 'notify' | 'query';

export type RefundSettlementOutcome =
  | { result: 'APPLIED'; refundId: number; orderId: number }
  | { result: 'DUPLICATE'; refundId: number; orderId: number }
  | { result: 'REJECTED'; reason: string; refundId?: number; orderId?: number };

const EVENT_TYPES: Record<RefundResult, string> = { SUCCESS: 'REFUNDED', CHANGE: 'REFUND_CHANGE', REFUNDCLOSE: 'REFUND_CLOSED' };

/**
 * The one path by which a refund gets its final status, whether WeChat's refund notification or
 * our refund query told us. One transaction with the order row then the refund row locked (the
 * order the refund request takes them in), and an update conditional on the status read, so a
 * refund is finished once and the order's refunded_fee and status move once.
 */
export default class RefundSettlementService extends Service {
  async applyResult(facts: RefundFacts, source: RefundSource): Promise<RefundSettlementOutcome> {
    const { Refund, Order, PaymentAttempt } = this.app.model;
    const found = await Refund.findOne({ where: { outRefundNo: facts.outRefundNo } });
    if (!found) return { result: 'REJECTED', reason: 'unknown out_refund_no' };

    return this.app.model.transaction(async transaction => {
      const order = await Order.findByPk(found.orderId, { lock: transaction.LOCK.UPDATE, transaction });
      const refund = await Refund.findByPk(found.id, { lock: transaction.LOCK.UPDATE, transaction });
      if (!order || !refund) return { result: 'REJECTED', reason: 'refund without order' } as const;
      const ids = { refundId: refund.id, orderId: order.id };
      const attempt = await PaymentAttempt.findByPk(refund.attemptId, { transaction });
      if (!attempt) return { result: 'REJECTED', reason: 'refund without payment attempt', ...ids } as const;

      // It must be the refund we asked for: same payment, same amount, same WeChat refund.
      if (facts.outTradeNo !== refund.outTradeNo) return { result: 'REJECTED', reason: `out_trade_no ${facts.outTradeNo} is not the refunded payment's`, ...ids } as const;
      if (facts.transactionId && facts.transactionId !== refund.transactionId) return { result: 'REJECTED', reason: 'transaction_id is not the refunded payment\'s', ...ids } as const;
      if (facts.refundFee !== refund.amount) return { result: 'REJECTED', reason: `refund_fee ${facts.refundFee} differs from ours ${refund.amount}`, ...ids } as const;
      if (facts.totalFee !== undefined && facts.totalFee !== attempt.totalFee) return { result: 'REJECTED', reason: `total_fee ${facts.totalFee} differs from the payment's ${attempt.totalFee}`, ...ids } as const;
      if (refund.refundId && facts.refundId !== refund.refundId) return { result: 'REJECTED', reason: 'refund_id differs from the one WeChat gave us', ...ids } as const;

      if (refund.status === facts.status) {
        if (!refund.refundId) await refund.update({ refundId: facts.refundId }, { transaction });
        return { result: 'DUPLICATE', ...ids } as const;
      }
      // WeChat's final results are final: a different one later is refused and logged, not applied.
      if (refund.status !== 'PROCESSING' && refund.status !== 'FAILED') {
        return { result: 'REJECTED', reason: `refund is already ${refund.status}, WeChat now says ${facts.status}`, ...ids } as const;
      }
      const previous = refund.status;
      const successAt = facts.status === 'SUCCESS' ? (fromBeijing(facts.successTime) ?? new Date()) : null;
      // By primary key only: the row was read `previous` under its lock (decision 0002).
      const [ changed ] = await Refund.update({
        status: facts.status, refundId: facts.refundId, successAt, errCode: null, errCodeDes: null,
      }, { where: { id: refund.id }, transaction });
      if (changed !== 1) throw new Error(`refund ${refund.outRefundNo} changed under its row lock`);

      if (facts.status === 'SUCCESS') {
        const orderChanges: { refundedFee: number; status?: 'REFUND'; refundRequired?: boolean } = {
          refundedFee: order.refundedFee + refund.amount,
        };
        if (attempt.id === order.paidAttemptId) {
          // The order's own payment is fully returned: the order is REFUND. Partly: it stays SUCCESS with refunded_fee > 0.
          const refundedOfPayment = await this.succeededAmount([ attempt.id ], transaction);
          if (refundedOfPayment >= attempt.totalFee && order.status === 'SUCCESS') orderChanges.status = 'REFUND';
        } else if (order.refundRequired) {
          // An extra payment (paid twice, or after close): the flag clears once every such payment is returned.
          const extra = await PaymentAttempt.findAll({
            where: { orderId: order.id, status: 'PAID', ...(order.paidAttemptId ? { id: { [Op.ne]: order.paidAttemptId } } : {}) },
            transaction,
          });
          const owed = extra.reduce((sum, a) => sum + a.totalFee, 0);
          if (await this.succeededAmount(extra.map(a => a.id), transaction) >= owed) orderChanges.refundRequired = false;
        }
        await order.update(orderChanges, { transaction });
      }
      // With its outbox event (refund.succeeded, .failed or .needs_attention), in this transaction.
      await recordOrderEvent(this.app.model, {
        orderId: order.id, type: EVENT_TYPES[facts.status], source,
        detail: JSON.stringify({ outRefundNo: refund.outRefundNo, refundId: facts.refundId, amount: refund.amount, outTradeNo: refund.outTradeNo }),
      }, transaction);

      transaction.afterCommit(() => {
        this.app.metrics.refunds.inc({ status: facts.status });
        const log = previous === 'FAILED' || facts.status !== 'SUCCESS' ? this.app.logger.error : this.app.logger.info;
        log.call(this.app.logger, '[refund] refund %s of order %s: %s -> %s (refund_id=%s amount=%d source=%s)%s',
          refund.outRefundNo, order.outTradeNo, previous, facts.status, facts.refundId, refund.amount, source,
          previous === 'FAILED' ? ': WeChat carried out a refund we had taken as refused' :
            facts.status === 'CHANGE' ? ': WeChat could not pay it out, handle it on the merchant platform' : '');
      });
      return { result: 'APPLIED', ...ids } as const;
    });
  }

  private async succeededAmount(attemptIds: number[], transaction: Transaction): Promise<number> {
    if (attemptIds.length === 0) return 0;
    const sum = await this.app.model.Refund.sum('amount', { where: { attemptId: attemptIds, status: 'SUCCESS' }, transaction });
    return Number(sum) || 0;
  }
}
