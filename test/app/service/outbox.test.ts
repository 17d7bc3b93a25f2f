import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import { app, mock } from 'egg-mock/bootstrap';
import { MockApplication } from 'egg-mock';
import { buildXml } from '../../../lib/wechatpay';
import { testEnv } from '../../support/env';
import { createOrder, login, resetWorld } from '../../support/fixtures';
import { adminHeader, paidOrder, requestRefund } from '../../support/refunds';
import { forkKillAfterCommit, sendNotification } from '../../support/killAfterCommitChild';
import { startSecondApp } from '../../support/secondApp';
import { AMQP_TEST_URL, AmqpCollector, eventually, WebhookSink } from '../../support/eventSink';
import type { SqlBatch } from '../../../app/repository/sqlBatch';

const SECRET = 'test-webhook-secret';

/** Points the main app's relay at the sink (and at RabbitMQ with `collector`), quick retries, until mock.restore(). */
function useSinks(sink: WebhookSink, options: { collector?: AmqpCollector; maxAttempts?: number; timeoutMs?: number } = {}) {
  mock(app.config.outbox, 'webhook', { url: sink.url, secret: SECRET, timeoutMs: options.timeoutMs ?? 2000 });
  mock(app.config.outbox, 'amqp', options.collector
    ? { url: AMQP_TEST_URL, exchange: options.collector.exchange, timeoutMs: 2000 }
    : { url: undefined, exchange: 'unused', timeoutMs: 2000 });
  mock(app.config.outbox, 'relay', { ...app.config.outbox.relay, pollMs: 50, backoffBaseMs: 100, backoffMaxMs: 400, maxAttempts: options.maxAttempts ?? 50 });
}

function outboxRows(where: Record<string, unknown> = {}) {
  return app.model.OutboxEvent.findAll({ where, order: [[ 'id', 'ASC' ]], raw: true });
}

async function waitForStatus(eventId: string, status: string, timeoutMs = 10_000) {
  await eventually(async () => (await app.model.OutboxEvent.findOne({ where: { eventId } }))?.status === status, `event ${eventId} ${status}`, timeoutMs);
}

async function onlyEvent() {
  await eventually(async () => (await app.model.OutboxEvent.count()) > 0, 'an outbox event');
  const rows = await outboxRows();
  assert.equal(rows.length, 1);
  return rows[0];
}

/** An order paid at the simulator whose notification the test delivers itself. */
async function paidAtWechatOnly(token: string): Promise<string> {
  const outTradeNo = (await createOrder(token).expect(200)).body.outTradeNo as string;
  testEnv.sim.setFault('notify', { kind: 'drop', beforeProcessing: true });
  await testEnv.sim.pay(outTradeNo);
  return outTradeNo;
}

