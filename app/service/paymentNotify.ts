import { Service } from 'egg';
import { isSignType, parseXml, verifySign, WechatXmlError } from '../../lib/wechatpay';
import { NotificationOutcome } from '../model/paymentNotification';

export interface NotifyResult {
  /** true: answer SUCCESS (recorded, or already recorded); false: answer FAIL so WeChat resends. */
  acknowledged: boolean;
  message: string;
}

const FIELD_LIMIT = 32;

/**
 * Handles WeChat Pay's payment result notification: verifies it (signature over every field,
 * merchant, app, amount, owner), applies it through the settlement path and keeps it in the
 * audit (payment_notifications), forged and broken ones included. Only a change that is committed
 * is acknowledged.
 *
 * Every notification answered has exactly one audit row, written before the answer; one that
 * meets a database failure gets FAIL instead (its row may be missing: WeChat resends it, and the
 * resend is recorded). The row is written in one INSERT with its outcome where the outcome is
 * known without a transaction (refusals, repeats); a notification that settles is inserted as
 * RECEIVED first, so it stays on record if the settlement fails, and its outcome is written inside
 * the settlement transaction. Each commit costs a disk flush: this keeps them to one or two.
 */
export default class PaymentNotifyService extends Service {
  async handle(raw: Buffer, remoteIp: string): Promise<NotifyResult> {
    const { PaymentNotification, PaymentAttempt } = this.app.model;
    let fields: Record<string, string> | undefined;
    const record = (outcome: NotificationOutcome, reason: string | null) => PaymentNotification.create({
      kind: 'pay',
      rawBody: raw.toString('utf8'),
      parsed: fields ? JSON.stringify(fields) : null,
      outTradeNo: typeof fields?.out_trade_no === 'string' ? fields.out_trade_no.slice(0, FIELD_LIMIT) : null,
      transactionId: typeof fields?.transaction_id === 'string' ? fields.transaction_id.slice(0, FIELD_LIMIT) : null,
      remoteIp,
      outcome,
      reason: reason === null ? null : reason.slice(0, 255),
    });
    const reject = async (reason: string, outTradeNo?: string): Promise<NotifyResult> => {
      const row = await record('REJECTED', reason);
      this.ctx.logger.error('[notify] refused notification %d%s: %s', row.id, outTradeNo ? ` for order ${outTradeNo}` : '', reason);
      return { acknowledged: false, message: reason };
    };

    try {
      fields = parseXml(raw, { maxBytes: this.config.payment.maxNotifyBytes });
    } catch (err) {
      if (err instanceof WechatXmlError) return reject(`unreadable XML: ${err.message}`);
      await record('RECEIVED', null);
      throw err;
    }
    const outTradeNo = fields.out_trade_no;
    if (fields.return_code !== 'SUCCESS') return reject(`return_code is ${fields.return_code ?? 'missing'}`, outTradeNo);
    if (!outTradeNo) return reject('out_trade_no is missing');
    const wechat = this.config.wechat;
    if (fields.appid !== wechat.appId) return reject('appid is not ours', outTradeNo);
    if (fields.mch_id !== wechat.mchId) return reject('mch_id is not ours', outTradeNo);

    const attempt = await PaymentAttempt.findOne({ where: { outTradeNo } });
    if (!attempt) return reject('unknown out_trade_no', outTradeNo);
    // Signed with the sign type of the unified order that created it; the field itself is often absent.
    const signType = attempt.signType;
    if (!isSignType(signType)) throw new Error(`attempt ${attempt.id} has sign type ${signType}`);
    if (fields.sign_type !== undefined && fields.sign_type !== signType) return reject('sign_type differs from the order\'s', outTradeNo);
    if (!verifySign(fields, wechat.apiKey, signType)) return reject('signature does not verify', outTradeNo);

    if (fields.result_code !== 'SUCCESS') {
      // A failed payment changes nothing: the order stays payable. Record what WeChat said.
      await attempt.update({ errCode: (fields.err_code ?? 'PAYERROR').slice(0, 32), errCodeDes: (fields.err_code_des ?? '').slice(0, 255) });
      await record('APPLIED', `payment failed: ${fields.err_code ?? ''}`);
      this.ctx.logger.info('[notify] order %s: payment failed at WeChat: %s', outTradeNo, fields.err_code ?? '');
      return { acknowledged: true, message: 'OK' };
    }
    const totalFee = /^[1-9][0-9]{0,9}$/.test(fields.total_fee ?? '') ? Number(fields.total_fee) : NaN;
    if (!Number.isSafeInteger(totalFee)) return reject(`total_fee ${JSON.stringify(fields.total_fee ?? null)} is not a positive integer`, outTradeNo);
    if (!fields.transaction_id || !/^[0-9A-Za-z]{1,32}$/.test(fields.transaction_id)) return reject('transaction_id is missing or malformed', outTradeNo);

    // WeChat resends until it hears SUCCESS: a repeat of a payment already recorded is answered
    // from the attempt row. Its transaction_id is written once, by the settlement transaction,
    // and never changes, so no lock is needed to know this is the same payment.
    if (attempt.transactionId === fields.transaction_id && attempt.totalFee === totalFee) {
      await record('DUPLICATE', 'DUPLICATE');
      return { acknowledged: true, message: 'OK' };
    }

    const received = await record('RECEIVED', null);
    const outcome = await this.service.settlement.applyPaid({
      outTradeNo,
      transactionId: fields.transaction_id,
      totalFee,
      timeEnd: fields.time_end,
      bankType: fields.bank_type,
      openid: fields.openid,
    }, 'notify', {
      recordOutcome: (result, transaction) => PaymentNotification.update(result.result === 'REJECTED'
        ? { outcome: 'REJECTED', reason: result.reason.slice(0, 255) }
        : { outcome: result.result === 'DUPLICATE' ? 'DUPLICATE' : 'APPLIED', reason: result.result },
      { where: { id: received.id }, transaction }),
    });
    if (outcome.result === 'REJECTED') {
      this.ctx.logger.error('[notify] refused notification %d for order %s: %s', received.id, outTradeNo, outcome.reason);
      return { acknowledged: false, message: outcome.reason };
    }
    return { acknowledged: true, message: 'OK' };
  }
}
