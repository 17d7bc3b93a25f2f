import { nonceStr as makeNonce } from './ids';
import { readPostedXml } from './notification';
import { sign, verifySign } from './sign';
import { buildXml, toXmlText } from './xml';

/**
 * NATIVE payment, mode 1 (模式一): a static QR code names a product, not an order. When a payer
 * scans it, WeChat POSTs the merchant's scan callback URL (set on the merchant platform) with the
 * payer's openid and the product_id; the merchant makes the order, calls unified order
 * (trade_type NATIVE) and answers with its prepay_id, and WeChat opens the cashier. The code and
 * both messages of the callback are signed with MD5, whatever sign type the merchant orders with.
 */
export const STATIC_CODE_PREFIX = 'weixin://wxpay/bizpayurl?';

/** WeChat's limit on product_id (String(32)). */
export const PRODUCT_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** The fields a static code's sign covers. */
export interface StaticCodeFields {
  appid: string;
  mch_id: string;
  product_id: string;
  time_stamp: string;
  nonce_str: string;
}

/** A static code for a product: the URL to print as a QR code, signed with the merchant's key (MD5). */
export function staticCodeUrl(input: { appId: string; mchId: string; productId: string; apiKey: string; now?: Date; nonceStr?: string }): string {
  if (!PRODUCT_ID_PATTERN.test(input.productId)) throw new Error(`product_id ${JSON.stringify(input.productId)} is not 1 to 32 letters, digits, _ or -`);
  const fields: StaticCodeFields = {
    appid: input.appId,
    mch_id: input.mchId,
    product_id: input.productId,
    time_stamp: String(Math.floor((input.now ?? new Date()).getTime() / 1000)),
    nonce_str: input.nonceStr ?? makeNonce(),
  };
  const query = new URLSearchParams({ sign: sign({ ...fields }, input.apiKey, 'MD5'), ...fields });
  return `${STATIC_CODE_PREFIX}${query.toString()}`;
}

/** A static code's fields and sign, or undefined if the text is not one (the sign is not checked here). */
export function parseStaticCodeUrl(url: string): (StaticCodeFields & { sign: string }) | undefined {
  if (!url.startsWith(STATIC_CODE_PREFIX)) return undefined;
  const query = new URLSearchParams(url.slice(STATIC_CODE_PREFIX.length));
  const names = [ 'appid', 'mch_id', 'product_id', 'time_stamp', 'nonce_str', 'sign' ] as const;
  if (names.some(name => !query.get(name))) return undefined;
  const [ appid, mch_id, product_id, time_stamp, nonce_str, signature ] = names.map(name => query.get(name)!);
  return { appid, mch_id, product_id, time_stamp, nonce_str, sign: signature };
}

/** The scan callback as read: its fields, or why it is refused (the reply is then return_code FAIL). */
export type ReadScanCallback =
  | { fields: ScanCallbackFields; refused?: undefined }
  | { fields?: Record<string, string>; refused: string };

export interface ScanCallbackFields {
  appid: string;
  mch_id: string;
  openid: string;
  product_id: string;
  nonce_str: string;
  /** Y: the payer follows the official account. */
  is_subscribe?: string;
}

/**
 * Reads WeChat's scan callback and checks what needs no database: well-formed flat XML within
 * `maxBytes`, the merchant's mch_id and one of its appids, every field present, and the MD5 sign
 * over all of them with the merchant's key. A body that is not XML is refused; any other failure
 * is thrown.
 */
export function readScanCallback(raw: Buffer, expect: { appIds: readonly string[]; mchId: string; apiKey: string; maxBytes: number }): ReadScanCallback {
  const read = readPostedXml(raw, expect.maxBytes);
  if (read.refused !== undefined) return read;
  const { fields } = read;
  const missing = [ 'appid', 'mch_id', 'openid', 'product_id', 'nonce_str', 'sign' ].find(name => !fields[name]);
  if (missing) return { fields, refused: `${missing} is missing` };
  if (!expect.appIds.includes(fields.appid)) return { fields, refused: 'appid is not ours' };
  if (fields.mch_id !== expect.mchId) return { fields, refused: 'mch_id is not ours' };
  if (!verifySign(fields, expect.apiKey, 'MD5')) return { fields, refused: 'signature does not verify' };
  if (!PRODUCT_ID_PATTERN.test(fields.product_id)) return { fields, refused: 'product_id is malformed' };
  const { appid, mch_id, openid, product_id, nonce_str, is_subscribe } = fields;
  return { fields: { appid, mch_id, openid, product_id, nonce_str, is_subscribe } };
}

/**
 * The merchant's answer to a scan callback it could read: signed (MD5), with the prepay_id WeChat
 * opens the cashier with, or result_code FAIL and the reason the payer is shown (err_code_des).
 */
export function scanCallbackReply(input: {
  appId: string; mchId: string; apiKey: string; prepayId?: string; failure?: string; nonceStr?: string;
}): string {
  const fields: Record<string, string | undefined> = {
    return_code: 'SUCCESS',
    appid: input.appId,
    mch_id: input.mchId,
    nonce_str: input.nonceStr ?? makeNonce(),
    prepay_id: input.failure === undefined ? input.prepayId : undefined,
    result_code: input.failure === undefined ? 'SUCCESS' : 'FAIL',
    err_code_des: input.failure === undefined ? undefined : toXmlText(input.failure),
  };
  if (input.failure === undefined && !input.prepayId) throw new Error('a successful scan reply needs its prepay_id');
  return buildXml({ ...fields, sign: sign(fields, input.apiKey, 'MD5') });
}

/** The answer to a scan callback that could not be read or trusted: return_code FAIL, unsigned. */
export function scanCallbackRefusal(message: string): string {
  return buildXml({ return_code: 'FAIL', return_msg: toXmlText(message) });
}