describe('outbox: events delivered to the merchant (webhook, RabbitMQ)', () => {
  let sink: WebhookSink;
  beforeEach(async () => {
    await resetWorld();
    sink = new WebhookSink(SECRET);
    await sink.start();
  });
  afterEach(async () => {
    mock.restore();
    await sink.stop();
    // Nothing left for a relay to pick up in a later test file.
    await app.model.query('DELETE FROM outbox_events');
  });

  it('paid: exactly one order.paid, signed, delivered to the webhook and confirmed by RabbitMQ, with the same body', async () => {
    const collector = new AmqpCollector();
    await collector.start();
    try {
      useSinks(sink, { collector });
      const { token, openid } = await login();
      const { outTradeNo, transactionId } = await paidOrder(token);
      const row = await onlyEvent();
      await waitForStatus(row.eventId, 'DELIVERED');
      await eventually(() => collector.messages.length >= 1, 'the RabbitMQ message');

      // A repeated notification changes nothing and adds no event; a relay round finds nothing to send.
      const resent = await app.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
        .send(buildXml(testEnv.sim.buildNotification(outTradeNo)))
        .expect(200);
      assert.match(resent.text, /SUCCESS/);
      assert.equal(await app.createAnonymousContext().service.outbox.relayBatch(), 0);
      assert.equal(await app.model.OutboxEvent.count(), 1);

      assert.equal(sink.requests.length, 1);
      const [ request ] = sink.requests;
      assert.equal(request.signatureProblem, null);
      assert.equal(request.headers['idempotency-key'], row.eventId);
      assert.equal(request.headers['content-type'], 'application/json');
      const event = request.body;
      assert.equal(event.id, row.eventId);
      assert.match(event.id, /^evt_[0-9a-f]{32}$/);
      assert.equal(event.type, 'order.paid');
      assert.equal(event.outTradeNo, outTradeNo);
      assert.equal(event.sequence, 1);
      assert.equal(event.data.order.totalFee, 1200);
      assert.equal(event.data.order.status, 'SUCCESS');
      assert.equal(event.data.order.openid, openid);
      assert.equal(event.data.order.appId, app.config.wechat.appId);
      assert.equal(event.data.order.transactionId, transactionId);
      assert.deepEqual(event.data.order.items, [{ productId: 1, name: 'Coffee', unitPriceFen: 1200, quantity: 1 }]);
      assert.ok(event.data.order.paidAt);
      assert.deepEqual(event.data.payment, { outTradeNo, transactionId, totalFee: 1200 });

      assert.equal(collector.messages.length, 1);
      const [ message ] = collector.messages;
      assert.equal(message.properties.messageId, row.eventId);
      assert.equal(message.properties.deliveryMode, 2);
      assert.equal(message.fields.routingKey, 'order.paid');
      assert.deepEqual(JSON.parse(message.content.toString('utf8')), event);

      const [ stored ] = await outboxRows();
      assert.equal(stored.status, 'DELIVERED');
      assert.equal(stored.attempts, 1);
      assert.equal(stored.deliveredTo, 'webhook,amqp');
    } finally {
      await collector.stop();
    }
  });

  it('a commit wakes its worker\'s relay: the event is delivered at once, not at the next poll (set a minute away)', async () => {
    useSinks(sink);
    // The relay's timer already set (100 ms in tests) fires before the login and order below are
    // done; after it, the next poll is a minute away, past this test's timeout.
    mock(app.config.outbox.relay, 'pollMs', 60_000);
    const { token } = await login();
    await paidOrder(token);
    const row = await onlyEvent();
    await waitForStatus(row.eventId, 'DELIVERED', 20_000);
    assert.equal(sink.requests.length, 1);
  });

  it('the receiver down for a while: an order\'s events wait in sequence and arrive after it returns, in order, once per event id', async () => {
    await sink.stop();
    useSinks(sink);
    const { token } = await login();
    const { outTradeNo } = await paidOrder(token);
    await requestRefund(outTradeNo, { amount: 1200, reason: 'out of stock' }).expect(201);
    await eventually(async () => (await app.model.OutboxEvent.count()) === 2, 'the refund.succeeded event');
    // The first is retried; the second is not even tried while the first is pending.
    await eventually(async () => (await outboxRows())[0].attempts >= 2, 'two failed attempts');
    const [ paid, refunded ] = await outboxRows();
    assert.equal(paid.type, 'order.paid');
    assert.equal(paid.status, 'PENDING');
    assert.match(paid.lastError!, /webhook: ECONNREFUSED/);
    assert.equal(refunded.type, 'refund.succeeded');
    assert.equal(refunded.attempts, 0);

    await sink.start();
    await waitForStatus(refunded.eventId, 'DELIVERED');
    assert.deepEqual(sink.requests.map(r => [ r.body.type, r.body.sequence, r.body.id ]), [
      [ 'order.paid', 1, paid.eventId ], [ 'refund.succeeded', 2, refunded.eventId ],
    ]);
    assert.ok(sink.requests.every(r => r.signatureProblem === null));
    const refund = sink.requests[1].body.data.refund;
    assert.equal(refund.amount, 1200);
    assert.equal(refund.status, 'SUCCESS');
    assert.equal(sink.requests[1].body.data.order.status, 'REFUND');
  });

  it('the receiver answering 500: retried with growing back-off, DEAD after the limit, then replayed by an operator and delivered', async () => {
    sink.mode = 'fail';
    useSinks(sink, { maxAttempts: 3 });
    const { token } = await login();
    await paidOrder(token);
    const row = await onlyEvent();
    await waitForStatus(row.eventId, 'DEAD');
    const [ dead ] = await outboxRows();
    assert.equal(dead.attempts, 3);
    assert.equal(dead.lastError, 'webhook: answered HTTP 500');
    assert.equal(sink.requests.length, 3);
    assert.ok(sink.requests.every(r => r.body.id === row.eventId && r.signatureProblem === null));
    // Each retry waited at least its back-off: 100 ms, then 200 ms.
    assert.ok(sink.requests[1].at - sink.requests[0].at >= 100, 'first back-off');
    assert.ok(sink.requests[2].at - sink.requests[1].at >= 200, 'second back-off');

    const listed = await app.httpRequest().get('/admin/events?status=dead').set(adminHeader())
      .expect(200);
    assert.deepEqual(listed.body.events.map((e: any) => [ e.id, e.status, e.attempts ]), [[ row.eventId, 'DEAD', 3 ]]);

    sink.mode = 'ok';
    const replayed = await app.httpRequest().post(`/admin/events/${row.eventId}/replay`).set(adminHeader())
      .expect(200);
    assert.deepEqual(replayed.body, { replayed: [ row.eventId ] });
    await waitForStatus(row.eventId, 'DELIVERED');
    assert.equal(sink.requests.length, 4);
    assert.equal(sink.requests[3].body.id, row.eventId);
  });

  it('the receiver not answering within the timeout: retried, DEAD after the limit, replayed as a range', async () => {
    sink.mode = 'hang';
    useSinks(sink, { maxAttempts: 2, timeoutMs: 300 });
    const from = new Date(Date.now() - 1000);
    const { token } = await login();
    await paidOrder(token);
    const row = await onlyEvent();
    await waitForStatus(row.eventId, 'DEAD');
    const [ dead ] = await outboxRows();
    assert.equal(dead.attempts, 2);
    assert.equal(dead.lastError, 'webhook: no answer within 300 ms');
    assert.equal(sink.requests.length, 2);

    sink.mode = 'ok';
    const replayed = await app.httpRequest().post('/admin/events/replay').set(adminHeader())
      .send({ from: from.toISOString(), to: new Date(Date.now() + 1000).toISOString() })
      .expect(200);
    assert.deepEqual(replayed.body, { replayed: [ row.eventId ] });
    await waitForStatus(row.eventId, 'DELIVERED');
    assert.equal(sink.requests.length, 3);
  });

  it('a change rolled back writes no event: nothing is delivered', async () => {
    useSinks(sink);
    const { token } = await login();
    const outTradeNo = await paidAtWechatOnly(token);
    // The notification's audit row fails in the settlement's committing batch: the whole transaction rolls back.
    app.mockService('notificationAudit', 'appendTo', (batch: SqlBatch) => {
      batch.sql.push('SIGNAL SQLSTATE \'HY000\' SET MESSAGE_TEXT = \'audit write failed\'');
    });
    const res = await app.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
      .send(buildXml(testEnv.sim.buildNotification(outTradeNo)));
    assert.match(res.text, /FAIL/);
    assert.equal((await app.model.Order.findOne({ where: { outTradeNo } }))!.status, 'NOTPAY');
    assert.equal(await app.model.OutboxEvent.count(), 0);
    assert.equal(await app.model.OrderEvent.count(), 0);
    assert.equal(await app.createAnonymousContext().service.outbox.relayBatch(), 0);
    assert.equal(sink.requests.length, 0);
  });

  it('every order change a merchant acts on writes its event: closed by its owner, expired by the job', async () => {
    const { token } = await login();
    const first = (await createOrder(token).expect(200)).body.outTradeNo as string;
    await app.httpRequest().post(`/payment/orders/${first}/close`).set('Authorization', `Bearer ${token}`)
      .expect(200);
    const second = (await createOrder(token).expect(200)).body.outTradeNo as string;
    await app.model.Order.update({ expiresAt: new Date(Date.now() - 1000) }, { where: { outTradeNo: second } });
    await app.runSchedule('closeExpiredOrders');
    const rows = await outboxRows();
    assert.deepEqual(rows.map(r => [ r.outTradeNo, r.type, r.seq, r.status ]), [
      [ first, 'order.closed', 1, 'PENDING' ], [ second, 'order.expired', 1, 'PENDING' ],
    ]);
    const payload = JSON.parse(rows[1].payload);
    assert.equal(payload.order.status, 'CLOSED');
    assert.equal(payload.source, 'job');
    assert.ok(payload.order.closedAt);
  });

  describe('two more app instances racing the main one for the same events', () => {
    const apps: MockApplication[] = [];
    afterEach(async () => {
      for (const a of apps.splice(0)) await a.close();
    });

    it('no event is delivered twice by the relays: each id arrives once', async () => {
      for (let i = 0; i < 2; i++) apps.push(await startSecondApp({ OUTBOX_POLL_MS: '20', OUTBOX_BATCH_SIZE: '3' }));
      // Events pile up while no relay has a sink...
      const { token } = await login();
      mock(app.config.rateLimit.orderPerUser, 'limit', 0);
      for (let i = 0; i < 12; i++) await paidOrder(token);
      assert.equal(await app.model.OutboxEvent.count({ where: { status: 'PENDING' } }), 12);
      // ...then all three get the sink at once and race.
      for (const other of apps) Object.assign(other.config.outbox.webhook, { url: sink.url, secret: SECRET });
      useSinks(sink);
      mock(app.config.outbox.relay, 'batchSize', 3);
      await eventually(async () => (await app.model.OutboxEvent.count({ where: { status: 'DELIVERED' } })) === 12, 'all 12 delivered');
      const ids = sink.requests.map(r => r.body.id);
      assert.equal(ids.length, 12);
      assert.equal(new Set(ids).size, 12);
      assert.ok((await outboxRows()).every(r => r.attempts === 1));
    });
  });

  describe('the app killed (SIGKILL) between the commit and the delivery', () => {
    let child: ChildProcess | undefined;
    afterEach(() => { if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });

    it('the committed event is delivered once after the restart', async function() {
      // A whole app booted through ts-node in a child: slow on a busy machine.
      this.timeout(180_000);
      const { token } = await login();
      const outTradeNo = await paidAtWechatOnly(token);
      // A child app with the sink configured, which dies right after the payment commits.
      const killed = forkKillAfterCommit({ OUTBOX_WEBHOOK_URL: sink.url, OUTBOX_WEBHOOK_SECRET: SECRET });
      child = killed.child;
      const exited = killed.exited;
      const port = await killed.listening;
      const sent = sendNotification(port, buildXml(testEnv.sim.buildNotification(outTradeNo)));
      assert.equal(await sent, 'error ECONNRESET');
      assert.deepEqual(await exited, [ null, 'SIGKILL' ]);

      const [ pending ] = await outboxRows();
      assert.equal(pending.type, 'order.paid');
      assert.equal(pending.status, 'PENDING');
      assert.equal(pending.attempts, 0);
      assert.equal(sink.requests.length, 0);

      // The restarted service (here: the main app's relay) delivers it.
      useSinks(sink);
      await waitForStatus(pending.eventId, 'DELIVERED');
      assert.deepEqual(sink.requests.map(r => r.body.id), [ pending.eventId ]);
    });
  });
});
