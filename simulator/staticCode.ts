import { buildXml, httpRequest, nonceStr, parseStaticCodeUrl, parseXml, sign, verifySign } from '../lib/wechatpay';
import { Credentials } from './credentials';
import { randomOpenid } from './ids';
import { Payer, PayerError } from './payer';
import { OrderBook } from './state';
import { PaymentRecord, PayOptions } from './types';

const MAX_REPLY_BYTES = 16 * 1024;

export interface ScanStaticCodeOptions extends PayOptions {
  /** Where the scan is POSTed; the merchant's scanCallbackUrl when unset. */
  callbackUrl?: string;
}

/**
 * NATIVE mode 1, WeChat's side: the payer scans a merchant's static code (weixin://wxpay/bizpayurl?
 * ...product_id...), WeChat checks its MD5 sign, POSTs the merchant's scan callback with the payer's
 * openid, checks the signed reply and opens the cashier on the prepay_id it names, which must be a
 * NATIVE unified order of that merchant and app, still payable. Then the payer pays as for any order.
 */
export class StaticCodeScanner {
  constructor(private readonly o: { credentials: Credentials; orders: OrderBook; payer: Payer; timeoutMs: number }) {}

  async scan(codeUrl: string, options: ScanStaticCodeOptions = {}): Promise<PaymentRecord> {
    const code = parseStaticCodeUrl(codeUrl);
    if (!code) throw new PayerError('this code is not a WeChat Pay code', 404);
    const merchant = this.o.credentials.merchant(code.mch_id);
    if (!merchant || !merchant.appIds.includes(code.appid)) throw new PayerError('this code names no merchant of its app', 404);
    if (!verifySign({ ...code }, merchant.apiKey, 'MD5')) throw new PayerError('签名错误: the code\'s sign does not verify', 422);
    const url = options.callbackUrl ?? merchant.scanCallbackUrl;
    if (!url) throw new PayerError('the merchant has set no scan callback URL', 409);
    if (options.openid !== undefined && !/^[A-Za-z0-9_-]{1,128}$/.test(options.openid)) throw new PayerError('openid must be 1-128 of A-Z a-z 0-9 _ -', 422);
    const openid = options.openid ?? randomOpenid();

    const callback: Record<string, string> = {
      appid: code.appid, openid, mch_id: code.mch_id, is_subscribe: 'N', nonce_str: nonceStr(), product_id: code.product_id,
    };
    let replyText: string;
    try {
      const res = await httpRequest({
        method: 'POST', url, body: buildXml({ ...callback, sign: sign(callback, merchant.apiKey, 'MD5') }),
        headers: { 'Content-Type': 'text/xml' }, timeoutMs: this.o.timeoutMs, maxBytes: MAX_REPLY_BYTES,
      });
      replyText = res.body.toString('utf8');
    } catch (err) {
      throw new PayerError(`the merchant's scan callback did not answer: ${(err as Error).message}`, 502);
    }
    let reply: Record<string, string>;
    try {
      reply = parseXml(replyText);
    } catch {
      throw new PayerError('the merchant\'s scan callback answered something that is not XML', 502);
    }
    if (reply.return_code !== 'SUCCESS') throw new PayerError(`the merchant refused the scan: ${reply.return_msg ?? 'no reason'}`, 502);
    if (!verifySign(reply, merchant.apiKey, 'MD5')) throw new PayerError('签名错误: the merchant\'s reply is not signed with its key', 502);
    if (reply.appid !== code.appid || reply.mch_id !== code.mch_id) throw new PayerError('the merchant\'s reply names another app or merchant', 502);
    // The payer is shown the merchant's reason (err_code_des) and cannot pay.
    if (reply.result_code !== 'SUCCESS') throw new PayerError(reply.err_code_des || 'the merchant cannot take this payment', 409);
    const order = this.o.orders.findByPrepayId(code.mch_id, reply.prepay_id ?? '');
    if (!order || order.appId !== code.appid || order.tradeType !== 'NATIVE') {
      throw new PayerError('the merchant\'s reply names no NATIVE order of this code\'s app', 502);
    }
    return this.o.payer.pay(order.outTradeNo, { ...options, openid });
  }
}
