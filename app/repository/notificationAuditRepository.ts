import { auditKeys, NotificationOutcome } from '../model/paymentNotification';
import { SqlBatch, sqlTime } from './sqlBatch';

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

const AUDIT_ROW_SQL = 'INSERT INTO payment_notifications (kind, out_trade_no, transaction_id, raw_body, parsed, outcome, reason, remote_ip, created_at, updated_at) ' +
  'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

/** A notification's audit row (payment_notifications), every value sized to its column: a row can be written for any body the size limit admits. */
export function auditRow(entry: NotificationAuditEntry) {
  const parsed = entry.fields ? JSON.stringify(entry.fields) : null;
  return {
    kind: entry.kind,
    rawBody: entry.rawBody,
    parsed: parsed !== null && parsed.length > PARSED_MAX_CHARS ? null : parsed,
    ...auditKeys(entry.keys ?? entry.fields),
    remoteIp: entry.remoteIp.slice(0, 64),
    outcome: entry.outcome,
    reason: entry.reason === null ? null : entry.reason.slice(0, 255),
  };
}

/**
 * The same row as an INSERT statement, for a writer's batch (settlement writes it with the change
 * it describes). Written only through NotificationAuditService (app/service/notificationAudit.ts),
 * the audit's one writer.
 */
export function auditRowStatement(entry: NotificationAuditEntry): SqlBatch {
  const row = auditRow(entry);
  const now = sqlTime(new Date());
  return {
    sql: [ AUDIT_ROW_SQL ],
    replacements: [ row.kind, row.outTradeNo, row.transactionId, row.rawBody, row.parsed, row.outcome, row.reason, row.remoteIp, now, now ],
  };
}
