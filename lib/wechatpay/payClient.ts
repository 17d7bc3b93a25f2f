import { constants } from 'node:buffer';
import * as https from 'node:https';
import { readBillReply } from './billReply';
import { WechatApiError, WechatRequestNotSentError, WechatSignatureError, WechatTransportError, WechatXmlError } from './errors';
import { httpRequest, httpRequestStream } from './http';
import { nonceStr } from './ids';
import { observeCall, WechatCallObserver } from './observe';
import { isSignType, sign, SignType, verifySign } from './sign';
import { isTradeType, missingTradeTypeField, TRADE_TYPE_SPECS, TradeType } from './tradeType';
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
  /**
   * Cap on a downloaded bill's text (decompressed). Default 256 MiB: bill lines run 250-400 bytes, so
   * that holds over 600,000 transactions, many times a large merchant's day, while bounding memory.
   */
  maxBillBytes?: number;
  /** Cap on a bill reply's bytes on the wire. Default 64 MiB: gzip shrinks a bill several-fold. */
  maxBillCompressedBytes?: number;
  /** Deadline for a whole bill download, longer than an API call's: default 120 s (timeoutMs when that is longer). */
  billTimeoutMs?: number;
  /** Mutual TLS for /secapi/ routes: PKCS#12 or PEM, plus an optional CA (the simulator's). */
  tls?: { pfx?: Buffer; passphrase?: string; cert?: Buffer; key?: Buffer; ca?: Buffer };
  /**
   * WeChat's sandbox (channels doc §6): every path under /sandboxnew, every request signed (and
   * every reply verified) with the key /sandboxnew/pay/getsignkey hands out for apiKey.
   */
  sandbox?: boolean;
  /** How long a fetched sandbox key is used before it is fetched again (its lifetime is unpublished). Default 1 h. */
  sandboxKeyTtlMs?: number;
  /** Told of every call's API, result and duration (the service's metrics). */
  observer?: WechatCallObserver;
}

export type Reply = Record<string, string>;

const MAX_STRING_LENGTH = constants.MAX_STRING_LENGTH;

export const DEFAULT_MAX_BILL_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MAX_BILL_COMPRESSED_BYTES = 64 * 1024 * 1024;
export const DEFAULT_BILL_TIMEOUT_MS = 120_000;

/** Per-call settings. */
export interface CallOptions {
  /**
   * Signs the request and verifies its reply with this sign type instead of config.signType: every
   * call made for an order must use the sign type the order was created with.
   */
  signType?: SignType;
  /**
   * Sends this appid instead of config.appId, and expects it back in the reply: a merchant sells
   * through several apps (mini-program, official account), and every call made for an order must
   * name the app the order was made in.
   */
  appId?: string;
}

export interface UnifiedOrderRequest {
  body: string;
  out_trade_no: string;
  total_fee: number;
  spbill_create_ip: string;
  notify_url: string;
  /** Which channel (TRADE_TYPE_SPECS), JSAPI when unset: decides which of the fields below WeChat requires. */
  trade_type?: TradeType;
  /** JSAPI: the payer's openid in the order's app. */
  openid?: string;
  /** NATIVE: the merchant's product id (at most 32 characters). */
  product_id?: string;
  /** MWEB: the site (h5SceneInfo()). */
  scene_info?: string;
  time_start?: string;
  time_expire?: string;
  attach?: string;
  /** Optional fields (channels doc section 7): single-product detail JSON with version 1.0, coupon tag, no_credit, invoice entry Y. */
  detail?: string;
  version?: string;
  goods_tag?: string;
  limit_pay?: 'no_credit';
  receipt?: 'Y';
}

/** Payment code (/pay/micropay): the payer's code scanned at the counter; no notify_url, no openid. */
export interface MicropayRequest {
  body: string;
  out_trade_no: string;
  total_fee: number;
  spbill_create_ip: string;
  /** 18 digits starting 10-15 (MICROPAY_AUTH_CODE_PATTERN). */
  auth_code: string;
  attach?: string;
  /** JSON, e.g. {"store_info":{"id":"SZ001","name":"..."}}. */
  scene_info?: string;
  time_expire?: string;
}

