import { nonceStr as makeNonce } from './ids';
import { sign, SignType } from './sign';

/**
 * WeChat Pay v2 trade types of unified order (payment code is a separate API). One table says,
 * per trade type, which request field WeChat requires beyond the common ones and which reply
 * field carries what the payer needs: the pay client checks a request against it before sending,
 * the simulator checks requests against it, and the service builds the client's answer from it.
 */
export type TradeType = 'JSAPI' | 'NATIVE' | 'MWEB' | 'APP';
export const TRADE_TYPES: readonly TradeType[] = [ 'JSAPI', 'NATIVE', 'MWEB', 'APP' ];

export interface TradeTypeSpec {
  /** Request fields WeChat refuses the order without, for this trade type. */
  required: ReadonlyArray<'openid' | 'product_id' | 'scene_info'>;
  /** The reply field the payer's side needs: prepay_id for a JS/app payment, or the URL to show. */
  replyField: 'prepay_id' | 'code_url' | 'mweb_url';
  /**
   * How long that reply is usable at WeChat: prepay_id and code_url 2 hours, mweb_url 5 minutes
   * (then the cashier answers "支付请求已失效").
   */
  replyTtlMs: number;
}

export const TRADE_TYPE_SPECS: Readonly<Record<TradeType, TradeTypeSpec>> = {
  JSAPI: { required: [ 'openid' ], replyField: 'prepay_id', replyTtlMs: 2 * 3600 * 1000 },
  NATIVE: { required: [ 'product_id' ], replyField: 'code_url', replyTtlMs: 2 * 3600 * 1000 },
  MWEB: { required: [ 'scene_info' ], replyField: 'mweb_url', replyTtlMs: 5 * 60 * 1000 },
  APP: { required: [], replyField: 'prepay_id', replyTtlMs: 2 * 3600 * 1000 },
};

export function isTradeType(value: unknown): value is TradeType {
  return typeof value === 'string' && (TRADE_TYPES as readonly string[]).includes(value);
}

/** The first field a unified order of this trade type lacks, or undefined. */
export function missingTradeTypeField(tradeType: TradeType, params: Record<string, unknown>): string | undefined {
  return TRADE_TYPE_SPECS[tradeType].required.find(name => params[name] === undefined || params[name] === '');
}

/** MWEB's scene_info for a web site (h5_info type Wap), as WeChat wants it: compact JSON. */
export function h5SceneInfo(site: { wapUrl: string; wapName: string }): string {
  return JSON.stringify({ h5_info: { type: 'Wap', wap_url: site.wapUrl, wap_name: site.wapName } });
}

/** mweb_url with the merchant's return page appended, as WeChat documents it (URL-encoded). */
export function mwebUrlWithRedirect(mwebUrl: string, redirectUrl: string): string {
  return `${mwebUrl}${mwebUrl.includes('?') ? '&' : '?'}redirect_url=${encodeURIComponent(redirectUrl)}`;
}

/** What the WeChat app SDK's PayReq takes (keys as signed: lower case). */
export interface AppPayParams {
  appid: string;
  partnerid: string;
  prepayid: string;
  package: 'Sign=WXPay';
  noncestr: string;
  timestamp: string;
  sign: string;
}

/**
 * The app SDK's parameters: every key lower-case and signed, package fixed to Sign=WXPay,
 * timestamp in seconds, signed with the sign type of the unified order (WeChat checks they match).
 */
export function appPayParams(input: {
  appId: string; mchId: string; prepayId: string; apiKey: string; signType: SignType; now?: Date; nonceStr?: string;
}): AppPayParams {
  const unsigned = {
    appid: input.appId,
    partnerid: input.mchId,
    prepayid: input.prepayId,
    package: 'Sign=WXPay' as const,
    noncestr: input.nonceStr ?? makeNonce(),
    timestamp: String(Math.floor((input.now ?? new Date()).getTime() / 1000)),
  };
  return { ...unsigned, sign: sign(unsigned, input.apiKey, input.signType) };
}
