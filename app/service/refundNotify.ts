import { Service } from 'egg';
import { decryptRefundInfo, OUT_REFUND_NO_PATTERN, parseXml, readNotification, WechatSignatureError, WechatXmlError } from '../../lib/wechatpay';
import { NotifyResult } from '../lib/paymentNotify';
import { auditKeys } from '../model/paymentNotification';
import { refundFactsFrom } from './refundSettlement';

/**
 * Handles WeChat's refund result notification: stores it raw (kind 'refund'), checks merchant and
 * app, decrypts req_info with the merchant key (the notification has no sign: a req_info that
 * does not decrypt is forged), and applies the result through RefundSettlementService, which
 * checks it is a refund we asked for. Only a committed change (or a repeat of one) is acknowledged.
 */
export default class RefundNotifyService extends Service {
  async handle(raw: Buffer, remoteIp: string): Promise<NotifyResult> {
    const { PaymentNotification } = this.app.model;
    const wechat = this.config.wechat;
    // Stored first, forged and broken ones too; if the database is down this throws and WeChat resends.
    const record = await PaymentNotification.create({
      kind: 'refund', outTradeNo: null, transactionId: null, rawBody: raw.toString('utf8'), parsed: null, remoteIp,
    });
    const reject = async (reason: string, outRefundNo?: string): Promise<NotifyResult> => {
      await record.update({ outcome: 'REJECTED', reason: reason.slice(0, 255) });
      this.ctx.logger.error('[refund-notify] refused notification %d%s: %s', record.id, outRefundNo ? ` for refund ${outRefundNo}` : '', reason);
      return { acknowledged: false, message: reason };
    };

    const read = readNotification(raw, { appId: wechat.appId, mchId: wechat.mchId, maxBytes: this.config.payment.maxNotifyBytes });
    if (read.fields) await record.update({ parsed: JSON.stringify(read.fields) });
    if (read.refused !== undefined) return reject(read.refused);
    const { fields } = read;
    if (!fields.req_info) return reject('req_info is missing');

    let info: Record<string, string>;
    try {
      info = parseXml(decryptRefundInfo(fields.req_info, wechat.apiKey), { root: 'root', maxBytes: this.config.payment.maxNotifyBytes });
    } catch (err) {
      if (err instanceof WechatSignatureError || err instanceof WechatXmlError) return reject(`forged: req_info does not decrypt with our key (${err.message})`);
      throw err;
    }
    const outRefundNo = info.out_refund_no;
    await record.update({
      parsed: JSON.stringify({ ...fields, req_info: info }),
      ...auditKeys(info),
    });

    if (!outRefundNo || !OUT_REFUND_NO_PATTERN.test(outRefundNo)) return reject('out_refund_no is missing or malformed');
    const facts = refundFactsFrom({
      outRefundNo, outTradeNo: info.out_trade_no, transactionId: info.transaction_id, refundId: info.refund_id,
      refundFee: info.refund_fee, totalFee: info.total_fee, status: info.refund_status, successTime: info.success_time,
    });
    if ('refused' in facts) return reject(facts.refused, outRefundNo);

    const outcome = await this.service.refundSettlement.applyResult(facts, 'notify');
    if (outcome.result === 'REJECTED') return reject(outcome.reason, outRefundNo);
    await record.update({ outcome: outcome.result === 'DUPLICATE' ? 'DUPLICATE' : 'APPLIED', reason: `refund ${outRefundNo} ${info.refund_status}`.slice(0, 255) });
    return { acknowledged: true, message: 'OK' };
  }
}
