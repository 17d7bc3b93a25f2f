import { createHash, randomBytes } from 'node:crypto';
import { Service } from 'egg';
import { sessionStoreUnavailable } from '../common/errors';
import { withTimeout } from '../infra/withTimeout';
import { isSessionChannel, SessionChannel } from '../domain/channels';

export interface SessionUser {
  userId: number;
  openid: string;
  /**
   * The app the user logged in through: orders made in this session are made for it (their
   * channel). Sessions from before apps were recorded hold none and were all the mini-program's.
   */
  appId: string;
  /**
   * How the user came (docs/decisions/0016-channels-and-sessions.md): decides the trade types its
   * orders may use. Sessions made before channels hold none: the official account's appid means
   * officialAccount, anything else miniProgram.
   */
  channel: SessionChannel;
}

/** What a login hands to create(): the channel may be left to follow from the appid. */
export type NewSession = Omit<SessionUser, 'channel'> & { channel?: SessionChannel };

// Redis keys hold a hash of the token, so a Redis dump does not hand out live sessions.
const sessionKey = (token: string) => `session:${createHash('sha256').update(token).digest('hex')}`;
const wechatSessionKey = (userId: number) => `wx_session_key:${userId}`;

/** Login sessions and WeChat session_keys, both in Redis only. */
export default class SessionService extends Service {
  /** `wechatSessionKeyValue`: the mini-program's session_key (official-account OAuth has none). */
  async create(newUser: NewSession, wechatSessionKeyValue?: string): Promise<{ token: string; expiresIn: number }> {
    const user: SessionUser = { ...newUser, channel: newUser.channel ?? this.channelOf(newUser.appId) };
    const ttl = this.config.session.ttlSeconds;
    const token = randomBytes(32).toString('base64url');
    const multi = this.app.redis.multi().set(sessionKey(token), JSON.stringify(user), 'EX', ttl);
    // session_key never leaves the server; kept for decrypting user data the client may send later.
    if (wechatSessionKeyValue !== undefined) multi.set(wechatSessionKey(user.userId), wechatSessionKeyValue, 'EX', ttl);
    await this.redisCall(() => multi.exec());
    return { token, expiresIn: ttl };
  }

  async resolve(token: string): Promise<SessionUser | null> {
    const raw = await this.redisCall(() => this.app.redis.get(sessionKey(token)));
    if (!raw) return null;
    const parsed = JSON.parse(raw);
    const appId = typeof parsed.appId === 'string' && parsed.appId ? parsed.appId : this.config.wechat.apps.miniProgram.appId;
    const channel = isSessionChannel(parsed.channel) ? parsed.channel : this.channelOf(appId);
    return { userId: Number(parsed.userId), openid: String(parsed.openid), appId, channel };
  }

  private channelOf(appId: string): SessionChannel {
    return appId === this.config.wechat.apps.officialAccount?.appId ? 'officialAccount' : 'miniProgram';
  }

  async destroy(token: string): Promise<void> {
    await this.redisCall(() => this.app.redis.del(sessionKey(token)));
  }

  /** Redis errors (down, timeout) become a 503 the client may retry. */
  private async redisCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await withTimeout(fn(), this.config.session.commandTimeoutMs, 'redis');
    } catch (err) {
      this.ctx.logger.warn('[session] redis unavailable: %s', (err as Error).message);
      throw sessionStoreUnavailable();
    }
  }
}
