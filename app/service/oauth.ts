import { createHash, randomBytes } from 'node:crypto';
import { Service } from 'egg';
import { ForbiddenError, NotFoundError, sessionStoreUnavailable, ValidationError } from '../common/errors';
import { sameSecret } from '../common/sameSecret';
import { withTimeout } from '../infra/withTimeout';

export interface OAuthStart {
  /** WeChat's authorize URL to send the browser to. */
  authorizeUrl: string;
  /** To be set as the HttpOnly cookie binding this login to this browser. */
  state: string;
}

export interface OAuthFinish {
  /** The allowed target the login started with. */
  redirect: string;
  token: string;
  expiresIn: number;
}

// Redis holds a hash of the state: a Redis dump does not hand out logins under way.
const stateKey = (state: string) => `oauth:state:${createHash('sha256').update(state).digest('hex')}`;
const STATE_PATTERN = /^[A-Za-z0-9]{1,128}$/;

/**
 * Official-account login (scope snsapi_base): a single-use state bound to the browser, the code
 * exchanged at WeChat, the (official-account appid, openid) user upserted, and the same kind of
 * session as a mini-program login. docs/official-account.md.
 */
export default class OAuthService extends Service {
  /** Starts a login that will come back to `redirect`, which must be on the allow-list. */
  async start(redirect: string): Promise<OAuthStart> {
    const client = this.client();
    if (!isAllowedRedirect(redirect, this.config.oauth.redirectAllowList)) {
      throw new ValidationError('redirect', 'redirect is not an allowed target');
    }
    // 32 hex characters: within WeChat's a-zA-Z0-9, 128-byte limit on state.
    const state = randomBytes(16).toString('hex');
    await this.redisCall(() => this.app.redis.set(stateKey(state), JSON.stringify({ redirect }), 'EX', this.config.oauth.stateTtlSeconds));
    return { authorizeUrl: client.authorizeUrl(this.config.oauth.callbackUrl, state, 'snsapi_base'), state };
  }

  /**
   * Finishes a login: the state must be the one this browser's cookie holds and still unused (it
   * is consumed here, before WeChat is asked, so a replayed callback never reaches WeChat); then
   * the code is exchanged and the user gets a session.
   */
  async finish(code: string, state: string, cookieState: string | undefined): Promise<OAuthFinish> {
    const client = this.client();
    if (!STATE_PATTERN.test(state) || !cookieState || !sameSecret(state, cookieState)) {
      throw new ForbiddenError('OAUTH_STATE_INVALID', 'this login was not started in this browser: open the page again');
    }
    const saved = await this.redisCall(() => this.app.redis.getdel(stateKey(state)));
    if (!saved) throw new ForbiddenError('OAUTH_STATE_INVALID', 'this login expired or was already finished: open the page again');
    const { redirect } = JSON.parse(saved) as { redirect: string };

    const { token, expiresIn } = await this.service.auth.loginWithOAuthCode(client, code, 'officialAccount');
    return { redirect, token, expiresIn };
  }

  private client() {
    const client = this.app.wechatOAuth;
    if (!client) throw new NotFoundError('OFFICIAL_ACCOUNT_NOT_CONFIGURED', 'no official account is configured');
    return client;
  }

  /** Redis errors (down, timeout) become a 503 the client may retry. */
  private async redisCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await withTimeout(fn(), this.config.session.commandTimeoutMs, 'redis');
    } catch (err) {
      this.ctx.logger.warn('[oauth] redis unavailable: %s', (err as Error).message);
      throw sessionStoreUnavailable();
    }
  }
}

/**
 * Whether `target` is under one of the allowed prefixes: same scheme, host and port, and a path
 * starting with the prefix's path. Parsed, never compared as text, so `https://shop.example.com.evil/`,
 * `https://shop.example.com@evil/` or `//evil` cannot pass for an allowed host. A fragment is
 * refused: the token goes there.
 */
export function isAllowedRedirect(target: string, allowList: readonly string[]): boolean {
  if (typeof target !== 'string' || target.length > 2048) return false;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return false;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.hash || target.includes('#')) return false;
  return allowList.some(entry => {
    let allowed: URL;
    try {
      allowed = new URL(entry);
    } catch {
      return false;
    }
    return url.origin === allowed.origin && url.pathname.startsWith(allowed.pathname);
  });
}
