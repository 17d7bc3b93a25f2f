import { EggAppConfig, PowerPartial } from 'egg';
import { fromEnv } from './env';

// Tests run against a separate database; test/.setup.ts points the WeChat URLs at an in-process
// simulator on a free port.
export default () => {
  const config: PowerPartial<EggAppConfig> = {};
  (config as any).sequelize = { database: fromEnv('MYSQL_TEST_DATABASE', 'wxpay_test') };
  (config as any).redis = { client: { db: Number(fromEnv('REDIS_TEST_DB', '1')) } };
  // Scheduled jobs never fire on their own in tests: each test runs them with app.runSchedule().
  (config as any).payment = { queryAfterSeconds: 0, jobs: { enabled: false } };
  (config as any).reconciliation = { jobEnabled: false };
  // POS: the documented 5 s / 30 s polling, scaled down so a charge's whole path runs in well under a second.
  (config as any).pos = { queryIntervalMs: 20, queryLimitMs: 200, reverseIntervalMs: 10, cashierToken: fromEnv('CASHIER_TOKEN', 'test-cashier-token') };
  // The outbox relay runs but has no sink unless a test sets one; it polls often so retries come quickly.
  (config as any).outbox = { relay: { pollMs: 100 } };
  config.logger = { consoleLevel: 'NONE' } as any;
  return config;
};
