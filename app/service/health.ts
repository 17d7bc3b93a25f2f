import { Service } from 'egg';
import { withTimeout } from '../infra/withTimeout';

export interface HealthReport {
  ok: boolean;
  mysql: 'up' | 'down';
  redis: 'up' | 'down';
}

const PROBE_TIMEOUT_MS = 1500;

export default class HealthService extends Service {
  async check(): Promise<HealthReport> {
    const [ mysql, redis ] = await Promise.all([
      withTimeout(this.app.model.query('SELECT 1'), PROBE_TIMEOUT_MS, 'mysql').then(() => 'up' as const, () => 'down' as const),
      withTimeout(this.app.redis.ping(), PROBE_TIMEOUT_MS, 'redis').then(() => 'up' as const, () => 'down' as const),
    ]);
    return { ok: mysql === 'up' && redis === 'up', mysql, redis };
  }
}
