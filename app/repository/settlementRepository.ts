import { orderFactsAfter, SettlementChanges, SettlementRows } from '../domain/settlementRules';
import { ORDER_SNAPSHOT_COLUMNS, orderEventStatements, OrderSnapshot, orderSnapshotOf } from './outboxRepository';
import { append, BatchTransaction, SqlBatch, sqlTime } from './sqlBatch';

/** The rows of one payment read under its order's lock, and that order as its event's payload describes it. */
export interface LockedPayment extends SettlementRows {
  snapshot: OrderSnapshot;
}

/**
 * The reads, in one round trip. Which order (an attempt never changes order): not locked; a plain
 * SELECT ... INTO, because InnoDB reads a SET's subquery with a shared lock, which would lock the
 * attempt before its order. Then the order row locked, then all its attempts (decision 0002's lock
 * order), the order's with its owner's openid: a scalar subquery of a locking read takes no lock,
 * so a login is never held up by a payment (the openid never changes). The holder of the reported
 * transaction_id is not locked: one taken meanwhile is still refused by its unique index.
 */
const LOCK_PAYMENT_SQL = [
  'SET @settle_order_id := NULL',
  'SELECT order_id INTO @settle_order_id FROM payment_attempts WHERE out_trade_no = ?',
  `SELECT ${ORDER_SNAPSHOT_COLUMNS}, (SELECT u.openid FROM users u WHERE u.id = o.user_id) AS owner_openid FROM orders o ` +
    'WHERE o.id = @settle_order_id FOR UPDATE',
  'SELECT id, out_trade_no, status, total_fee, sign_type, appid, transaction_id, trade_type FROM payment_attempts ' +
    'WHERE order_id = @settle_order_id ORDER BY id FOR UPDATE',
  'SELECT out_trade_no FROM payment_attempts WHERE transaction_id = ?',
];

/**
 * The two guarded updates name their row by primary key only (a condition on an indexed column
 * could let MariaDB reach the row through that index and lock other orders' entries: decision
 * 0002) and carry their guard in their first assignment: a row no longer in the state the rules
 * decided on (an attempt already holding a transaction_id, an order no longer NOTPAY) sets `status`
 * to NULL, which its NOT NULL column refuses in strict mode (the session's sql_mode,
 * config.sequelize), so the statement fails, the batch stops before its COMMIT and the transaction
 * rolls back (decision 0019). MySQL assigns left to right, so the guard reads the row as it was.
 * Under the order's row lock this cannot happen unless the rules and the SQL disagree. The paid
 * amounts (cash, coupons, settled) are NULL when the report carried none, as an unpaid attempt has them.
 */
const ATTEMPT_PAID_SQL = 'UPDATE payment_attempts SET status = IF(transaction_id IS NULL, \'PAID\', NULL), transaction_id = ?, ' +
  'cash_fee = ?, coupon_fee = ?, coupon_count = ?, settlement_total_fee = ?, coupons = ?, updated_at = ? WHERE id = ?';
const ATTEMPT_ERROR_SQL = 'UPDATE payment_attempts SET err_code = ?, err_code_des = ?, updated_at = ? WHERE id = ?';
const ATTEMPT_FAILED_SQL = 'UPDATE payment_attempts SET err_code = ?, err_code_des = ?, status = \'FAILED\', updated_at = ? WHERE id = ?';
const ORDER_PAID_SQL = 'UPDATE orders SET status = IF(status = \'NOTPAY\', \'SUCCESS\', NULL), paid_attempt_id = ?, transaction_id = ?, ' +
  'paid_at = ?, bank_type = ?, updated_at = ? WHERE id = ?';
/** MariaDB's ER_BAD_NULL_ERROR: a guard above refused its row. */
const GUARD_REFUSED_ERRNO = 1048;
const ORDER_REFUND_REQUIRED_SQL = 'UPDATE orders SET refund_required = 1, updated_at = ? WHERE id = ?';

/**
 * The reads and writes of payment settlement, in plain SQL (no model instances on the notification
 * path), in the settlement service's transaction: one round trip begins it and reads, one writes
 * and commits it (docs/decisions/0017-multi-statement-round-trips.md, 0019).
 *
 * Lock order, the same everywhere (docs/decisions/0002-lock-order.md): the order row first, then
 * its payment attempts, then its refunds. Close, prepay and refunds take them in this order too,
 * so a close racing a notification waits instead of deadlocking.
 */
