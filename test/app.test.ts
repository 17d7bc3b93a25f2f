import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { once } from 'node:events';
import { AddressInfo } from 'node:net';
import { app } from 'egg-mock/bootstrap';
import { buildXml } from '../lib/wechatpay';
import { InFlightRequests } from '../app/infra/inFlight';
import { testEnv } from './support/env';
import { createOrder, login, resetWorld } from './support/fixtures';

const SUCCESS_XML = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';

/** A paid order whose notification the simulator did not send: the test delivers it by hand. */
async function undeliveredNotification(): Promise<{ outTradeNo: string; body: Buffer }> {
  const { token } = await login();
  const outTradeNo = (await createOrder(token).expect(200)).body.outTradeNo as string;
  testEnv.sim.setFault('notify', { kind: 'drop', beforeProcessing: true });
  // The fault stays on for the test (afterEach clears it), so no retry delivers it behind our back.
  await testEnv.sim.pay(outTradeNo);
  return { outTradeNo, body: Buffer.from(buildXml(testEnv.sim.buildNotification(outTradeNo))) };
}

/** Opens a raw HTTP request to the notify route and sends only the headers and part of the body. */
async function startSlowNotify(port: number, body: Buffer) {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`POST /payment/notify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
  socket.write(body.subarray(0, 40));
  let received = '';
  socket.on('data', chunk => { received += chunk.toString(); });
  const closed = once(socket, 'close').then(() => received);
  // write, not end: a half-closed client makes Node's server abort the request (httpAllowHalfOpen).
  return { finish: () => socket.write(body.subarray(40)), reply: closed, socket };
}

describe('graceful shutdown: requests in flight are answered before the worker exits', () => {
  let server: http.Server;
  let tracker: InFlightRequests;
  let port: number;

  beforeEach(async () => {
    await resetWorld();
    server = http.createServer(app.callback());
    tracker = new InFlightRequests(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  afterEach(() => {
    // Stops the simulator's pending retries too, which would otherwise deliver once the fault is gone.
    testEnv.sim.reset();
    server.closeAllConnections();
    server.close();
  });

  it('a notification arriving while the server drains is committed and answered SUCCESS', async () => {
    const { outTradeNo, body } = await undeliveredNotification();
    const requestSeen = once(server, 'request');
    const slow = await startSlowNotify(port, body);
    await requestSeen;
    assert.equal(tracker.size, 1);

    const drained = tracker.drain(5000);
    // No new connection is accepted once draining started.
    const refused = net.connect(port, '127.0.0.1');
    const [ err ] = await once(refused, 'error');
    assert.equal((err as NodeJS.ErrnoException).code, 'ECONNREFUSED');

    slow.finish();
    const reply = await slow.reply;
    assert.ok(reply.startsWith('HTTP/1.1 200'), reply);
    assert.ok(reply.endsWith(SUCCESS_XML), reply);
    assert.equal(await drained, true);
    assert.equal(tracker.size, 0);
    const order = await app.model.Order.findOne({ where: { outTradeNo } });
    assert.equal(order!.status, 'SUCCESS');
  });

  it('drain resolves false when a request outlives the timeout, and nothing is half-written', async () => {
    const { outTradeNo, body } = await undeliveredNotification();
    const requestSeen = once(server, 'request');
    const slow = await startSlowNotify(port, body);
    await requestSeen;
    assert.equal(await tracker.drain(20), false);
    assert.equal(tracker.size, 1);
    // The worker would exit now: the connection dies before the body is complete.
    slow.socket.destroy();
    await slow.reply;
    const order = await app.model.Order.findOne({ where: { outTradeNo } });
    assert.equal(order!.status, 'NOTPAY');
    assert.equal(await app.model.PaymentNotification.count({ where: { outTradeNo } }), 0);
  });

  it('drain resolves at once when nothing is in flight', async () => {
    assert.equal(await tracker.drain(5000), true);
  });
});
