import { Service } from 'egg';
import { configuredApps } from '../../config/config.default';
import { readNotification } from '../../lib/wechatpay';
import { NotificationAuditEntry } from './notificationAudit';

export interface NotifyResult {
  /** true: answer SUCCESS (recorded, or already recorded); false: answer FAIL so WeChat resends. */
  acknowledged: boolean;
  message: string;
}

/**
 * Handles WeChat Pay's payment result notification (POST /payment/notify): verifies it (signature
 * over every field, merchant, app, amount, owner), applies it through the settlement service and
 * keeps it in the audit (payment_notifications), forged and broken ones included. Only a change
 * that is committed is acknowledged.
 *
 * Every notification answered has exactly one audit row, written before the answer: one refused on
 * its face (unreadable XML, return_code, merchant, app) here; any other by the settlement
 * transaction that applies it, atomically with the change. One that meets a database failure
 * throws (the controller answers FAIL), after an ERROR row if the database still takes one; WeChat
 * resends it, and the resend is recorded.
 */
export default class PaymentNotifyService extends Service {
  async handle(raw: Buffer, remoteIp: string): Promise<NotifyResult> {
    const rawBody = raw.toString('utf8');
    const wechat = this.config.wechat;
    let fields: Record<string, string> | undefined;
    const entry = (outcome: NotificationAuditEntry['outcome'], reason: string | null): NotificationAuditEntry =>
      ({ kind: 'pay', rawBody, fields, outcome, reason, remoteIp });
    let read;
    try {
      read = readNotification(raw, { appIds: configuredApps(wechat).map(a => a.appId), mchId: wechat.mchId, maxBytes: this.config.payment.maxNotifyBytes });
    } catch (err) {
      await this.service.notificationAudit.record(entry('ERROR', `not read: ${(err as Error).message}`)).catch(() => undefined);
      throw err;
    }
    fields = read.fields;

    const outTradeNo = read.fields?.out_trade_no;
    const refusal = read.refused ?? (outTradeNo ? undefined : 'out_trade_no is missing');
    if (refusal !== undefined) {
      await this.service.notificationAudit.record(entry('REJECTED', refusal));
      return this.refused(refusal, outTradeNo);
    }

    let outcome;
    try {
      outcome = await this.service.settlement.settleNotification({ outTradeNo: outTradeNo!, fields: read.fields!, rawBody, remoteIp });
    } catch (err) {
      // Not known to be committed (if it was after all, the resend is answered as a repeat): keep a
      // trace if the database still takes one, and let WeChat resend.
      await this.service.notificationAudit.record(entry('ERROR', `not settled: ${(err as Error).message}`)).catch(() => undefined);
      throw err;
    }
    if (outcome.result === 'REJECTED') return this.refused(outcome.reason, outTradeNo);
    return { acknowledged: true, message: 'OK' };
  }

  private refused(reason: string, outTradeNo?: string): NotifyResult {
    this.ctx.logger.error('[notify] refused notification%s: %s', outTradeNo ? ` for order ${outTradeNo}` : '', reason);
    return { acknowledged: false, message: reason };
  }
}
