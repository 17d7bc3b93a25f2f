import { createHash, randomBytes, randomInt } from 'node:crypto';
import { beijingDay, nonceStr, toBeijingCompact } from '../lib/wechatpay';

/** n random decimal digits, n <= 14 (randomInt's range is below 2^48); one draw, uniform. */
function digits(n: number): string {
  return String(randomInt(10 ** n)).padStart(n, '0');
}

/** Like WeChat's: `wx` + Beijing time to the second + 20 hex characters (36 in all). */
export function newPrepayId(now: Date): string {
  return `wx${toBeijingCompact(now)}${randomBytes(10).toString('hex')}`;
}

/** 28 digits starting 4200, with the Beijing day inside, as WeChat Pay's are. */
export function newTransactionId(now: Date): string {
  return `4200${digits(6)}${beijingDay(now)}${digits(10)}`;
}

/** 29 digits starting 50, as WeChat Pay's refund ids are. */
export function newRefundId(now: Date): string {
  return `50${digits(5)}${beijingDay(now)}${digits(14)}`;
}

/** An openid-shaped value: `o` + 27 base64url characters. */
export function randomOpenid(): string {
  return `o${randomBytes(21).toString('base64url').slice(0, 27)}`;
}

/** The openid a `test-...` login code stands for: stable across runs, different per code. */
export function openidFromTestCode(code: string): string {
  return `o${createHash('sha256').update(code, 'utf8').digest('base64url')
    .slice(0, 27)}`;
}

/** A wx.login()-shaped code (32 letters and digits). */
export function newLoginCode(): string {
  return nonceStr(32);
}

export function newSessionKey(): string {
  return randomBytes(16).toString('base64');
}

/** WeChat appends a request id to login error messages; support staff ask for it. */
export function newRid(): string {
  return `${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;
}

/** A NATIVE (mode 2) code_url: opaque to the merchant, rendered unchanged as a QR code. */
export function newCodeUrl(): string {
  return `weixin://wxpay/bizpayurl?pr=${randomBytes(6).toString('base64url')}`;
}

/** The package of an mweb_url: what ties the cashier page to one issued URL. */
export function newMwebPackage(): string {
  return String(randomInt(10 ** 9, 10 ** 10));
}
