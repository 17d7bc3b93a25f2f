import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { app } from 'egg-mock/bootstrap';
import { testEnv } from '../support/env';
import { createOrder, resetWorld } from '../support/fixtures';
import { adminHeader, requestRefund } from '../support/refunds';

/** A logger transport that writes to a file (egg-logger's FileTransport or FileBufferTransport). */
interface FileTransport {
  options: { file: string };
  level: string;
  flush?: () => void;
  _stream?: NodeJS.WritableStream & { writable: boolean };
}

/** Every file transport of the app's and the agent's loggers (the app log, egg-web, common-error, egg-agent, egg-schedule...). */
function fileTransports(): FileTransport[] {
  const found: FileTransport[] = [];
  for (const loggers of [ (app as any).loggers, (app as any).agent?.loggers ]) {
    for (const logger of (loggers?.values() ?? []) as Iterable<Map<string, any>>) {
      for (const transport of logger.values()) if (typeof transport?.options?.file === 'string') found.push(transport);
    }
  }
  return found;
}

/** Resolves once everything logged so far is in the files. */
async function flushLogs(): Promise<void> {
  await Promise.all(fileTransports().map(transport => {
    transport.flush?.();
    const stream = transport._stream;
    if (!stream || !stream.writable) return undefined;
    // Writes complete in order: the callback of an empty write comes after every earlier one.
    return new Promise<void>((resolve, reject) => stream.write('', err => (err ? reject(err) : resolve())));
  }));
}

/** Every file under dir, recursively. */
function filesUnder(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap(name => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [ file ];
  });
}

/**
 * README ("Production operation", Logs): no secret (API key, app secret, admin token), no
 * session_key and no session token is logged at any level. The files are read as written, after
 * a run through the paths that handle each secret, with every file logger at DEBUG.
 */
describe('no secret in the log files', () => {
  const levels = new Map<FileTransport, string>();
  before(() => {
    for (const transport of fileTransports()) {
      levels.set(transport, transport.level);
      transport.level = 'DEBUG';
    }
  });
  after(() => {
    for (const [ transport, level ] of levels) transport.level = level;
  });
  beforeEach(resetWorld);

  it('after logins, an order, its notification, a refund and refused admin calls, no log file holds a secret', async () => {
    const wechat = app.config.wechat;
    const tokens: string[] = [];
    const sessionKeys: string[] = [];
    let userId = 0;
    // Two logins of one user: two session tokens, two session_keys from WeChat.
    for (let i = 0; i < 2; i++) {
      const code = testEnv.sim.issueLoginCode({ openid: 'oSecrets00000000000000000001' });
      const res = await app.httpRequest().post('/api/login').send({ code })
        .expect(200);
      tokens.push(res.body.token);
      userId = res.body.user.id;
      const sessionKey = await app.redis.get(`wx_session_key:${userId}`);
      assert.ok(sessionKey, 'the session_key WeChat issued is stored');
      sessionKeys.push(sessionKey);
    }
    // A login WeChat refuses (a code never issued).
    await app.httpRequest().post('/api/login').send({ code: 'never-issued' })
      .expect(401);

    // An order, paid: WeChat's signed notification applied.
    const created = await createOrder(tokens[1]).expect(200);
    const { outTradeNo } = created.body;
    await testEnv.sim.pay(outTradeNo);
    await testEnv.sim.waitForDelivery(outTradeNo, { kind: 'payment', acknowledged: true });
    await app.httpRequest().get(`/payment/orders/${outTradeNo}`).set('Authorization', `Bearer ${tokens[1]}`)
      .expect(200);

    // A refund, over mutual TLS, and its encrypted notification applied.
    await requestRefund(outTradeNo, { amount: 100, reason: 'secrets test' }).expect(201);
    await testEnv.sim.waitForDelivery(outTradeNo, { kind: 'refund', acknowledged: true });
    await app.httpRequest().get(`/admin/orders/${outTradeNo}/refunds`).set(adminHeader())
      .expect(200);

    // Refused admin calls: the admin token with a character more, a user's session token.
    for (const given of [ `${app.config.adminToken}x`, tokens[0] ]) {
      await app.httpRequest().post(`/admin/orders/${outTradeNo}/refunds`).set('Authorization', `Bearer ${given}`)
        .send({ amount: 1, reason: 'r' })
        .expect(401);
    }
    // A session token sent where it is no longer valid.
    // Its last character changed (to one it is not), so it can never be the valid token by chance.
    const altered = tokens[0].slice(0, -1) + (tokens[0].endsWith('A') ? 'B' : 'A');
    await app.httpRequest().get(`/payment/orders/${outTradeNo}`).set('Authorization', `Bearer ${altered}`)
      .expect(401);

    await flushLogs();
    const files = [ ...new Set([ ...filesUnder(app.config.logger.dir), ...fileTransports().map(t => t.options.file) ]) ]
      .filter(file => { try { return statSync(file).isFile(); } catch { return false; } });
    const logs = files.map(file => ({ file, text: readFileSync(file, 'utf8') }));
    const all = logs.map(l => l.text).join('\n');
    // These are the files this run wrote to: each step above left its line in them.
    const appLog = path.join(app.config.logger.dir, (app.config.logger as any).appLogName);
    assert.ok(files.includes(appLog), `${appLog} was read (read: ${files.join(', ')})`);
    for (const line of [
      `[login] user ${userId} logged in`,
      `[payment] order ${outTradeNo} created`,
      `order ${outTradeNo}`,
      `[admin] refused POST /admin/orders/${outTradeNo}/refunds`,
    ]) {
      assert.ok(all.includes(line), `the logs have "${line}"`);
    }

    const secrets: Array<[ string, string ]> = [
      [ 'the API key', wechat.apiKey ],
      [ 'the refund notification key (MD5 of the API key)', createHash('md5').update(wechat.apiKey).digest('hex') ],
      [ 'the app secret', wechat.appSecret ],
      [ 'the admin token', app.config.adminToken ],
      ...tokens.map((token, i) => [ `session token ${i + 1}`, token ] as [ string, string ]),
      ...sessionKeys.map((key, i) => [ `session_key ${i + 1}`, key ] as [ string, string ]),
    ];
    for (const [ name, secret ] of secrets) {
      assert.ok(secret.length >= 16, `${name} is a real secret`);
      for (const { file, text } of logs) {
        const at = text.indexOf(secret);
        assert.equal(at, -1, `${name} is in ${file}: ...${text.slice(Math.max(0, at - 80), at)}<secret>...`);
      }
    }
  });
});
