import type { IModel } from 'egg';
import { OPEN_ATTEMPT_STATUSES } from '../domain/orderStatus';
import { inBatchTransaction, sqlTime } from './sqlBatch';

/** A prepay_id may be stored only on an open attempt (the UPDATE below names the same two statuses). */

/**
 * The prepay store's statements, in this order (docs/decisions/0002-lock-order.md): the order row
 * locked, then the attempt locked, then the UPDATE, which writes only while the attempt read under
 * its lock is open and the order row read under its lock exists.
 */
const STORE_PREPAY_SQL = [
  'SELECT status FROM orders WHERE id = ? FOR UPDATE',
  'SELECT status FROM payment_attempts WHERE id = ? FOR UPDATE',
  // By primary key only (FORCE INDEX): see the guarded updates in settlementRepository.ts.
  'UPDATE payment_attempts FORCE INDEX (PRIMARY) SET status = \'PREPAID\', prepay_id = ?, prepay_expires_at = ?, pay_url = ?, err_code = NULL, err_code_des = NULL, updated_at = ? ' +
    'WHERE id = ? AND status IN (\'CREATED\', \'PREPAID\') AND EXISTS (SELECT 1 FROM orders WHERE id = ?)',
];

/** What storing a prepay_id found under the locks: whether the attempt was still open, and the order's status. */
export interface StoredPrepay {
  open: boolean;
  orderStatus: string;
}

/**
 * The prepay's write that is on every Buy, in plain SQL through the one Sequelize connection pool:
 * it reads and writes a few columns of rows whose lock order is fixed
 * (docs/decisions/0002-lock-order.md), and building whole model instances for it was a large part
 * of an order's Sequelize cost (bench/history/2026-11-30-order-creation.md, "Where an order's CPU goes").
 */
export class PrepayRepository {
  constructor(private readonly model: IModel) {}

  /**
   * Stores the prepay_id of a unified order on its attempt, in one transaction and ONE round trip
   * (multipleStatements, its START and COMMIT included, decision 0019): the order row locked first, then the attempt; stored only while the
   * attempt is CREATED or PREPAID. The answer is decided from the state the two locking reads
   * returned, never from a row count; the UPDATE's own condition reads the same locked rows (the
   * attempt's status, the order's existence), so it writes exactly when that state says open.
   */
  async storePrepay(orderId: number, attemptId: number, prepay: { prepayId: string; prepayExpiresAt: Date; payUrl: string | null }): Promise<StoredPrepay | null> {
    return inBatchTransaction(this.model, async transaction => {
      const [ orderRows, attemptRows ] = await transaction.run('prepay.store', {
        sql: STORE_PREPAY_SQL,
        replacements: [ orderId, attemptId, prepay.prepayId, sqlTime(prepay.prepayExpiresAt), prepay.payUrl, sqlTime(new Date()), attemptId, orderId ],
      }, { commit: true });
      const [ order ] = orderRows;
      const [ attempt ] = attemptRows;
      if (!order || !attempt) return null;
      return { open: OPEN_ATTEMPT_STATUSES.includes(attempt.status), orderStatus: order.status };
    });
  }
}
