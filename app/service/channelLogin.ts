import { randomBytes } from 'node:crypto';
import { Service } from 'egg';
import { NotFoundError } from '../common/errors';

export interface ChannelLoginResult {
  token: string;
  expiresIn: number;
  user: { id: number };
}

/**
 * The users row of a web-shop guest: not a WeChat identity (a guest has no openid), so its appid
 * is this marker, never an appid, and its openid a random guest id no WeChat user can hold.
 */
export const WEB_GUEST_APPID = 'web-guest';

/**
 * Sessions for the channels whose payers have no mini-program or official-account login
 * (docs/decisions/0016-channels-and-sessions.md): a web-shop guest (NATIVE, MWEB) and the mobile
 * app's user (APP), each the same kind of bearer session as the others, bound to its channel.
 */
export default class ChannelLoginService extends Service {
  /**
   * A new guest of the web shop. Its orders name the official account's appid, so there is no web
   * shop without one. Rate limited per IP by the route, like every login.
   */
  async webGuest(): Promise<ChannelLoginResult> {
    const oa = this.config.wechat.apps.officialAccount;
    if (!oa) throw new NotFoundError('CHANNEL_NOT_CONFIGURED', 'the web shop\'s payments are not configured');
    const guestId = `guest_${randomBytes(16).toString('hex')}`;
    const user = await this.app.model.User.create({ appid: WEB_GUEST_APPID, openid: guestId, unionid: null, lastLoginAt: new Date() });
    const { token, expiresIn } = await this.service.session.create({ userId: user.id, openid: guestId, appId: oa.appId, channel: 'web' });
    this.ctx.logger.info('[login] web guest %d', user.id);
    return { token, expiresIn, user: { id: user.id } };
  }

  /**
   * The mobile app's login: the app gets a code from the WeChat SDK (SendAuth, scope
   * snsapi_userinfo) and we exchange it at /sns/oauth2/access_token with the Open Platform app's
   * appid and secret; the user is (app appid, openid).
   */
  async appLogin(code: string): Promise<ChannelLoginResult & { user: { id: number; openid: string } }> {
    const client = this.app.wechatAppOAuth;
    if (!client) throw new NotFoundError('CHANNEL_NOT_CONFIGURED', 'no mobile app is configured');
    return this.service.auth.loginWithOAuthCode(client, code, 'app');
  }
}
