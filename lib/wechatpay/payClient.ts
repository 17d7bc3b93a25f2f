import * as https from 'node:https';
import { WechatApiError, WechatRequestNotSentError, WechatSignatureError, WechatTransportError, WechatXmlError } from './errors';
import { httpRequest } from './http';
import { nonceStr } from './ids';
import { sign, SignType, verifySign } from './sign';
import { buildXml, parseXml } from './xml';

export interface PayClientConfig {
  appId: string;
  mchId: string;
  apiKey: string;
  signType: SignType;
  /** e.g. https://api.mch.weixin.qq.com, or the simulator's address. */
  baseUrl: string;
  /** Where /secapi/ routes go (mutual TLS); baseUrl when unset. */
  secapiBaseUrl?: string;
  timeoutMs: number;
  /** Mutual TLS for /secapi/ routes: PKCS#12 or PEM, plus an optional CA (the simulator's). */
  tls?: { pfx?: Buffer; passphrase?: string; cert?: Buffer; key?: Buffer; ca?: Buffer };
}

export type Reply = Record<string, string>;

export interface UnifiedOrderRequest {
  body: string;
  out_trade_no: string;
  total_fee: number;
  spbill_create_ip: string;
  notify_url: string;
  openid: string;
  time_start?: string;
  time_expire?: string;
  attach?: string;
}

export interface RefundRequest {
  out_trade_no?: string;
  transaction_id?: string;
  out_refund_no: string;
  total_fee: number;
  refund_fee: number;
  refund_desc?: string;
  notify_url?: string;
}

/**
 * Speaks WeChat Pay v2: signs requests, checks return_code, the reply's sign and result_code, and
 * turns every failure into a typed error. No retries here: the caller decides, knowing whether the
 * operation is safe to repeat.
 */
export class WechatPayClient {
  private readonly tlsAgent?: https.Agent;

  constructor(readonly config: PayClientConfig) {
    if (config.tls && (config.tls.pfx || config.tls.cert)) {
      this.tlsAgent = new https.Agent({ ...config.tls, keepAlive: false });
    }
  }

  unifiedOrder(req: UnifiedOrderRequest): Promise<Reply> {
    return this.call('/pay/unifiedorder', { ...req, trade_type: 'JSAPI' });
  }

  orderQuery(ref: { out_trade_no?: string; transaction_id?: string }): Promise<Reply> {
    return this.call('/pay/orderquery', ref);
  }

  closeOrder(outTradeNo: string): Promise<Reply> {
    return this.call('/pay/closeorder', { out_trade_no: outTradeNo });
  }

  async refund(req: RefundRequest): Promise<Reply> {
    if (!this.tlsAgent) throw new WechatRequestNotSentError('refund needs the merchant client certificate (TLS) configured');
    return this.call('/secapi/pay/refund', { ...req }, this.tlsAgent);
  }

  refundQuery(ref: { out_refund_no?: string; out_trade_no?: string; transaction_id?: string; refund_id?: string; offset?: number }): Promise<Reply> {
    return this.call('/pay/refundquery', ref);
  }

  /** The bill as text, or a WechatApiError (e.g. "No Bill Exist") when WeChat answers XML. */
  async downloadBill(billDate: string, billType: 'ALL' | 'SUCCESS' | 'REFUND' = 'ALL'): Promise<string> {
    const res = await this.post('/pay/downloadbill', this.requestBody('/pay/downloadbill', { bill_date: billDate, bill_type: billType }));
    const text = res.toString('utf8');
    if (text.trimStart().startsWith('<xml')) {
      const reply = parseXml(text, { maxBytes: 64 * 1024 });
      throw new WechatApiError('return', reply.error_code || reply.return_code || 'FAIL', reply.return_msg || 'downloadbill failed', reply);
    }
    return text;
  }

  /** Adds appid, mch_id, nonce_str, sign_type and sign to a request. */
  signed(params: Record<string, string | number | undefined>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [ k, v ] of Object.entries(params)) if (v !== undefined && v !== '') out[k] = String(v);
    out.appid = this.config.appId;
    out.mch_id = this.config.mchId;
    out.nonce_str = nonceStr();
    out.sign_type = this.config.signType;
    out.sign = sign(out, this.config.apiKey, this.config.signType);
    return out;
  }

  /**
   * The signed XML of a request. Whatever fails here (a value the XML builder refuses, signing)
   * fails before anything is sent, and says so with its type.
   */
  private requestBody(path: string, params: Record<string, string | number | undefined>): string {
    try {
      return buildXml(this.signed(params));
    } catch (err) {
      throw new WechatRequestNotSentError(`request to ${path} not sent: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async call(path: string, params: Record<string, string | number | undefined>, agent?: https.Agent): Promise<Reply> {
    const body = await this.post(path, this.requestBody(path, params), agent);
    let reply: Reply;
    try {
      reply = parseXml(body, { maxBytes: 256 * 1024 });
    } catch (err) {
      throw new WechatXmlError(`unreadable reply from ${path}: ${(err as Error).message}`);
    }
    if (reply.return_code !== 'SUCCESS') {
      throw new WechatApiError('return', reply.return_code || 'FAIL', reply.return_msg || 'no return_msg', reply);
    }
    // Replies are signed with the request's sign type; an unsigned or forged reply is not trusted.
    if (!verifySign(reply, this.config.apiKey, this.config.signType)) {
      throw new WechatSignatureError(`reply from ${path} has an invalid signature`);
    }
    if (reply.appid && reply.appid !== this.config.appId) throw new WechatSignatureError(`reply from ${path} names another appid`);
    if (reply.mch_id && reply.mch_id !== this.config.mchId) throw new WechatSignatureError(`reply from ${path} names another mch_id`);
    if (reply.result_code !== 'SUCCESS') {
      throw new WechatApiError('result', reply.err_code || 'FAIL', reply.err_code_des || reply.return_msg || '', reply);
    }
    return reply;
  }

  private async post(path: string, xml: string, agent?: https.Agent): Promise<Buffer> {
    const base = path.startsWith('/secapi/') && this.config.secapiBaseUrl ? this.config.secapiBaseUrl : this.config.baseUrl;
    const res = await httpRequest({
      method: 'POST',
      url: base.replace(/\/+$/, '') + path,
      body: xml,
      headers: { 'Content-Type': 'text/xml; charset=utf-8' },
      timeoutMs: this.config.timeoutMs,
      agent,
    });
    if (res.status !== 200) throw new WechatTransportError(`${path} answered HTTP ${res.status}`, 'http_status');
    return res.body;
  }
}
