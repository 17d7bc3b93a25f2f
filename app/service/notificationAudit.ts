import { Service } from 'egg';
import type { Transaction } from 'sequelize';
import { auditKeys, NotificationOutcome } from '../model/paymentNotification';

export interface NotificationAuditEntry {
  kind: 'pay' | 'refund';
  /** The body as WeChat sent it, forged and broken ones included. */
  rawBody: string;
  /** The fields as read, if the body could be read. */
  fields?: Record<string, unknown>;
  /** Where the order numbers are taken from when not from `fields` (a refund's decrypted req_info). */
  keys?: Record<string, unknown>;
  outcome: NotificationOutcome;
  reason: string | null;
  remoteIp: string;
}

/** Longest parsed copy kept; the raw body is always kept whole. */
const PARSED_MAX_CHARS = 1024 * 1024;

/**
 * The one writer of the notification audit (payment_notifications): every notification answered,
 * payment or refund, has exactly one row, written before the answer. Every value is sized to its
 * column, so a row can be written for any body the size limit admits.
 */
export default class NotificationAuditService extends Service {
  async record(entry: NotificationAuditEntry, transaction?: Transaction): Promise<void> {
    const parsed = entry.fields ? JSON.stringify(entry.fields) : null;
    await this.app.model.PaymentNotification.create({
      kind: entry.kind,
      rawBody: entry.rawBody,
      parsed: parsed !== null && parsed.length > PARSED_MAX_CHARS ? null : parsed,
      ...auditKeys(entry.keys ?? entry.fields),
      remoteIp: entry.remoteIp.slice(0, 64),
      outcome: entry.outcome,
      reason: entry.reason === null ? null : entry.reason.slice(0, 255),
    }, { transaction });
    const count = () => this.app.metrics.notifications.inc({ kind: entry.kind, outcome: entry.outcome });
    if (transaction) transaction.afterCommit(count);
    else count();
  }
}
