import { createHash, randomBytes } from 'node:crypto';
import { Service } from 'egg';
import { sessionStoreUnavailable, UnauthorizedError } from '../common/errors';
import { sameSecret } from '../common/sameSecret';
import { withTimeout } from '../infra/withTimeout';

export interface ConsoleSession {
  /** The opaque value of the console's cookie; only its hash is stored. */
  sid: string;
  expiresAt: Date;
}

const key = (sid: string) => `console:session:${createHash('sha256').update(sid).digest('hex')}`;

/**
 * The operator console's sessions (docs/console.md): the admin token is given once, at sign-in,
 * and exchanged for a random session id kept in Redis with a fixed lifetime; the browser holds
 * only that id, in an HttpOnly cookie, never the token.
 */
export default class AdminSessionService extends Service {
  /** Checks the admin credential and opens a session; 401 ADMIN_SIGN_IN_FAILED otherwise. */
  async signIn(token: string): Promise<ConsoleSession> {
    const expected = this.config.adminToken;
    if (!expected || !sameSecret(token, expected)) {
      this.ctx.logger.warn('[admin] console sign-in refused from %s', this.ctx.ip);
      throw new UnauthorizedError('ADMIN_SIGN_IN_FAILED', 'wrong admin credential');
    }
    const ttl = this.config.console.sessionTtlSeconds;
    const sid = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + ttl * 1000);
    await this.redis(this.app.redis.set(key(sid), JSON.stringify({ expiresAt: expiresAt.toISOString(), ip: this.ctx.ip }), 'EX', ttl));
    this.ctx.logger.info('[admin] console signed in from %s', this.ctx.ip);
    return { sid, expiresAt };
  }

  /** The session of this id, or null (unknown or expired). */
  async find(sid: string): Promise<ConsoleSession | null> {
    const stored = await this.redis(this.app.redis.get(key(sid)));
    if (!stored) return null;
    return { sid, expiresAt: new Date(JSON.parse(stored).expiresAt) };
  }

  async signOut(sid: string): Promise<void> {
    await this.redis(this.app.redis.del(key(sid)));
  }

  private async redis<T>(command: Promise<T>): Promise<T> {
    try {
      return await withTimeout(command, this.config.session.commandTimeoutMs, 'redis');
    } catch (err) {
      this.ctx.logger.warn('[admin] console session store unavailable: %s', (err as Error).message);
      throw sessionStoreUnavailable();
    }
  }
}
