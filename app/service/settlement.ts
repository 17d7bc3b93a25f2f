import { Service } from 'egg';
import {
  auditOutcomeOf, claimedTransactionId, decideNotification, decidePaid, NotificationSettlementOutcome,
  PaidFacts, PaymentSource, SettlementDecision, SettlementOutcome, SettlementRows,
} from '../domain/settlementRules';
import { inBatchTransaction, SqlBatch } from '../repository/sqlBatch';
import { SettlementRepository } from '../repository/settlementRepository';
import type { NotificationAuditEntry } from './notificationAudit';

/** A payment notification that passed the checks needing no database (XML, return_code, appid, mch_id). */
export interface ReceivedNotification {
  outTradeNo: string;
  fields: Record<string, string>;
  rawBody: string;
  remoteIp: string;
}

/**
 * The one path by which an order becomes paid, whether WeChat's notification or our order query
 * told us. Each payment is settled in one transaction with its order row and then its attempts
 * locked, so any number of concurrent callers, in any number of processes, move an order to paid
 * once and its side effects (the PAID event) happen once; a notification's audit row is written
 * in the same transaction as the change it describes. The rules themselves are
 * app/domain/settlementRules.ts.
 */
export default class SettlementService extends Service {
  /** Applies a payment learned from WeChat's order query. */
  async applyPaid(facts: PaidFacts): Promise<SettlementOutcome> {
    return this.settle(facts.outTradeNo, claimedTransactionId(facts.transactionId), 'query',
      rows => decidePaid(rows, facts, 'query', new Date()));
  }

  /**
   * Verifies a notification against its order (signature with the order's sign type, amount,
   * owner, transaction_id), applies it and records it in the audit, in one transaction. Throws if
   * that transaction could not be committed: then nothing was recorded.
   */
  async settleNotification(notification: ReceivedNotification): Promise<NotificationSettlementOutcome> {
    const { fields } = notification;
    return this.settle(notification.outTradeNo, claimedTransactionId(fields.transaction_id), 'notify',
      rows => decideNotification(rows, fields, this.config.wechat.apiKey, new Date()),
      outcome => ({ kind: 'pay', rawBody: notification.rawBody, fields, remoteIp: notification.remoteIp, ...auditOutcomeOf(outcome) }));
  }

  private async settle<O extends NotificationSettlementOutcome>(
    outTradeNo: string,
    transactionId: string | undefined,
    source: PaymentSource,
    decide: (rows: SettlementRows | null) => SettlementDecision<O>,
    audit?: (outcome: O) => NotificationAuditEntry,
  ): Promise<O> {
    const repository = new SettlementRepository();
    // Two round trips: begin and read under the locks; write and commit.
    return inBatchTransaction(this.app.model, async transaction => {
      const rows = await repository.lockPayment(outTradeNo, transactionId, transaction);
      const { outcome, changes, log } = decide(rows);
      if (log) transaction.afterCommit(() => this.ctx.logger[log.level](log.message, ...log.args));
      const event = rows ? changes.event?.type : undefined;
      if (rows && event) {
        // Rows read before channels carry no trade type: those payments were all JSAPI.
        const tradeType = rows.attempt.tradeType ?? 'JSAPI';
        transaction.afterCommit(() => this.app.metrics.paymentsApplied.inc({ source, event, trade_type: tradeType }));
      }
      // The audit row goes in the round trip of the changes and their event (alone if there are none).
      const batch: SqlBatch = { sql: [], replacements: [] };
      if (audit) this.service.notificationAudit.appendTo(batch, audit(outcome), transaction);
      if (rows) await repository.applyAndCommit(rows, changes, source, transaction, batch);
      else await repository.writeAndCommit(batch, transaction);
      return outcome;
    });
  }
}
