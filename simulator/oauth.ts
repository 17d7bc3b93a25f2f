import { codeExchangeRequest, IssuedCodes, reply, systemError } from './codes';
import { Credentials } from './credentials';
import { htmlResponse, SimRequest, SimResponse } from './http';
import { newLoginCode, randomOpenid } from './ids';

/** An OAuth code is single-use and expires 5 minutes after it is issued, unused. */
export const OAUTH_CODE_TTL_MS = 5 * 60 * 1000;
const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

export interface OAuthCodeOptions {
  /** The official account (default: the first app that is not the default one, else the default). */
  appId?: string;
  /** The payer's openid in that app; random when unset. */
  openid?: string;
  unionid?: string;
  scope?: 'snsapi_base' | 'snsapi_userinfo';
}

/**
 * Official-account web authorisation: the authorize page a payer's WeChat browser shows (a
 * confirm button here, since the simulator has no real payer), and the code exchange at
 * /sns/oauth2/access_token with WeChat's errors. Codes are bound to the app that asked, as at
 * WeChat; openids are per app (the same person gets another openid in another app).
 */
export class OAuthService {
  private readonly issued: IssuedCodes<{ openid: string; unionid?: string; scope: string }>;
  /** One openid per (appid, person) for payers confirming the page without naming one. */
  private readonly pageOpenids = new Map<string, string>();

  constructor(private readonly credentials: Credentials, private readonly now: () => Date) {
    // Through this.now, so a test that moves this service's clock moves its codes' too.
    this.issued = new IssuedCodes(OAUTH_CODE_TTL_MS, () => this.now());
  }

  issueCode(options: OAuthCodeOptions = {}): { code: string; openid: string; appId: string } {
    const appId = options.appId ?? this.credentials.defaultAppId;
    if (!this.credentials.app(appId)) throw new Error(`unknown appId ${appId}`);
    if (options.openid !== undefined && !ID_PATTERN.test(options.openid)) throw new Error('openid must be 1-128 of A-Z a-z 0-9 _ -');
    if (options.unionid !== undefined && !ID_PATTERN.test(options.unionid)) throw new Error('unionid must be 1-128 of A-Z a-z 0-9 _ -');
    const openid = options.openid ?? randomOpenid();
    const code = this.issued.issue(appId, { openid, unionid: options.unionid, scope: options.scope ?? 'snsapi_base' });
    return { code, openid, appId };
  }

  /**
   * GET /connect/oauth2/authorize: WeChat's checks of the request, then a page with a confirm
   * button (the payer); confirming (GET with confirm=1) redirects to redirect_uri with code and state.
   */
  authorize(req: SimRequest): SimResponse {
    if (req.method !== 'GET') return page(405, 'method not allowed');
    const q = req.url.searchParams;
    const appid = q.get('appid') ?? '';
    const redirectUri = q.get('redirect_uri') ?? '';
    const scope = q.get('scope') ?? '';
    const state = q.get('state') ?? '';
    if (!this.credentials.app(appid)) return page(400, '参数错误: appid');
    if (q.get('response_type') !== 'code') return page(400, '参数错误: response_type');
    if (scope !== 'snsapi_base' && scope !== 'snsapi_userinfo') return page(400, 'scope 参数错误或没有 scope 权限');
    if (state.length > 128 || !/^[A-Za-z0-9]*$/.test(state)) return page(400, '参数错误: state');
    let target: URL;
    try {
      target = new URL(redirectUri);
      if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error('scheme');
    } catch {
      return page(400, 'redirect_uri 参数错误');
    }
    if (q.get('confirm') !== '1') {
      const confirm = new URL(req.url.toString());
      confirm.searchParams.set('confirm', '1');
      return htmlResponse(`<!doctype html><meta charset="utf-8"><title>WeChat authorisation (simulator)</title>
<p>${escapeHtml(appid)} asks who you are (${escapeHtml(scope)}).</p>
<form method="get" action="/connect/oauth2/authorize">${[ ...confirm.searchParams ].map(([ k, v ]) =>
    `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('')}
<label>openid (empty: this browser's payer) <input name="openid"></label>
<button type="submit">Allow</button></form>`);
    }
    const openid = q.get('openid') || this.pageOpenid(appid);
    if (!ID_PATTERN.test(openid)) return page(400, 'openid must be 1-128 of A-Z a-z 0-9 _ -');
    const { code } = this.issueCode({ appId: appid, openid, scope: scope as OAuthCodeOptions['scope'] });
    target.searchParams.set('code', code);
    target.searchParams.set('state', state);
    return { status: 302, contentType: 'text/plain', body: '', headers: { Location: target.toString() } };
  }

  /** GET /sns/oauth2/access_token */
  exchange(req: SimRequest): SimResponse {
    const request = codeExchangeRequest(req, this.credentials, 'code');
    if ('error' in request) return request.error;
    const { appid, code } = request;
    const redeemed = this.issued.redeem(code, appid);
    if ('error' in redeemed) return redeemed.error;
    const { issued } = redeemed;
    return reply({
      access_token: newLoginCode(), expires_in: 7200, refresh_token: newLoginCode(), openid: issued.openid, scope: issued.scope,
      // WxJava: snsapi_base replies carry no unionid; the simulator sends one when the test gave it,
      // so linking users by unionid can be exercised.
      ...(issued.unionid ? { unionid: issued.unionid } : {}),
    });
  }

  systemError(): SimResponse {
    return systemError();
  }

  reset(): void {
    this.issued.clear();
    this.pageOpenids.clear();
  }

  private pageOpenid(appId: string): string {
    let openid = this.pageOpenids.get(appId);
    if (!openid) {
      openid = randomOpenid();
      this.pageOpenids.set(appId, openid);
    }
    return openid;
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);
}

function page(status: number, message: string): SimResponse {
  return { status, contentType: 'text/html; charset=utf-8', body: `<!doctype html><meta charset="utf-8"><p>${escapeHtml(message)}</p>` };
}