/** A WeChat payment code as the cashier's scanner reads it: 18 digits, starting 10 to 15. */
export const MICROPAY_AUTH_CODE_PATTERN = /^1[0-5]\d{16}$/;

/** The sandbox's path prefix (old sandbox; WeChat marked it deprecated but it is the one with every API). */
export const SANDBOX_PREFIX = '/sandboxnew';
export const DEFAULT_SANDBOX_KEY_TTL_MS = 3600_000;

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
  private sandboxKey?: { key: Promise<string>; fetchedAt: number };

  constructor(readonly config: PayClientConfig) {
    // The bill is returned as one string, whose length V8 bounds; a UTF-8 byte is at most one UTF-16 unit.
    for (const [ name, max ] of [[ 'maxBillBytes', MAX_STRING_LENGTH ], [ 'maxBillCompressedBytes', Number.MAX_SAFE_INTEGER ]] as const) {
      const value = config[name];
      if (value !== undefined && !(Number.isSafeInteger(value) && value > 0 && value <= max)) {
        throw new RangeError(`${name} must be a whole number of bytes from 1 to ${max}`);
      }
    }
    if (config.tls && (config.tls.pfx || config.tls.cert)) {
      this.tlsAgent = new https.Agent({ ...config.tls, keepAlive: false });
    }
  }

  /**
   * The trade type's required fields are checked before anything is sent; the reply must carry
   * the field the trade type's payer needs (prepay_id, and code_url or mweb_url).
   */
  async unifiedOrder(req: UnifiedOrderRequest, options: CallOptions = {}): Promise<Reply> {
    const tradeType = req.trade_type ?? 'JSAPI';
    if (!isTradeType(tradeType)) throw new WechatRequestNotSentError(`unsupported trade_type ${JSON.stringify(tradeType)}`);
    const missing = missingTradeTypeField(tradeType, req as unknown as Record<string, unknown>);
    if (missing) throw new WechatRequestNotSentError(`a ${tradeType} unified order needs ${missing}`);
    const reply = await this.call('/pay/unifiedorder', { ...req, trade_type: tradeType }, options);
    for (const field of new Set([ 'prepay_id', TRADE_TYPE_SPECS[tradeType].replyField ])) {
      if (!reply[field]) throw new WechatXmlError(`unified order answered SUCCESS without ${field}`);
    }
    return reply;
  }

  orderQuery(ref: { out_trade_no?: string; transaction_id?: string }, options: CallOptions = {}): Promise<Reply> {
    return this.call('/pay/orderquery', ref, options);
  }

  closeOrder(outTradeNo: string, options: CallOptions = {}): Promise<Reply> {
    return this.call('/pay/closeorder', { out_trade_no: outTradeNo }, options);
  }

  async refund(req: RefundRequest, options: CallOptions = {}): Promise<Reply> {
    if (!this.tlsAgent) throw new WechatRequestNotSentError('refund needs the merchant client certificate (TLS) configured');
    return this.call('/secapi/pay/refund', { ...req }, options, this.tlsAgent);
  }

  /** /pay/micropay: charges a scanned payment code. A USERPAYING, SYSTEMERROR or BANKERROR failure means "unknown yet": query. */
  micropay(req: MicropayRequest, options: CallOptions = {}): Promise<Reply> {
    return this.call('/pay/micropay', { ...req }, options);
  }

  /**
   * /secapi/pay/reverse (client certificate): cancels a payment-code order, refunding it if it was
   * paid. A reply (or a failure's reply) with recall=Y asks to call again.
   */
  async reverse(ref: { out_trade_no?: string; transaction_id?: string }, options: CallOptions = {}): Promise<Reply> {
    if (!this.tlsAgent) throw new WechatRequestNotSentError('reverse needs the merchant client certificate (TLS) configured');
    return this.call('/secapi/pay/reverse', { ...ref }, options, this.tlsAgent);
  }

  /**
   * The sandbox's signing key for this merchant: /sandboxnew/pay/getsignkey, signed MD5 with the
   * production key, answers it unsigned. Cached for sandboxKeyTtlMs; a failed fetch is not cached.
   */
  async sandboxSignKey(): Promise<string> {
    const ttl = this.config.sandboxKeyTtlMs ?? DEFAULT_SANDBOX_KEY_TTL_MS;
    if (this.sandboxKey && Date.now() - this.sandboxKey.fetchedAt < ttl) return this.sandboxKey.key;
    const entry = { key: this.fetchSandboxKey(), fetchedAt: Date.now() };
    this.sandboxKey = entry;
    entry.key.catch(() => {
      if (this.sandboxKey === entry) this.sandboxKey = undefined;
    });
    return entry.key;
  }

  private async fetchSandboxKey(): Promise<string> {
    const path = `${SANDBOX_PREFIX}/pay/getsignkey`;
    const params: Record<string, string> = { mch_id: this.config.mchId, nonce_str: nonceStr() };
    params.sign = sign(params, this.config.apiKey, 'MD5');
    const body = await this.post(path, buildXml(params), undefined, true);
    let reply: Reply;
    try {
      reply = parseXml(body, { maxBytes: 64 * 1024 });
    } catch (err) {
      throw new WechatXmlError(`unreadable reply from ${path}: ${(err as Error).message}`);
    }
    if (reply.return_code !== 'SUCCESS') throw new WechatApiError('return', reply.return_code || 'FAIL', reply.return_msg || 'no return_msg', reply);
    if (!reply.sandbox_signkey) throw new WechatXmlError(`${path} answered SUCCESS without sandbox_signkey`);
    return reply.sandbox_signkey;
  }

  /** The key requests are signed and replies verified with: the API key, or the sandbox's. */
  private signingKey(): Promise<string> {
    return this.config.sandbox ? this.sandboxSignKey() : Promise.resolve(this.config.apiKey);
  }

  refundQuery(
    ref: { out_refund_no?: string; out_trade_no?: string; transaction_id?: string; refund_id?: string; offset?: number },
    options: CallOptions = {},
  ): Promise<Reply> {
    return this.call('/pay/refundquery', ref, options);
  }

  /**
   * The bill as text, or a WechatApiError (e.g. "No Bill Exist") when WeChat answers XML. Asked for
   * as GZIP and read as a stream within maxBillCompressedBytes and maxBillBytes (else a
   * WechatBillTooLargeError); a GZIP body that does not decompress is a WechatBillError.
   */
  downloadBill(billDate: string, billType: 'ALL' | 'SUCCESS' | 'REFUND' = 'ALL', options: CallOptions = {}): Promise<string> {
    return observeCall(this.config.observer, '/pay/downloadbill', () => this.fetchBill(billDate, billType, options));
  }

  private async fetchBill(billDate: string, billType: 'ALL' | 'SUCCESS' | 'REFUND', options: CallOptions): Promise<string> {
    const path = '/pay/downloadbill';
    const apiKey = await this.signingKey();
    const body = this.requestBody(path, { bill_date: billDate, bill_type: billType, tar_type: 'GZIP' }, options, apiKey);
    const limits = {
      maxBytes: this.config.maxBillBytes ?? DEFAULT_MAX_BILL_BYTES,
      maxCompressedBytes: this.config.maxBillCompressedBytes ?? DEFAULT_MAX_BILL_COMPRESSED_BYTES,
    };
    const { result: text } = await httpRequestStream({
      method: 'POST',
      url: this.url(path),
      body,
      headers: { 'Content-Type': 'text/xml; charset=utf-8' },
      timeoutMs: this.config.billTimeoutMs ?? Math.max(DEFAULT_BILL_TIMEOUT_MS, this.config.timeoutMs),
    }, async res => {
      if (res.statusCode !== 200) throw new WechatTransportError(`${path} answered HTTP ${res.statusCode}`, 'http_status');
      return readBillReply(res, limits);
    });
    if (text.trimStart().startsWith('<xml')) {
      const reply = parseXml(text, { maxBytes: 64 * 1024 });
      // A busy WeChat answers like the other APIs (result_code FAIL, err_code SYSTEMERROR); bill errors come as return_code FAIL.
      if (reply.return_code === 'SUCCESS' && reply.result_code === 'FAIL') {
        throw new WechatApiError('result', reply.err_code || 'FAIL', reply.err_code_des || reply.return_msg || '', reply);
      }
      throw new WechatApiError('return', reply.error_code || reply.return_code || 'FAIL', reply.return_msg || 'downloadbill failed', reply);
    }
    return text;
  }

  /**
   * Adds appid (config.appId unless another is given), mch_id, nonce_str, sign_type and sign
   * (config.signType unless another is given) to a request.
   */
  signed(
    params: Record<string, string | number | undefined>, signType: SignType = this.config.signType, appId: string = this.config.appId,
    apiKey: string = this.config.apiKey,
  ): Record<string, string> {
    // The sign type often comes from a stored order: a value that is not one is a caller's bug, refused before sending.
    if (!isSignType(signType)) throw new RangeError(`unsupported sign type ${JSON.stringify(signType)}`);
    const out: Record<string, string> = {};
    for (const [ k, v ] of Object.entries(params)) if (v !== undefined && v !== '') out[k] = String(v);
    if (typeof appId !== 'string' || !appId) throw new RangeError('appid must be a non-empty string');
    out.appid = appId;
    out.mch_id = this.config.mchId;
    out.nonce_str = nonceStr();
    out.sign_type = signType;
    out.sign = sign(out, apiKey, signType);
    return out;
  }

  /**
   * The signed XML of a request. Whatever fails here (a value the XML builder refuses, signing)
   * fails before anything is sent, and says so with its type.
   */
  private requestBody(path: string, params: Record<string, string | number | undefined>, options: CallOptions, apiKey: string): string {
    try {
      return buildXml(this.signed(params, options.signType, options.appId, apiKey));
    } catch (err) {
      throw new WechatRequestNotSentError(`request to ${path} not sent: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private call(
    path: string, params: Record<string, string | number | undefined>, options: CallOptions, agent?: https.Agent,
  ): Promise<Reply> {
    return observeCall(this.config.observer, path, () => this.exchange(path, params, options, agent));
  }

  private async exchange(
    path: string, params: Record<string, string | number | undefined>, options: CallOptions, agent?: https.Agent,
  ): Promise<Reply> {
    const signType = options.signType ?? this.config.signType;
    const appId = options.appId ?? this.config.appId;
    const apiKey = await this.signingKey();
    const body = await this.post(path, this.requestBody(path, params, { signType, appId }, apiKey), agent);
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
    if (!verifySign(reply, apiKey, signType)) {
      throw new WechatSignatureError(`reply from ${path} has an invalid signature`);
    }
    if (reply.appid && reply.appid !== appId) throw new WechatSignatureError(`reply from ${path} names another appid`);
    if (reply.mch_id && reply.mch_id !== this.config.mchId) throw new WechatSignatureError(`reply from ${path} names another mch_id`);
    if (reply.result_code !== 'SUCCESS') {
      throw new WechatApiError('result', reply.err_code || 'FAIL', reply.err_code_des || reply.return_msg || '', reply);
    }
    return reply;
  }

  /** `prefixed`: path already carries the sandbox prefix. */
  private url(path: string, prefixed = false): string {
    const base = path.startsWith('/secapi/') && this.config.secapiBaseUrl ? this.config.secapiBaseUrl : this.config.baseUrl;
    return base.replace(/\/+$/, '') + (this.config.sandbox && !prefixed ? SANDBOX_PREFIX : '') + path;
  }

  private async post(path: string, xml: string, agent?: https.Agent, prefixed = false): Promise<Buffer> {
    const res = await httpRequest({
      method: 'POST',
      url: this.url(path, prefixed),
      body: xml,
      headers: { 'Content-Type': 'text/xml; charset=utf-8' },
      timeoutMs: this.config.timeoutMs,
      agent,
    });
    if (res.status !== 200) throw new WechatTransportError(`${path} answered HTTP ${res.status}`, 'http_status');
    return res.body;
  }
}
