import type { IModel } from 'egg';
import { QueryTypes } from 'sequelize';

/**
 * A time as the DATETIME(3) columns keep it: UTC, to the millisecond, as the models write it (a
 * Date passed as a plain replacement would lose its milliseconds).
 */
const utcMillis = (date: Date) => date.toISOString().slice(0, 23).replace('T', ' ');

/** What storing a prepay_id found under the locks: whether the attempt was still open, and the order's status. */
export interface StoredPrepay {
  open: boolean;
  orderStatus: string;
}

/**
 * The writes of order creation and prepay that are on every Buy, in plain SQL through the one
 * Sequelize connection pool: they read and write a few columns of rows whose lock order is fixed
 * (docs/decisions/0002-lock-order.md), and building whole model instances for them was most of an
 * order's Sequelize cost (BENCHMARKS.md, "Where an order's CPU goes").
 */
export class PrepayRepository {
  constructor(private readonly model: IModel) {}

  /**
   * Stores the prepay_id of a unified order on its attempt, in one transaction: the order row
   * locked first, then the attempt; stored only while the attempt is CREATED or PREPAID, decided
   * from the state read under those locks (never from a row count).
   */
  async storePrepay(orderId: number, attemptId: number, prepay: { prepayId: string; prepayExpiresAt: Date; payUrl: string | null }): Promise<StoredPrepay | null> {
    return this.model.transaction(async transaction => {
      const [ order ] = await this.model.query<{ status: string }>('SELECT status FROM orders WHERE id = ? FOR UPDATE',
        { replacements: [ orderId ], type: QueryTypes.SELECT, transaction });
      const [ attempt ] = await this.model.query<{ status: string }>('SELECT status FROM payment_attempts WHERE id = ? FOR UPDATE',
        { replacements: [ attemptId ], type: QueryTypes.SELECT, transaction });
      if (!order || !attempt) return null;
      if (attempt.status !== 'CREATED' && attempt.status !== 'PREPAID') return { open: false, orderStatus: order.status };
      await this.model.query('UPDATE payment_attempts SET status = \'PREPAID\', prepay_id = ?, prepay_expires_at = ?, pay_url = ?, err_code = NULL, ' +
        'err_code_des = NULL, updated_at = ? WHERE id = ?', {
        replacements: [ prepay.prepayId, utcMillis(prepay.prepayExpiresAt), prepay.payUrl, utcMillis(new Date()), attemptId ],
        type: QueryTypes.UPDATE, transaction,
      });
      return { open: true, orderStatus: order.status };
    });
  }

  /** Points a new order at its first attempt (inside the transaction that created both). */
  async linkCurrentAttempt(orderId: number, attemptId: number, transaction: unknown): Promise<void> {
    await this.model.query('UPDATE orders SET current_attempt_id = ?, updated_at = ? WHERE id = ?',
      { replacements: [ attemptId, utcMillis(new Date()), orderId ], type: QueryTypes.UPDATE, transaction: transaction as any });
  }
}
