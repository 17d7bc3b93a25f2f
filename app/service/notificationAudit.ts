import { Service } from 'egg';
import type { Transaction } from 'sequelize';
import { auditRow, auditRowStatement, NotificationAuditEntry } from '../repository/notificationAuditRepository';
import { append, SqlBatch } from '../repository/sqlBatch';

export type { NotificationAuditEntry } from '../repository/notificationAuditRepository';

/**
 * The one writer of the notification audit (payment_notifications): every notification answered,
 * payment or refund, has exactly one row, written before the answer. Every value is sized to its
 * column, so a row can be written for any body the size limit admits.
 */
export default class NotificationAuditService extends Service {
  /**
   * Writes the row, in `transaction` if given. With `batch`, the row's INSERT is appended to it
   * instead, for the caller to run in `transaction` in one round trip with the change the row
   * describes (settlement). Counted in the metrics once written (committed).
   */
  async record(entry: NotificationAuditEntry, transaction?: Transaction, batch?: SqlBatch): Promise<void> {
    if (batch) {
      if (!transaction) throw new Error('an audit row in a batch needs its transaction');
      append(batch, auditRowStatement(entry));
    } else {
      await this.app.model.PaymentNotification.create(auditRow(entry), { transaction });
    }
    const count = () => this.app.metrics.notifications.inc({ kind: entry.kind, outcome: entry.outcome });
    if (transaction) transaction.afterCommit(count);
    else count();
  }
}
