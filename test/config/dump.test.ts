import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { MockApplication } from 'egg-mock';
import { startSecondApp } from '../support/secondApp';

const unique = (label: string) => `${label}-${randomBytes(8).toString('hex')}`;

/** Every file under the app's run/ folder, by name (folders such as `npm run dev`'s simulator-tls/ left out). */
function runFiles(app: MockApplication): Map<string, string> {
  const dir = app.config.rundir;
  return new Map(readdirSync(dir, { withFileTypes: true }).filter(entry => entry.isFile())
    .map(entry => [ entry.name, readFileSync(path.join(dir, entry.name), 'utf8') ]));
}

/** Egg's dump runs on the tick after ready; the files are complete once that tick has passed. */
const dumped = () => new Promise<void>(resolve => setImmediate(resolve));

describe('config dump (run/*.json)', () => {
  // Values set through the environment, as in production; each is distinctive so any copy is found.
  const secrets = {
    WECHAT_API_KEY: unique('apikey'),
    WECHAT_APP_SECRET: unique('appsecret'),
    WECHAT_CERT_P12_PASSWORD: unique('p12password'),
    ADMIN_TOKEN: unique('admintoken'),
    CASHIER_TOKEN: unique('cashiertoken'),
    EGG_KEYS: unique('eggkeys'),
    // The local Redis has no password: ioredis warns and goes on, so this one can be set at start.
    REDIS_PASSWORD: unique('redispassword'),
  };
  // Not a secret: shows that the files read are this app's dump.
  const marker = `https://${unique('dump-marker')}.example/payment/notify`;
  let app2: MockApplication;

  before(async () => {
    app2 = await startSecondApp({ ...secrets, WECHAT_NOTIFY_URL: marker });
    await dumped();
  });
  after(() => app2?.close());

  function assertNoSecretIn(files: Map<string, string>, values: string[]) {
    for (const [ name, text ] of files) {
      for (const value of values) assert.ok(!text.includes(value), `${name} holds a configured secret (${value.split('-')[0]})`);
    }
  }

  it('writes no configured secret to any file at start, masking each as <String len: n>', () => {
    const files = runFiles(app2);
    assert.match(files.get('application_config.json') ?? '', new RegExp(marker.replace(/[.]/g, '\\.')));
    assert.match(files.get('agent_config.json') ?? '', new RegExp(marker.replace(/[.]/g, '\\.')));
    assertNoSecretIn(files, Object.values(secrets));

    for (const type of [ 'application', 'agent' ]) {
      const { config } = JSON.parse(files.get(`${type}_config.json`)!);
      const masked = (value: string) => `<String len: ${value.length}>`;
      assert.equal(config.wechat.apiKey, masked(secrets.WECHAT_API_KEY), type);
      assert.equal(config.wechat.appSecret, masked(secrets.WECHAT_APP_SECRET), type);
      assert.equal(config.wechat.clientCert.p12Password, masked(secrets.WECHAT_CERT_P12_PASSWORD), type);
      assert.equal(config.adminToken, masked(secrets.ADMIN_TOKEN), type);
      assert.equal(config.pos.cashierToken, masked(secrets.CASHIER_TOKEN), type);
      assert.equal(config.keys, masked(secrets.EGG_KEYS), type);
      assert.equal(config.redis.client.password, masked(secrets.REDIS_PASSWORD), type);
      // What is not secret stays readable: the dump is still useful for support.
      assert.equal(config.wechat.notifyUrl, marker, type);
    }
  });

  it('masks the MySQL password too (set after start, as a wrong one stops the start; then dumped as Egg does at start)', () => {
    const password = unique('mysqlpassword');
    for (const instance of [ app2, (app2 as any).agent ]) {
      (instance.config as any).sequelize.password = password;
      (instance as any).dumpConfig();
    }
    const files = runFiles(app2);
    assertNoSecretIn(files, [ password ]);
    assert.equal(JSON.parse(files.get('application_config.json')!).config.sequelize.password, `<String len: ${password.length}>`);
    assert.equal(JSON.parse(files.get('agent_config.json')!).config.sequelize.password, `<String len: ${password.length}>`);
  });
});
