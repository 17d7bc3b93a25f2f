import { Controller } from 'egg';
import { requireObject, requireString } from '../common/validate';

/** Sessions of the web shop and the mobile app (docs/channels.md). */
export default class ChannelLoginController extends Controller {
  /** POST /api/web/session -> { token, expiresIn, user }: a web-shop guest, for NATIVE and MWEB orders. */
  async webSession() {
    this.ctx.set('Cache-Control', 'no-store');
    this.ctx.body = await this.service.channelLogin.webGuest();
  }

  /** POST /api/app/login { code } -> { token, expiresIn, user }: the mobile app's WeChat login, for APP orders. */
  async appLogin() {
    const body = requireObject(this.ctx.request.body);
    const code = requireString(body.code, 'code', { max: 128, pattern: /^[\x21-\x7e]+$/ });
    this.ctx.set('Cache-Control', 'no-store');
    this.ctx.body = await this.service.channelLogin.appLogin(code);
  }
}
