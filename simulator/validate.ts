import { isIP } from 'node:net';
import { fromBeijing } from '../lib/wechatpay';

/** One failed field rule: which WeChat error code it maps to and WeChat's wording. */
export interface FieldProblem {
  errCode: 'LACK_PARAMS' | 'PARAM_ERROR';
  errCodeDes: string;
}

export function firstMissing(params: Record<string, string>, names: readonly string[]): FieldProblem | undefined {
  const name = names.find(n => !params[n]);
  return name ? { errCode: 'LACK_PARAMS', errCodeDes: `缺少参数${name}` } : undefined;
}

export function paramError(errCodeDes: string): FieldProblem {
  return { errCode: 'PARAM_ERROR', errCodeDes };
}

export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** A positive whole number of fen, as WeChat writes it (no sign, no leading zero, no decimals). */
export function isFen(text: string): boolean {
  return /^[1-9]\d{0,9}$/.test(text) && Number(text) <= 2 ** 31 - 1;
}

export function isIpAddress(text: string): boolean {
  return isIP(text) !== 0;
}

/** notify_url: absolute http(s) URL without query parameters, at most 256 characters. */
export function isNotifyUrl(text: string): boolean {
  if (text.length > 256) return false;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.search === '' && !text.includes('?');
}

/** yyyyMMddHHmmss in Beijing time, and only that form. */
export function compactTime(text: string): Date | undefined {
  return /^\d{14}$/.test(text) ? fromBeijing(text) : undefined;
}
