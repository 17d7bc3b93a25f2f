import { WechatApiError, WechatError, WechatLoginError, WechatSignatureError, WechatTransportError, WechatXmlError } from './errors';

/**
 * One finished call to WeChat, as an observer (the service's metrics) sees it:
 * - result SUCCESS: WeChat answered and the answer was good;
 * - result FAIL: WeChat answered, signed where it signs, and said no (code = its err_code / errcode);
 * - result ERROR: no trustworthy answer (code = timeout, network, http_status, not_sent, bad_signature, bad_reply, ...).
 */
export interface WechatCallRecord {
  /** The API's path, e.g. /pay/unifiedorder, /secapi/pay/refund, /sns/jscode2session. */
  api: string;
  result: 'SUCCESS' | 'FAIL' | 'ERROR';
  code: string;
  durationMs: number;
}

export type WechatCallObserver = (call: WechatCallRecord) => void;

/** A code WeChat sent back, kept only when it looks like one (it becomes a metric label: bounded, no free text). */
function safeCode(code: string): string {
  return /^[A-Za-z0-9_]{1,32}$/.test(code) ? code : 'OTHER';
}

/** What an error thrown by a client says about the call. */
export function classifyWechatError(err: unknown): Pick<WechatCallRecord, 'result' | 'code'> {
  if (err instanceof WechatApiError) return { result: 'FAIL', code: safeCode(err.errCode) };
  if (err instanceof WechatLoginError) return { result: 'FAIL', code: safeCode(String(err.errcode)) };
  if (err instanceof WechatTransportError) return { result: 'ERROR', code: err.reason };
  if (err instanceof WechatSignatureError) return { result: 'ERROR', code: 'bad_signature' };
  if (err instanceof WechatXmlError) return { result: 'ERROR', code: 'bad_reply' };
  if (err instanceof WechatError) return { result: 'ERROR', code: safeCode(err.name) };
  return { result: 'ERROR', code: 'exception' };
}

/**
 * Runs one call and tells the observer how it went and how long it took. The call's own result or
 * error passes through unchanged; an observer that throws is ignored (monitoring never breaks a payment).
 */
export async function observeCall<T>(observer: WechatCallObserver | undefined, api: string, call: () => Promise<T>): Promise<T> {
  if (!observer) return call();
  const started = process.hrtime.bigint();
  const report = (outcome: Pick<WechatCallRecord, 'result' | 'code'>) => {
    try {
      observer({ api, ...outcome, durationMs: Number(process.hrtime.bigint() - started) / 1e6 });
    } catch {
      // ignored, see above
    }
  };
  try {
    const result = await call();
    report({ result: 'SUCCESS', code: '' });
    return result;
  } catch (err) {
    report(classifyWechatError(err));
    throw err;
  }
}