export class SettlementRepository {
  /**
   * Begins `transaction`, locks the order of this out_trade_no, then its attempts, and reads what
   * the rules need; null if no attempt has that number.
   */
  async lockPayment(outTradeNo: string, claimedTransactionId: string | undefined, transaction: BatchTransaction): Promise<LockedPayment | null> {
    const [ , , orders, attempts, holders ] = await transaction.run('settlement.lock',
      { sql: LOCK_PAYMENT_SQL, replacements: [ outTradeNo, claimedTransactionId ?? null ] });
    const [ order ] = orders;
    if (!order) {
      if (attempts.length) throw new Error(`payment attempt ${outTradeNo} has no order`);
      return null;
    }
    const attempt = attempts.find(a => a.out_trade_no === outTradeNo);
    if (!attempt) throw new Error(`payment attempt ${outTradeNo} left its order`);
    const ownerOpenid: string | null = order.owner_openid ?? null;
    return {
      order: { id: order.id, outTradeNo: order.out_trade_no, status: order.status, totalFee: order.total_fee },
      attempt: {
        id: attempt.id, outTradeNo: attempt.out_trade_no, status: attempt.status, totalFee: attempt.total_fee,
        signType: attempt.sign_type, appid: attempt.appid, transactionId: attempt.transaction_id ?? null, tradeType: attempt.trade_type,
      },
      ownerOpenid,
      // Who holds the reported transaction_id matters only to an attempt not yet paid.
      transactionIdHolder: attempt.transaction_id ? null : holders[0]?.out_trade_no ?? null,
      // A payment-code order has no owner (null): the settlement rules name its payer in its events.
      snapshot: orderSnapshotOf(order, ownerOpenid),
    };
  }

  /**
   * Writes a decision's changes, their event (order_events + outbox, through the one event writer's
   * statements; the payload from the order row read under the lock and the changes) and `also`
   * (the notification's audit row), and commits, in one round trip. A payment's two updates are
   * guarded in SQL (above): a row not as read fails the batch before its COMMIT, and nothing of it
   * is written.
   */
  async applyAndCommit(rows: LockedPayment, changes: SettlementChanges, source: string, transaction: BatchTransaction, also?: SqlBatch): Promise<void> {
    const { order, attempt } = rows;
    const now = sqlTime(new Date());
    const batch: SqlBatch = { sql: [], replacements: [] };
    if (changes.attemptPaid) {
      const { transactionId, amounts } = changes.attemptPaid;
      batch.sql.push(ATTEMPT_PAID_SQL);
      batch.replacements.push(transactionId, amounts?.cashFee ?? null, amounts?.couponFee ?? null, amounts?.couponCount ?? null,
        amounts?.settlementTotalFee ?? null, amounts && amounts.coupons.length > 0 ? JSON.stringify(amounts.coupons) : null, now, attempt.id);
    }
    if (changes.attemptFailed) {
      const { errCode, errCodeDes, markFailed } = changes.attemptFailed;
      batch.sql.push(markFailed ? ATTEMPT_FAILED_SQL : ATTEMPT_ERROR_SQL);
      batch.replacements.push(errCode, errCodeDes, now, attempt.id);
    }
    if (changes.orderPaid) {
      const { transactionId, paidAt, bankType } = changes.orderPaid;
      batch.sql.push(ORDER_PAID_SQL);
      batch.replacements.push(attempt.id, transactionId, sqlTime(paidAt), bankType, now, order.id);
    }
    if (changes.refundRequired) {
      batch.sql.push(ORDER_REFUND_REQUIRED_SQL);
      batch.replacements.push(now, order.id);
    }
    if (changes.event) {
      // With its outbox event (order.paid...), in this transaction: committed together or not at all.
      append(batch, orderEventStatements({ orderId: order.id, type: changes.event.type, source, detail: changes.event.detail },
        orderFactsAfter(rows.snapshot, changes), transaction));
    }
    if (also) append(batch, also);
    try {
      await transaction.run('settlement.apply', batch, { commit: true });
    } catch (err) {
      if ((err as { original?: { errno?: number } }).original?.errno !== GUARD_REFUSED_ERRNO) throw err;
      throw new Error(`settlement: payment ${attempt.outTradeNo} of order ${order.outTradeNo} was not as read under its lock; nothing written`);
    }
  }

  /** Runs `batch` and commits, in one round trip: the audit row of a notification whose order is unknown. */
  async writeAndCommit(batch: SqlBatch, transaction: BatchTransaction): Promise<void> {
    await transaction.run('settlement.write', batch, { commit: true });
  }
}
