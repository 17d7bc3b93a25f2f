import { WechatApiError, WechatLoginError, WechatSignatureError, WechatTransportError, WechatXmlError } from '../../lib/wechatpay';
import { AppError, ServiceUnavailableError, UnauthorizedError, UpstreamRejectedError } from './errors';

/**
 * err_code values WeChat documents as temporary: the same request (same out_trade_no or
 * out_refund_no, same parameters) is to be sent again later. Any other business error is final.
 */
export const RETRYABLE_WECHAT_CODES: readonly string[] = [ 'SYSTEMERROR', 'BIZERR_NEED_RETRY', 'FREQUENCY_LIMITED' ];

export function isRetryableWechatCode(errCode: string): boolean {
  return RETRYABLE_WECHAT_CODES.includes(errCode);
}

/**
 * The client error a failed WeChat call means, for every call made on a client's behalf (unified
 * order, close, refund). `refusal` completes "WeChat Pay refused ...". Anything that is not a
 * WeChat failure is given back unchanged, to be rethrown as a 500.
 */
export function wechatFailureToAppError(err: unknown, refusal: string): AppError | unknown {
  if (err instanceof WechatApiError) {
    if (isRetryableWechatCode(err.errCode)) return new ServiceUnavailableError('WECHAT_BUSY', 'WeChat Pay is busy, retry the same request shortly');
    return new UpstreamRejectedError('WECHAT_PAY_REJECTED', `WeChat Pay refused ${refusal}: ${err.errCode}`);
  }
  if (err instanceof WechatTransportError) {
    return new ServiceUnavailableError('WECHAT_UNAVAILABLE', 'WeChat Pay could not be reached, retry the same request shortly');
  }
  if (err instanceof WechatSignatureError || err instanceof WechatXmlError) {
    return new UpstreamRejectedError('WECHAT_BAD_REPLY', 'WeChat Pay gave a reply that could not be trusted');
  }
  return err;
}

/**
 * The client error a failed official-account code exchange (/sns/oauth2/access_token) means.
 * WeChat answers 40029 both for a code it never issued and for one that expired (5 minutes), so
 * those two cannot be told apart; 40163 is a code used before (a refreshed callback page replays
 * it). Either way the payer starts the login again. Anything else is our credentials or WeChat.
 */
export function oauthFailureToAppError(err: unknown): AppError | unknown {
  if (err instanceof WechatLoginError) {
    if (err.errcode === 40029) return new UnauthorizedError('INVALID_OAUTH_CODE', 'the authorisation code is invalid or expired: open the page again');
    if (err.errcode === 40163) return new UnauthorizedError('OAUTH_CODE_USED', 'the authorisation code was already used: open the page again');
    if (err.errcode === -1 || err.errcode === 45011) return new ServiceUnavailableError('WECHAT_BUSY', 'WeChat is busy, try again shortly');
    return new UpstreamRejectedError('WECHAT_OAUTH_REJECTED', `WeChat refused the authorisation (errcode ${err.errcode})`);
  }
  if (err instanceof WechatTransportError) return new ServiceUnavailableError('WECHAT_UNAVAILABLE', 'WeChat could not be reached, try again shortly');
  return err;
}

// --- POS (payment code): docs/pos.md ---

/** micropay answers meaning "not known yet": the payer is entering the password, or WeChat could not say. Query, never charge again. */
export const MICROPAY_PENDING_CODES: readonly string[] = [ 'USERPAYING', 'SYSTEMERROR', 'BANKERROR' ];

const MICROPAY_FAILURES: Record<string, { code: string; advice: string }> = {
  AUTHCODEEXPIRE: { code: 'PAYMENT_CODE_EXPIRED', advice: 'the payment code has expired: ask the payer to refresh it and scan again' },
  AUTH_CODE_INVALID: { code: 'PAYMENT_CODE_INVALID', advice: 'not a valid WeChat payment code, or one already used: scan the payer\'s current code' },
  AUTH_CODE_ERROR: { code: 'PAYMENT_CODE_INVALID', advice: 'not a valid WeChat payment code, or one already used: scan the payer\'s current code' },
  NOTENOUGH: { code: 'PAYER_FUNDS_DECLINED', advice: 'the payer\'s balance or card cannot pay this: ask them to switch card' },
  NOTSUPORTCARD: { code: 'PAYER_FUNDS_DECLINED', advice: 'the payer\'s balance or card cannot pay this: ask them to switch card' },
  PAYERROR: { code: 'PAYMENT_FAILED', advice: 'the payment failed at WeChat: charge again with a new scan' },
  CLOSED: { code: 'PAYMENT_FAILED', advice: 'the payment failed at WeChat: charge again with a new scan' },
  REVOKED: { code: 'PAYMENT_FAILED', advice: 'the payment was cancelled at WeChat: charge again with a new scan' },
};

/**
 * A payment-code charge WeChat refused for good (err_code, or the trade_state a query found): our
 * stable code, and a message for the cashier that ends with WeChat's own words.
 */
export function micropayFailure(errCode: string, wechatMessage: string): { code: string; wechatCode: string; message: string } {
  const known = MICROPAY_FAILURES[errCode] ?? { code: 'WECHAT_PAY_REJECTED', advice: 'WeChat Pay refused the charge' };
  return { code: known.code, wechatCode: errCode, message: `${known.advice} (WeChat: ${wechatMessage || errCode})`.slice(0, 255) };
}
// --- end POS ---
