import { Controller } from 'egg';
import { requireString } from '../common/validate';

/** The cookie binding a started login to the browser that started it (HttpOnly: no script reads it). */
const STATE_COOKIE = 'wx_oauth_state';

/** Official-account login in the payer's WeChat browser (docs/official-account.md). */
export default class OAuthController extends Controller {
  /** GET /oauth/wechat/authorize?redirect=... -> 302 to WeChat's authorize page. */
  async authorize() {
    const redirect = requireString(this.ctx.query.redirect, 'redirect', { max: 2048 });
    const { authorizeUrl, state } = await this.service.oauth.start(redirect);
    this.ctx.cookies.set(STATE_COOKIE, state, {
      httpOnly: true,
      // Lax: WeChat's redirect back is a top-level GET navigation, which carries Lax cookies.
      sameSite: 'lax',
      signed: true,
      maxAge: this.config.oauth.stateTtlSeconds * 1000,
      path: '/oauth/wechat/',
      secure: this.ctx.secure,
    });
    this.ctx.redirect(authorizeUrl);
    this.ctx.body = '';
  }

  /**
   * GET /oauth/wechat/callback?code&state -> 302 to the allowed target with `#token=...`. The
   * token goes in the fragment, which browsers never send to a server (nor in Referer), so it is
   * in no access log, proxy log or analytics request; the page reads location.hash and clears it.
   */
  async callback() {
    const state = typeof this.ctx.query.state === 'string' ? this.ctx.query.state : '';
    const cookieState = this.ctx.cookies.get(STATE_COOKIE, { signed: true }) || undefined;
    // Single use either way: the cookie goes with the first callback, good or bad.
    this.ctx.cookies.set(STATE_COOKIE, null, { path: '/oauth/wechat/' });
    const code = requireString(this.ctx.query.code, 'code', { max: 128, pattern: /^[\x21-\x7e]+$/ });
    const { redirect, token, expiresIn } = await this.service.oauth.finish(code, state, cookieState);
    // No cache may keep a reply that carries a token.
    this.ctx.set('Cache-Control', 'no-store');
    this.ctx.set('Referrer-Policy', 'no-referrer');
    this.ctx.redirect(`${redirect}#token=${encodeURIComponent(token)}&expiresIn=${expiresIn}`);
    // Koa's default body repeats the URL, token included: the Location header is enough.
    this.ctx.body = '';
  }
}
