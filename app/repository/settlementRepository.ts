import type { IModel } from 'egg';
import { QueryTypes, Transaction } from 'sequelize';
import type { SettlementChanges, SettlementRows } from '../domain/settlementRules';
import { recordOrderEvent } from './outboxRepository';

/**
 * The reads and writes of payment settlement, inside the settlement service's transaction.
 *
 * Lock order, the same everywhere (docs/decisions/0002-lock-order.md): the order row first, then
 * its payment attempts, then its refunds. Close, prepay and refunds take them in this order too,
 * so a close racing a notification waits instead of deadlocking.
 */
export class SettlementRepository {
  constructor(private readonly model: IModel) {}

  /** Locks the order of this out_trade_no, then its attempts, and reads what the rules need; null if no attempt has that number. */
  async lockPayment(outTradeNo: string, claimedTransactionId: string | undefined, transaction: Transaction): Promise<SettlementRows | null> {
    const { Order, PaymentAttempt } = this.model;
    // Which order, and its owner's openid: neither ever changes, so this read takes no lock (and a
    // login is never held up by a payment).
    const [ found ] = await this.model.query<{ orderId: number; ownerOpenid: string | null }>(
      'SELECT a.order_id AS orderId, u.openid AS ownerOpenid FROM payment_attempts a ' +
      'JOIN orders o ON o.id = a.order_id LEFT JOIN users u ON u.id = o.user_id WHERE a.out_trade_no = ?',
      { replacements: [ outTradeNo ], type: QueryTypes.SELECT, transaction });
    if (!found) return null;
    const order = await Order.findByPk(found.orderId, { lock: transaction.LOCK.UPDATE, transaction });
    if (!order) throw new Error(`payment attempt ${outTradeNo} has no order`);
    const attempts = await PaymentAttempt.findAll({ where: { orderId: order.id }, order: [[ 'id', 'ASC' ]], lock: transaction.LOCK.UPDATE, transaction });
    const attempt = attempts.find(a => a.outTradeNo === outTradeNo);
    if (!attempt) throw new Error(`payment attempt ${outTradeNo} left its order`);
    // Who holds the reported transaction_id matters only to an attempt not yet paid. Not locked: a
    // transaction_id taken meanwhile is still refused by its unique index.
    const holder = claimedTransactionId && !attempt.transactionId
      ? await PaymentAttempt.findOne({ where: { transactionId: claimedTransactionId }, attributes: [ 'outTradeNo' ], transaction })
      : null;
    return {
      order: { id: order.id, outTradeNo: order.outTradeNo, status: order.status, totalFee: order.totalFee },
      attempt: {
        id: attempt.id, outTradeNo: attempt.outTradeNo, status: attempt.status, totalFee: attempt.totalFee,
        signType: attempt.signType, appid: attempt.appid, transactionId: attempt.transactionId, tradeType: attempt.tradeType,
      },
      ownerOpenid: found.ownerOpenid,
      transactionIdHolder: holder?.outTradeNo ?? null,
    };
  }

  /**
   * Writes a decision's changes. Under the order's row lock a payment's two updates must each
   * change one row: any other count throws, inside the transaction, so nothing is half applied.
   * (Sequelize counts changed rows, not matched ones, so only updates that always change a value
   * are counted.)
   */
  async apply(rows: SettlementRows, changes: SettlementChanges, source: string, transaction: Transaction): Promise<void> {
    const { Order, PaymentAttempt } = this.model;
    const { order, attempt } = rows;
    if (changes.attemptPaid) {
      const amounts = changes.attemptPaid.amounts;
      const paidWith = amounts ? {
        cashFee: amounts.cashFee, couponFee: amounts.couponFee, couponCount: amounts.couponCount,
        settlementTotalFee: amounts.settlementTotalFee, coupons: amounts.coupons.length > 0 ? JSON.stringify(amounts.coupons) : null,
      } : {};
      expectOne(await PaymentAttempt.update({ status: 'PAID', transactionId: changes.attemptPaid.transactionId, ...paidWith },
        { where: { id: attempt.id, transactionId: null }, transaction }), `attempt ${attempt.outTradeNo} paid`);
    }
    if (changes.attemptFailed) {
      const { errCode, errCodeDes, markFailed } = changes.attemptFailed;
      await PaymentAttempt.update({ errCode, errCodeDes, ...(markFailed ? { status: 'FAILED' as const } : {}) }, { where: { id: attempt.id }, transaction });
    }
    if (changes.orderPaid) {
      expectOne(await Order.update({ status: 'SUCCESS', paidAttemptId: attempt.id, ...changes.orderPaid },
        { where: { id: order.id, status: 'NOTPAY' }, transaction }), `order ${order.outTradeNo} paid`);
    }
    if (changes.refundRequired) {
      await Order.update({ refundRequired: true }, { where: { id: order.id }, transaction });
    }
    if (changes.event) {
      // With its outbox event (order.paid...), in this transaction: committed together or not at all.
      await recordOrderEvent(this.model, { orderId: order.id, type: changes.event.type, source, detail: changes.event.detail }, transaction);
    }
  }
}

function expectOne([ count ]: [ number, ...unknown[] ], what: string): void {
  if (count !== 1) throw new Error(`settlement: ${what} changed ${count} rows, not 1`);
}
