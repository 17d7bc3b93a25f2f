import { Service } from 'egg';
import { RedisLock } from '../infra/redisLock';

/** Why a job did not run this tick. */
export type JobSkipReason = 'LOCKED' | 'REDIS_UNAVAILABLE';

export type JobRun<T> = { ran: true; result: T } | { ran: false; reason: JobSkipReason };

export const jobLockKey = (job: string) => `lock:job:${job}`;

/**
 * Runs a scheduled job at most once at a time across every worker and host: whoever takes the
 * job's Redis lock runs, the others skip their tick. Without Redis there is no way to know who
 * else is running, so the tick is skipped (never run unlocked).
 */
export default class JobLockService extends Service {
  /** run receives its deadline (epoch ms): it must not start new work after it, so it finishes inside the lock's TTL. */
  async runExclusive<T>(job: string, run: (deadline: number) => Promise<T>): Promise<JobRun<T>> {
    const ttlMs = this.config.payment.jobs.lockTtlMs;
    const lock = new RedisLock(this.app.redis, this.config.session.commandTimeoutMs);
    let held;
    try {
      held = await lock.acquire(jobLockKey(job), ttlMs);
    } catch (err) {
      this.ctx.logger.warn('[job] %s skipped: redis unavailable for the job lock: %s', job, (err as Error).message);
      return { ran: false, reason: 'REDIS_UNAVAILABLE' };
    }
    if (!held) {
      this.ctx.logger.info('[job] %s skipped: another worker holds the lock', job);
      return { ran: false, reason: 'LOCKED' };
    }
    try {
      // Half the TTL leaves the other half for the calls already under way.
      return { ran: true, result: await run(held.expiresAt - ttlMs / 2) };
    } finally {
      try {
        if (!await held.release()) this.ctx.logger.warn('[job] %s: the lock had expired before the run ended', job);
      } catch (err) {
        // It expires by itself; the next tick simply waits for that.
        this.ctx.logger.warn('[job] %s: could not release the lock: %s', job, (err as Error).message);
      }
    }
  }
}
