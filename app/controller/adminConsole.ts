import { Controller } from 'egg';
import { CONSOLE_COOKIE, CONSOLE_PATH } from '../../config/config.default';
import { NotFoundError } from '../common/errors';
import { requireObject, requireString } from '../common/validate';
import { ConsoleAssets } from '../infra/consoleAssets';

let assets: ConsoleAssets | undefined;

const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/**
 * The operator's console (docs/console.md): its page and files, and its session. Sign-in trades
 * the admin token for an HttpOnly, SameSite=Strict cookie; the page never sees the token again.
 */
export default class AdminConsoleController extends Controller {
  /** GET /admin/ */
  async page() {
    // Only our own files may run, load or be framed into: injected markup (say, a forged
    // notification's text) could not run script that reads the CSRF token.
    this.ctx.set('Content-Security-Policy', CONSOLE_CSP);
    await this.serve('index.html');
  }

  /** GET /admin/assets/:file */
  async asset() {
    const name = String(this.ctx.params.file);
    if (name === 'index.html' || !this.assets().has(name)) throw new NotFoundError('NOT_FOUND', 'no such console file');
    await this.serve(name);
  }

  /** POST /admin/session { token }: sign in. */
  async signIn() {
    const { ctx } = this;
    const body = requireObject(ctx.request.body);
    const token = requireString(body.token, 'token', { max: 256 });
    const session = await this.service.adminSession.signIn(token);
    ctx.cookies.set(CONSOLE_COOKIE, session.sid, {
      httpOnly: true, sameSite: 'strict', signed: true, path: CONSOLE_PATH, secure: ctx.secure,
      expires: session.expiresAt,
    });
    // A new session gets a new CSRF secret, so a token seen before sign-in is worth nothing after.
    ctx.rotateCsrfSecret();
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { signedIn: true, expiresAt: session.expiresAt.toISOString() };
  }

  /** GET /admin/session: the console's session (adminAuth let it through). */
  async show() {
    const session = this.ctx.state.consoleSession;
    this.ctx.body = { signedIn: true, expiresAt: session ? session.expiresAt.toISOString() : null };
  }

  /** DELETE /admin/session: sign out (the session ends in Redis, the cookie is cleared). */
  async signOut() {
    const sid = this.ctx.cookies.get(CONSOLE_COOKIE, { signed: true });
    if (sid) await this.service.adminSession.signOut(sid);
    this.ctx.cookies.set(CONSOLE_COOKIE, null, { path: CONSOLE_PATH });
    this.ctx.status = 204;
  }

  private assets(): ConsoleAssets {
    assets ??= new ConsoleAssets(this.app.baseDir);
    return assets;
  }

  private async serve(name: string) {
    const asset = await this.assets().get(name);
    this.ctx.set('Cache-Control', 'no-cache');
    this.ctx.type = asset.type;
    this.ctx.body = asset.body;
  }
}
