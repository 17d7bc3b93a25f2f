import { Service } from 'egg';
import { configuredApps } from '../../config/config.default';
import { decryptRefundInfo, OUT_REFUND_NO_PATTERN, parseXml, readNotification, WechatSignatureError, WechatXmlError } from '../../lib/wechatpay';
import { refundFactsFrom } from '../domain/refundRules';
import { NotificationAuditEntry } from './notificationAudit';
import { NotifyResult } from './paymentNotify';

/**
 * Handles WeChat's refund result notification (POST /payment/refund-notify): checks merchant and
 * app, decrypts req_info with the merchant key (the notification has no sign: a req_info that does
 * not decrypt is forged), and applies the result through RefundSettlementService, which checks it is
 * a refund we asked for. Only a committed change (or a repeat of one) is acknowledged. Every
 * notification answered gets one audit row (kind 'refund'), forged and broken ones included.
 */
export default class RefundNotifyService extends Service {
  async handle(raw: Buffer, remoteIp: string): Promise<NotifyResult> {
    const wechat = this.config.wechat;
    const maxBytes = this.config.payment.maxNotifyBytes;
    const entry: NotificationAuditEntry = { kind: 'refund', rawBody: raw.toString('utf8'), remoteIp, outcome: 'RECEIVED', reason: null };
    const record = (outcome: NotificationAuditEntry['outcome'], reason: string) => this.service.notificationAudit.record({ ...entry, outcome, reason });
    const reject = async (reason: string, outRefundNo?: string): Promise<NotifyResult> => {
      await record('REJECTED', reason);
      this.ctx.logger.error('[refund-notify] refused notification%s: %s', outRefundNo ? ` for refund ${outRefundNo}` : '', reason);
      return { acknowledged: false, message: reason };
    };

    try {
      const read = readNotification(raw, { appIds: configuredApps(wechat).map(a => a.appId), mchId: wechat.mchId, maxBytes });
      entry.fields = read.fields;
      if (read.refused !== undefined) return await reject(read.refused);
      const { fields } = read;
      if (!fields.req_info) return await reject('req_info is missing');

      let info: Record<string, string>;
      try {
        info = parseXml(decryptRefundInfo(fields.req_info, wechat.apiKey), { root: 'root', maxBytes });
      } catch (err) {
        if (err instanceof WechatSignatureError || err instanceof WechatXmlError) return await reject(`forged: req_info does not decrypt with our key (${err.message})`);
        throw err;
      }
      entry.fields = { ...fields, req_info: info };
      entry.keys = info;

      const outRefundNo = info.out_refund_no;
      if (!outRefundNo || !OUT_REFUND_NO_PATTERN.test(outRefundNo)) return await reject('out_refund_no is missing or malformed');
      const facts = refundFactsFrom({
        outRefundNo, outTradeNo: info.out_trade_no, transactionId: info.transaction_id, refundId: info.refund_id,
        refundFee: info.refund_fee, totalFee: info.total_fee, status: info.refund_status, successTime: info.success_time,
      });
      if ('refused' in facts) return await reject(facts.refused, outRefundNo);
      // The merchant's other app passed the check above; the refund's own payment names its app.
      // Neither the refund's attempt nor its appid ever changes, so this read needs no lock.
      const appMismatch = await this.appMismatch(outRefundNo, fields.appid);
      if (appMismatch) return await reject(appMismatch, outRefundNo);

      const outcome = await this.service.refundSettlement.applyResult(facts, 'notify');
      if (outcome.result === 'REJECTED') return await reject(outcome.reason, outRefundNo);
      await record(outcome.result === 'DUPLICATE' ? 'DUPLICATE' : 'APPLIED', `refund ${outRefundNo} ${info.refund_status}`);
      return { acknowledged: true, message: 'OK' };
    } catch (err) {
      // Not known to be recorded: keep a trace if the database still takes one; WeChat resends.
      await record('ERROR', `not settled: ${(err as Error).message}`).catch(() => undefined);
      throw err;
    }
  }

  /** Why the notification's appid is not the refunded payment's, if it is not (an unknown refund is the settlement's to refuse). */
  private async appMismatch(outRefundNo: string, appid: string): Promise<string | undefined> {
    const { Refund, PaymentAttempt } = this.app.model;
    const refund = await Refund.findOne({ where: { outRefundNo }, attributes: [ 'attemptId' ] });
    if (!refund) return undefined;
    const attempt = await PaymentAttempt.findByPk(refund.attemptId, { attributes: [ 'appid' ] });
    return attempt && attempt.appid !== appid ? 'appid is not the refunded order\'s' : undefined;
  }
}
