import { Service } from 'egg';
import { isSignType, parseXml, verifySign, WechatXmlError } from '../../lib/wechatpay';

export interface NotifyResult {
  /** true: answer SUCCESS (recorded, or already recorded); false: answer FAIL so WeChat resends. */
  acknowledged: boolean;
  message: string;
}

const FIELD_LIMIT = 32;

/**
 * Handles WeChat Pay's payment result notification: stores it raw, verifies it (signature over
 * every field, merchant, app, amount, owner) and applies it through the settlement path. Only
 * a change that is committed is acknowledged.
 */
export default class PaymentNotifyService extends Service {
  async handle(raw: Buffer, remoteIp: string): Promise<NotifyResult> {
    const { PaymentNotification, PaymentAttempt } = this.app.model;
    // Stored before anything else: the audit keeps forged and broken notifications too. If the
    // database is down this throws and WeChat gets FAIL, to resend later.
    const record = await PaymentNotification.create({
      kind: 'pay', outTradeNo: null, transactionId: null, rawBody: raw.toString('utf8'), parsed: null, remoteIp,
    });
    const reject = async (reason: string, outTradeNo?: string): Promise<NotifyResult> => {
      await record.update({ outcome: 'REJECTED', reason: reason.slice(0, 255) });
      this.ctx.logger.error('[notify] refused notification %d%s: %s', record.id, outTradeNo ? ` for order ${outTradeNo}` : '', reason);
      return { acknowledged: false, message: reason };
    };

    let fields: Record<string, string>;
    try {
      fields = parseXml(raw, { maxBytes: this.config.payment.maxNotifyBytes });
    } catch (err) {
      if (err instanceof WechatXmlError) return reject(`unreadable XML: ${err.message}`);
      throw err;
    }
    const outTradeNo = fields.out_trade_no;
    await record.update({
      parsed: JSON.stringify(fields),
      outTradeNo: typeof outTradeNo === 'string' ? outTradeNo.slice(0, FIELD_LIMIT) : null,
      transactionId: typeof fields.transaction_id === 'string' ? fields.transaction_id.slice(0, FIELD_LIMIT) : null,
    });

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
      await record.update({ outcome: 'APPLIED', reason: `payment failed: ${fields.err_code ?? ''}`.slice(0, 255) });
      this.ctx.logger.info('[notify] order %s: payment failed at WeChat: %s', outTradeNo, fields.err_code ?? '');
      return { acknowledged: true, message: 'OK' };
    }
    const totalFee = /^[1-9][0-9]{0,9}$/.test(fields.total_fee ?? '') ? Number(fields.total_fee) : NaN;
    if (!Number.isSafeInteger(totalFee)) return reject(`total_fee ${JSON.stringify(fields.total_fee ?? null)} is not a positive integer`, outTradeNo);
    if (!fields.transaction_id || !/^[0-9A-Za-z]{1,32}$/.test(fields.transaction_id)) return reject('transaction_id is missing or malformed', outTradeNo);

    const outcome = await this.service.settlement.applyPaid({
      outTradeNo,
      transactionId: fields.transaction_id,
      totalFee,
      timeEnd: fields.time_end,
      bankType: fields.bank_type,
      openid: fields.openid,
    }, 'notify');
    if (outcome.result === 'REJECTED') return reject(outcome.reason, outTradeNo);
    await record.update({ outcome: outcome.result === 'DUPLICATE' ? 'DUPLICATE' : 'APPLIED', reason: outcome.result });
    return { acknowledged: true, message: 'OK' };
  }
}
