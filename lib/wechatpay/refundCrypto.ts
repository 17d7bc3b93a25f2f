import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { WechatSignatureError } from './errors';

function refundKey(apiKey: string): Buffer {
  // The AES-256 key is the 32 ASCII characters of the lower-case hex MD5 of the merchant key.
  return Buffer.from(createHash('md5').update(apiKey, 'utf8').digest('hex')
    .toLowerCase(), 'utf8');
}

/** Decrypts a refund notification's req_info; a payload that does not decrypt is forged. */
export function decryptRefundInfo(reqInfo: string, apiKey: string): string {
  if (!/^[A-Za-z0-9+/=\s]+$/.test(reqInfo)) throw new WechatSignatureError('req_info is not base64');
  const data = Buffer.from(reqInfo, 'base64');
  if (data.length === 0 || data.length % 16 !== 0) throw new WechatSignatureError('req_info has an invalid length');
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-ecb', refundKey(apiKey), null);
    plain = Buffer.concat([ decipher.update(data), decipher.final() ]);
  } catch {
    throw new WechatSignatureError('req_info does not decrypt with the merchant key');
  }
  // ECB has no integrity check: a wrong key passes the padding check about once in 256 tries, and
  // a tampered block other than the last always does. Such output is (almost surely) not UTF-8.
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch {
    throw new WechatSignatureError('req_info does not decrypt with the merchant key');
  }
}

/** The simulator's side of the same scheme. */
export function encryptRefundInfo(plainXml: string, apiKey: string): string {
  const cipher = createCipheriv('aes-256-ecb', refundKey(apiKey), null);
  return Buffer.concat([ cipher.update(plainXml, 'utf8'), cipher.final() ]).toString('base64');
}
