import { WechatLoginError, WechatTransportError } from './errors';
import { httpRequest } from './http';
import { observeCall, WechatCallObserver } from './observe';

export interface OAuthClientConfig {
  /** The official account's appid and secret. */
  appId: string;
  appSecret: string;
  /** Where /sns/oauth2/access_token is: https://api.weixin.qq.com, or the simulator. */
  apiBaseUrl: string;
  /** Where the payer's browser is sent to authorise: https://open.weixin.qq.com, or the simulator. */
  authorizeBaseUrl: string;
  timeoutMs: number;
  /** Told of every call's API, result and duration (the service's metrics). */
  observer?: WechatCallObserver;
}

export interface OAuthTokenResult {
  openid: string;
  scope: string;
  /** Sent only when the account is bound to an Open Platform account (and, per WxJava, not for snsapi_base). */
  unionid?: string;
}

export type OAuthScope = 'snsapi_base' | 'snsapi_userinfo';

/** Official-account web authorisation (网页授权): the authorize URL and the code exchange. */
export class WechatOAuthClient {
  constructor(readonly config: OAuthClientConfig) {}

  /**
   * The URL to send the payer's WeChat browser to. `state` is echoed back (a-zA-Z0-9, at most 128
   * bytes); `#wechat_redirect` must stay last or WeChat refuses the request.
   */
  authorizeUrl(redirectUri: string, state: string, scope: OAuthScope = 'snsapi_base'): string {
    if (!/^[A-Za-z0-9]{1,128}$/.test(state)) throw new RangeError('state must be 1-128 of a-z A-Z 0-9');
    const url = new URL(this.config.authorizeBaseUrl.replace(/\/+$/, '') + '/connect/oauth2/authorize');
    // WeChat reads the parameters in this order; URLSearchParams keeps it.
    url.searchParams.set('appid', this.config.appId);
    url.searchParams.set('redirect_uri', redirectUri);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('scope', scope);
    url.searchParams.set('state', state);
    return `${url.toString()}#wechat_redirect`;
  }

  /** Exchanges a code (single use, 5 minutes) for the payer's openid; WeChat's refusals are WechatLoginError. */
  exchangeCode(code: string): Promise<OAuthTokenResult> {
    return observeCall(this.config.observer, '/sns/oauth2/access_token', () => this.exchangeCodeOnce(code));
  }

  private async exchangeCodeOnce(code: string): Promise<OAuthTokenResult> {
    const url = new URL(this.config.apiBaseUrl.replace(/\/+$/, '') + '/sns/oauth2/access_token');
    url.searchParams.set('appid', this.config.appId);
    url.searchParams.set('secret', this.config.appSecret);
    url.searchParams.set('code', code);
    url.searchParams.set('grant_type', 'authorization_code');
    const res = await httpRequest({ method: 'GET', url: url.toString(), timeoutMs: this.config.timeoutMs, maxBytes: 64 * 1024 });
    if (res.status !== 200) throw new WechatTransportError(`oauth2/access_token answered HTTP ${res.status}`, 'http_status');
    let data: any;
    try {
      data = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new WechatTransportError('oauth2/access_token answered something that is not JSON', 'http_status');
    }
    if (data === null || typeof data !== 'object') throw new WechatTransportError('oauth2/access_token answered JSON that is not an object', 'http_status');
    if (data.errcode) throw new WechatLoginError(Number(data.errcode), String(data.errmsg ?? ''));
    if (typeof data.openid !== 'string' || !data.openid) throw new WechatTransportError('oauth2/access_token answered without openid', 'http_status');
    // The access_token is not kept: snsapi_base needs nothing but the openid.
    return { openid: data.openid, scope: String(data.scope ?? ''), unionid: typeof data.unionid === 'string' && data.unionid ? data.unionid : undefined };
  }
}
