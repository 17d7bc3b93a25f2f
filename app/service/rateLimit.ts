import { Service } from 'egg';
import { withTimeout } from '../infra/withTimeout';
import { RateLimitConfig } from '../../config/config.default';
import { RateLimitedError, sessionStoreUnavailable } from '../common/errors';

export type RateLimitRuleName = keyof RateLimitConfig;

/**
 * What to do when Redis cannot count: 'refuse' answers 503 (login: it needs Redis for the session
 * anyway, and refusing early keeps the user's wx.login() code unspent); 'allow' lets the request
 * through with a warning (order creation: losing a sale is worse than an unthrottled minute).
 */
export type WhenCounterDown = 'allow' | 'refuse';

/**
 * The clock the windows are cut from (milliseconds since the epoch). Tests fix it, so a test that
 * straddles a window boundary does not see its count restart.
 */
export const rateLimitClock = {
  nowMs: (): number => Date.now(),
};

/**
 * Fixed-window request counters in Redis, shared by every worker and host: one key per rule,
 * subject and window, INCR then EXPIRE in one MULTI. A burst of up to twice the limit can straddle
 * a window boundary; that is the price of one round trip per request.
 */
export default class RateLimitService extends Service {
  /** Counts one request of `subject` under `rule`; throws RateLimitedError (429) past the limit. */
  async consume(rule: RateLimitRuleName, subject: string, whenCounterDown: WhenCounterDown): Promise<void> {
    const { limit, windowSeconds } = this.config.rateLimit[rule];
    if (limit <= 0) return;
    const nowSeconds = rateLimitClock.nowMs() / 1000;
    const window = Math.floor(nowSeconds / windowSeconds);
    const key = `ratelimit:${rule}:${subject}:${window}`;
    let count: number;
    try {
      count = await this.increment(key, windowSeconds);
    } catch (err) {
      this.ctx.logger.warn('[rate-limit] %s not counted, request %s: %s', rule, whenCounterDown === 'allow' ? 'allowed' : 'refused', (err as Error).message);
      if (whenCounterDown === 'allow') return;
      throw sessionStoreUnavailable();
    }
    if (count > limit) {
      const retryAfter = Math.max(1, Math.ceil((window + 1) * windowSeconds - nowSeconds));
      throw new RateLimitedError(retryAfter);
    }
  }

  private async increment(key: string, windowSeconds: number): Promise<number> {
    const replies = await withTimeout(
      // The key outlives its window by a second so a late INCR never finds it gone and restarts at 1.
      this.app.redis.multi().incr(key).expire(key, windowSeconds + 1)
        .exec(),
      this.config.session.commandTimeoutMs, 'redis');
    const [ incrError, count ] = replies[0];
    if (incrError) throw incrError;
    return Number(count);
  }
}
