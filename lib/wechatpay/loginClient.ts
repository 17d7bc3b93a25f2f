import { WechatLoginError, WechatTransportError } from './errors';
import { httpRequest } from './http';
import { observeCall, WechatCallObserver } from './observe';

export interface LoginClientConfig {
  appId: string;
  appSecret: string;
  /** e.g. https://api.weixin.qq.com, or the simulator's address. */
  baseUrl: string;
  timeoutMs: number;
  /** Told of every call's API, result and duration (the service's metrics). */
  observer?: WechatCallObserver;
}

export interface Code2SessionResult {
  openid: string;
  session_key: string;
  unionid?: string;
}

/** Mini-program login: exchanges a wx.login() code for openid and session_key. */
export class WechatLoginClient {
  constructor(readonly config: LoginClientConfig) {}

  code2Session(code: string): Promise<Code2SessionResult> {
    return observeCall(this.config.observer, '/sns/jscode2session', () => this.code2SessionOnce(code));
  }

  private async code2SessionOnce(code: string): Promise<Code2SessionResult> {
    const url = new URL(this.config.baseUrl.replace(/\/+$/, '') + '/sns/jscode2session');
    url.searchParams.set('appid', this.config.appId);
    url.searchParams.set('secret', this.config.appSecret);
    url.searchParams.set('js_code', code);
    url.searchParams.set('grant_type', 'authorization_code');
    const res = await httpRequest({ method: 'GET', url: url.toString(), timeoutMs: this.config.timeoutMs, maxBytes: 64 * 1024 });
    if (res.status !== 200) throw new WechatTransportError(`jscode2session answered HTTP ${res.status}`, 'http_status');
    let data: any;
    try {
      data = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new WechatTransportError('jscode2session answered something that is not JSON', 'http_status');
    }
    if (data === null || typeof data !== 'object') {
      throw new WechatTransportError('jscode2session answered JSON that is not an object', 'http_status');
    }
    if (data.errcode) throw new WechatLoginError(Number(data.errcode), String(data.errmsg ?? ''));
    if (typeof data.openid !== 'string' || !data.openid || typeof data.session_key !== 'string') {
      throw new WechatTransportError('jscode2session answered without openid/session_key', 'http_status');
    }
    return { openid: data.openid, session_key: data.session_key, unionid: data.unionid || undefined };
  }
}
