import { randomBytes, randomInt } from 'node:crypto';

const ALPHANUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A nonce_str from a cryptographic source: 32 letters and digits (WeChat's maximum). */
export function nonceStr(length = 32): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHANUM[randomInt(ALPHANUM.length)];
  return out;
}

/**
 * A merchant number (out_trade_no, out_refund_no): prefix, UTC timestamp to the second, then
 * 64 random bits. Uniqueness across processes and hosts rests on the random part, not on any
 * process state; the database's unique key is the final guard. Length: prefix + 14 + 16 <= 32.
 */
export function merchantNumber(prefix = ''): string {
  if (!/^[A-Za-z0-9]{0,2}$/.test(prefix)) throw new Error('prefix must be at most 2 letters or digits');
  const d = new Date();
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const stamp = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}` +
    `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
  return `${prefix}${stamp}${randomBytes(8).toString('hex')}`;
}

export const OUT_TRADE_NO_PATTERN = /^[A-Za-z0-9_\-|*]{1,32}$/;
export const OUT_REFUND_NO_PATTERN = /^[A-Za-z0-9_\-|*@]{1,64}$/;
