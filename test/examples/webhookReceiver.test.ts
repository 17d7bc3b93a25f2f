import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { postWebhook, webhookSignature } from '../../app/infra/webhookSink';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { createReceiver, verifySignature } = require('../../examples/webhook-receiver/receiver');

const SECRET = 'receiver-test-secret';
const BODY = JSON.stringify({ id: 'evt_0123456789abcdef0123456789abcdef', type: 'order.paid', outTradeNo: 'P1', sequence: 1, data: {} });

describe('examples/webhook-receiver', () => {
  let server: http.Server;
  let url: string;
  const received: any[] = [];
  before(async () => {
    server = createReceiver({ secret: SECRET, onEvent: (event: any) => { received.push(event); } });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => new Promise<void>(resolve => server.close(() => resolve())));
  beforeEach(() => { received.length = 0; });

  function post(signature: string | undefined, body = BODY): Promise<{ status: number; text: string }> {
    return fetch(url, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...(signature ? { 'X-Wxpay-Signature': signature } : {}) } })
      .then(async res => ({ status: res.status, text: await res.text() }));
  }
  const now = () => Math.floor(Date.now() / 1000);

  it('accepts what the service sends (postWebhook) and acts once per event id', async () => {
    await postWebhook({ url, secret: SECRET, timeoutMs: 2000 }, 'evt_0123456789abcdef0123456789abcdef', 'order.paid', BODY);
    await postWebhook({ url, secret: SECRET, timeoutMs: 2000 }, 'evt_0123456789abcdef0123456789abcdef', 'order.paid', BODY);
    assert.deepEqual(received, [ JSON.parse(BODY) ]);
  });

  it('refuses a forged signature: another secret, an altered body, a missing or malformed header (400, nothing acted on)', async () => {
    const t = now();
    const cases: Array<[string | undefined, string, string]> = [
      [ webhookSignature('another-secret', t, BODY), BODY, 'signature does not match' ],
      [ webhookSignature(SECRET, t, BODY), BODY.replace('order.paid', 'order.closed'), 'signature does not match' ],
      [ webhookSignature(SECRET, t, BODY).replace(`t=${t}`, `t=${t - 1}`), BODY, 'signature does not match' ],
      [ undefined, BODY, 'no signature header' ],
      [ `t=${t},v1=xyz`, BODY, 'malformed signature header' ],
      [ `v1=${'0'.repeat(64)}`, BODY, 'malformed signature header' ],
    ];
    for (const [ signature, body, why ] of cases) {
      const res = await post(signature, body);
      assert.equal(res.status, 400, why);
      assert.deepEqual(JSON.parse(res.text), { error: why });
    }
    assert.deepEqual(received, []);
  });

  it('refuses a stale signature (a replay), or one from too far in the future, even when it is genuine', async () => {
    for (const t of [ now() - 301, now() + 301 ]) {
      const res = await post(webhookSignature(SECRET, t, BODY));
      assert.equal(res.status, 400);
      assert.deepEqual(JSON.parse(res.text), { error: 'stale signature' });
    }
    assert.deepEqual(received, []);
    const fresh = await post(webhookSignature(SECRET, now() - 10, BODY));
    assert.equal(fresh.status, 200);
  });

  it('verifySignature: the scheme of docs/events.md, HMAC-SHA256 over "<t>.<body>"', () => {
    const at = Date.UTC(2026, 10, 30, 8, 0, 0);
    const t = at / 1000;
    const header = webhookSignature(SECRET, t, BODY);
    assert.match(header, /^t=\d+,v1=[0-9a-f]{64}$/);
    assert.equal(verifySignature(header, BODY, SECRET, { now: at }), null);
    assert.equal(verifySignature(header, BODY, SECRET, { now: at + 300_000 }), null);
    assert.equal(verifySignature(header, BODY, SECRET, { now: at + 301_000 }), 'stale signature');
  });
});
