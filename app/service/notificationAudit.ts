import { Service } from 'egg';
import { auditRow, auditRowStatement, NotificationAuditEntry } from '../repository/notificationAuditRepository';
import { append, type CommitHooks, type SqlBatch } from '../repository/sqlBatch';

export type { NotificationAuditEntry } from '../repository/notificationAuditRepository';

/**
 * The one writer of the notification audit (payment_notifications): every notification answered,
 * payment or refund, has exactly one row, written before the answer. Every value is sized to its
 * column, so a row can be written for any body the size limit admits.
 */
export default class NotificationAuditService extends Service {
  /** Writes the row now, on its own. Counted in the metrics once written. */
  async record(entry: NotificationAuditEntry): Promise<void> {
    await this.app.model.PaymentNotification.create(auditRow(entry));
    this.count(entry);
  }

  /**
   * Appends the row's INSERT to `batch`, for the caller to run in `transaction` in one round trip
   * with the change the row describes (settlement). Counted in the metrics once committed.
   */
  appendTo(batch: SqlBatch, entry: NotificationAuditEntry, transaction: CommitHooks): void {
    append(batch, auditRowStatement(entry));
    transaction.afterCommit(() => this.count(entry));
  }

  private count(entry: NotificationAuditEntry): void {
    this.app.metrics.notifications.inc({ kind: entry.kind, outcome: entry.outcome });
  }
}
