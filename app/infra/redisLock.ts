import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { withTimeout } from './withTimeout';

/** Deletes the key only while it still holds our token: an expired lock retaken by another owner stays theirs. */
const RELEASE_SCRIPT = 'if redis.call(\'get\', KEYS[1]) == ARGV[1] then return redis.call(\'del\', KEYS[1]) else return 0 end';

/** A held lock: release it once done. */
export interface HeldLock {
  readonly key: string;
  readonly token: string;
  /** When Redis drops the lock by itself (from our clock: a lower bound is what matters). */
  readonly expiresAt: number;
  /** true if the lock was still ours and is now free; false if it had expired (and maybe been retaken). */
  release(): Promise<boolean>;
}

/**
 * A Redis lock with an expiry (SET key token NX PX ttl), released only by its owner. Every Redis
 * command is bounded by timeoutMs so a Redis that hangs makes the caller give up rather than wait.
 * Errors (Redis down, timeout) are thrown: deciding to skip is the caller's business.
 */
export class RedisLock {
  constructor(private readonly redis: Redis, private readonly timeoutMs: number) {}

  /** The lock, or undefined when someone else holds it. */
  async acquire(key: string, ttlMs: number): Promise<HeldLock | undefined> {
    const token = randomBytes(16).toString('hex');
    const startedAt = Date.now();
    const reply = await this.bounded(this.redis.set(key, token, 'PX', ttlMs, 'NX'));
    if (reply !== 'OK') return undefined;
    return {
      key,
      token,
      expiresAt: startedAt + ttlMs,
      release: () => this.release(key, token),
    };
  }

  /** Compare-and-delete: frees the key only if it still holds token. */
  async release(key: string, token: string): Promise<boolean> {
    const deleted = await this.bounded(this.redis.eval(RELEASE_SCRIPT, 1, key, token));
    return deleted === 1;
  }

  private bounded<T>(command: Promise<T>): Promise<T> {
    return withTimeout(command, this.timeoutMs, 'redis');
  }
}
