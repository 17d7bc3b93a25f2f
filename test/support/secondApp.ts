import mm, { MockApplication } from 'egg-mock';
import { testEnv } from './env';
import { TcpProxy } from './tcpProxy';

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

/**
 * A second app (startSecondApp) reaching the MariaDB server the main app uses (its MYSQL_HOST,
 * MYSQL_PORT, whichever it is) through a TcpProxy, which the test can cut and restore.
 */
export async function startSecondAppThroughMysqlProxy(mainApp: MockApplication): Promise<{ proxy: TcpProxy; app: MockApplication }> {
  const { host, port } = mainApp.config.sequelize as { host: string; port: number };
  const proxy = new TcpProxy(host, port);
  await proxy.start();
  try {
    return { proxy, app: await startSecondApp({ MYSQL_HOST: '127.0.0.1', MYSQL_PORT: String(proxy.port) }) };
  } catch (err) {
    await proxy.stop();
    throw err;
  }
}
