import mm, { MockApplication } from 'egg-mock';
import { testEnv } from './env';

/**
 * Another instance of the app in this process, configured from `env` (read by config.default.ts
 * while the app loads), e.g. MYSQL_PORT pointing at a TcpProxy. Shares the test database and Redis
 * db with the main app, so the main app can check what this one wrote.
 */
export async function startSecondApp(env: Record<string, string>): Promise<MockApplication> {
  const saved: Record<string, string | undefined> = {};
  for (const name of Object.keys(env)) {
    saved[name] = process.env[name];
    process.env[name] = env[name];
  }
  try {
    // clean: false, or egg-mock would empty logs/ under the main app's feet.
    const app = mm.app({ baseDir: process.cwd(), cache: false, clean: false });
    await app.ready();
    // The same simulator as the main app.
    Object.assign(app.config.wechat, { payBaseUrl: testEnv.sim.url, loginBaseUrl: testEnv.sim.url, timeoutMs: 2000 });
    return app;
  } finally {
    for (const [ name, value ] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
