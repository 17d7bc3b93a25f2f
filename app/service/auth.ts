import { Service } from 'egg';
import { WechatLoginError, WechatOAuthClient, WechatTransportError } from '../../lib/wechatpay';
import { ServiceUnavailableError, UnauthorizedError, UpstreamRejectedError } from '../common/errors';
import { oauthFailureToAppError } from '../common/wechatErrors';
import type { SessionChannel } from '../domain/channels';

export interface LoginResult {
  token: string;
  expiresIn: number;
  user: { id: number; openid: string };
}

/** Mini-program login: code2Session, user upsert, session. */
export default class AuthService extends Service {
  async login(code: string): Promise<LoginResult> {
    const session = await this.code2Session(code);
    await this.service.rateLimit.consume('loginPerUser', `o${session.openid}`, 'refuse');
    const appId = this.config.wechat.apps.miniProgram.appId;
    const user = await this.upsertUser(appId, session.openid, session.unionid);
    const { token, expiresIn } = await this.service.session.create({ userId: user.id, openid: user.openid, appId, channel: 'miniProgram' }, session.session_key);
    this.ctx.logger.info('[login] user %d logged in', user.id);
    return { token, expiresIn, user: { id: user.id, openid: user.openid } };
  }

  /**
   * A login through WeChat's OAuth code exchange (the official account's web login, the mobile
   * app's SDK login): the code exchanged with the client's app, the user upserted, a session made
   * for `channel`.
   */
  async loginWithOAuthCode(client: WechatOAuthClient, code: string, channel: SessionChannel): Promise<LoginResult> {
    let result;
    try {
      result = await client.exchangeCode(code);
    } catch (err) {
      this.ctx.logger.warn('[login] %s code exchange failed: %s', channel, (err as Error).message);
      throw oauthFailureToAppError(err);
    }
    const appId = client.config.appId;
    await this.service.rateLimit.consume('loginPerUser', `o${appId}:${result.openid}`, 'refuse');
    const user = await this.upsertUser(appId, result.openid, result.unionid);
    const { token, expiresIn } = await this.service.session.create({ userId: user.id, openid: user.openid, appId, channel });
    this.ctx.logger.info('[login] user %d logged in through the %s', user.id, channel);
    return { token, expiresIn, user: { id: user.id, openid: user.openid } };
  }

  /**
   * The user of (appid, openid), made on first login. Upsert on that unique pair: concurrent first
   * logins of one user make one row. A unionid WeChat sent is kept (it links one person's users in
   * several apps) but never authorises anything; one not sent leaves the stored one alone.
   */
  async upsertUser(appId: string, openid: string, unionid?: string) {
    const { User } = this.app.model;
    await User.upsert({ appid: appId, openid, unionid: unionid ?? null, lastLoginAt: new Date() } as any,
      { fields: unionid ? [ 'unionid', 'lastLoginAt', 'updatedAt' ] : [ 'lastLoginAt', 'updatedAt' ] });
    const user = await User.findOne({ where: { appid: appId, openid } });
    if (!user) throw new Error('user row missing right after upsert');
    return user;
  }

  private async code2Session(code: string) {
    try {
      return await this.app.wechatLogin.code2Session(code);
    } catch (err) {
      if (err instanceof WechatLoginError) {
        if (err.errcode === 40029 || err.errcode === 40163) {
          throw new UnauthorizedError('INVALID_LOGIN_CODE', 'login code is invalid, used or expired: call wx.login() again');
        }
        if (err.errcode === 40226) throw new UnauthorizedError('USER_BLOCKED', 'WeChat blocked this user as high risk');
        if (err.errcode === -1 || err.errcode === 45011) {
          throw new ServiceUnavailableError('WECHAT_BUSY', 'WeChat is busy, try again shortly');
        }
        // 40013/40125 and the rest: our appid/secret are wrong, which the user cannot fix.
        this.ctx.logger.error('[login] code2Session refused our credentials: errcode %d', err.errcode);
        throw new UpstreamRejectedError('WECHAT_LOGIN_REJECTED', `WeChat refused the login (errcode ${err.errcode})`);
      }
      if (err instanceof WechatTransportError) {
        this.ctx.logger.warn('[login] code2Session unreachable: %s', err.message);
        throw new ServiceUnavailableError('WECHAT_UNAVAILABLE', 'WeChat could not be reached, try again shortly');
      }
      throw err;
    }
  }
}
