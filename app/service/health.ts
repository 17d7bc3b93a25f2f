import { Service } from 'egg';

export interface HealthReport {
  ok: boolean;
  mysql: 'up' | 'down';
  redis: 'up' | 'down';
}

const PROBE_TIMEOUT_MS = 1500;

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), PROBE_TIMEOUT_MS); }),
  ]).finally(() => clearTimeout(timer));
}

export default class HealthService extends Service {
  async check(): Promise<HealthReport> {
    const [ mysql, redis ] = await Promise.all([
      withTimeout(this.app.model.query('SELECT 1')).then(() => 'up' as const, () => 'down' as const),
      withTimeout(this.app.redis.ping()).then(() => 'up' as const, () => 'down' as const),
    ]);
    return { ok: mysql === 'up' && redis === 'up', mysql, redis };
  }
}
