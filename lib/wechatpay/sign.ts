import { createHash, createHmac, hash, timingSafeEqual } from 'node:crypto';

export type SignType = 'MD5' | 'HMAC-SHA256';
export const SIGN_TYPES: readonly SignType[] = [ 'MD5', 'HMAC-SHA256' ];

export type Params = Record<string, string | number | undefined | null>;

export function isSignType(value: unknown): value is SignType {
  return value === 'MD5' || value === 'HMAC-SHA256';
}

/**
 * The string WeChat signs: every non-empty parameter except `sign`, sorted by name (ASCII),
 * joined as k=v with raw values, then `&key=<apiKey>`.
 */
export function stringToSign(params: Params, apiKey: string): string {
  let text = '';
  for (const name of Object.keys(params).sort()) {
    if (name === 'sign') continue;
    const value = params[name];
    if (value === undefined || value === null || value === '') continue;
    text += `${name}=${value}&`;
  }
  return `${text}key=${apiKey}`;
}

/** Node's one-call hash (20.12 and later): no Hash object per signature. createHash on older Nodes. */
const oneShotHash = typeof hash === 'function' ? hash : undefined;

export function sign(params: Params, apiKey: string, signType: SignType): string {
  const text = stringToSign(params, apiKey);
  if (signType === 'HMAC-SHA256') {
    return createHmac('sha256', apiKey).update(text, 'utf8').digest('hex')
      .toUpperCase();
  }
  if (signType === 'MD5') {
    return (oneShotHash ? oneShotHash('md5', text, 'hex') : createHash('md5').update(text, 'utf8').digest('hex')).toUpperCase();
  }
  throw new Error(`unsupported sign type ${String(signType)}`);
}

/** Verifies over every parameter received (unknown ones included), in constant time. */
export function verifySign(params: Params, apiKey: string, signType: SignType): boolean {
  const received = params.sign;
  if (typeof received !== 'string' || received.length === 0) return false;
  // A sign type read from a request (sign_type="SHA1") is a failed verification, not a crash.
  if (!isSignType(signType)) return false;
  const expected = Buffer.from(sign(params, apiKey, signType), 'utf8');
  // WeChat sends upper-case hex; accept either case without leaking timing on content.
  const actual = Buffer.from(received.toUpperCase(), 'utf8');
  if (actual.length !== expected.length) return false;
  return timingSafeEqual(actual, expected);
}
