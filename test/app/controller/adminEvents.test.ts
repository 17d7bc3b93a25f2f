import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { resetWorld } from '../../support/fixtures';
import { seedEvents } from '../../support/outboxEvents';
import { adminHeader } from '../../support/refunds';

// The admin API of the outbox (no sink configured here, so nothing is delivered meanwhile: the
// delivery itself is test/app/service/outbox.test.ts).

describe('admin: GET /admin/events, POST /admin/events/:eventId/replay, POST /admin/events/replay', () => {
  beforeEach(resetWorld);
  afterEach(async () => {
    mock.restore();
    await app.model.query('DELETE FROM outbox_events');
  });

  it('needs the admin token: none or a wrong one is 401, nothing replayed', async () => {
    const [ dead ] = await seedEvents([ 'DEAD' ]);
    for (const header of [{}, { Authorization: 'Bearer wrong-token' }]) {
      const res = await app.httpRequest().get('/admin/events').set(header)
        .expect(401);
      assert.equal(res.body.code, 'ADMIN_UNAUTHORIZED');
      await app.httpRequest().post(`/admin/events/${dead.eventId}/replay`).set(header)
        .expect(401);
      await app.httpRequest().post('/admin/events/replay').set(header)
        .send({ from: '2020-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' })
        .expect(401);
    }
    assert.equal((await app.model.OutboxEvent.findOne({ where: { eventId: dead.eventId } }))!.status, 'DEAD');
  });

  it('lists events by state, with counts and a cursor for the next page', async () => {
    const [ pending, delivered, dead1, dead2 ] = await seedEvents([ 'PENDING', 'DELIVERED', 'DEAD', 'DEAD' ]);
    const all = await app.httpRequest().get('/admin/events').set(adminHeader())
      .expect(200);
    assert.deepEqual(all.body.events.map((e: any) => e.id), [ pending.eventId, delivered.eventId, dead1.eventId, dead2.eventId ]);
    assert.deepEqual(all.body.counts, { PENDING: 1, DELIVERED: 1, DEAD: 2 });
    assert.equal(all.body.next, null);

    const deadPage = await app.httpRequest().get('/admin/events?status=dead&limit=1').set(adminHeader())
      .expect(200);
    assert.deepEqual(deadPage.body.events.map((e: any) => [ e.id, e.status, e.attempts, e.lastError ]), [[ dead1.eventId, 'DEAD', 20, 'webhook: answered HTTP 500' ]]);
    assert.equal(deadPage.body.next, dead1.position);
    const nextPage = await app.httpRequest().get(`/admin/events?status=dead&after=${deadPage.body.next}`).set(adminHeader())
      .expect(200);
    assert.deepEqual(nextPage.body.events.map((e: any) => e.id), [ dead2.eventId ]);

    const pendingOnly = await app.httpRequest().get('/admin/events?status=PENDING').set(adminHeader())
      .expect(200);
    assert.deepEqual(pendingOnly.body.events.map((e: any) => e.id), [ pending.eventId ]);
    assert.ok(pendingOnly.body.events[0].nextAttemptAt);
    const byOrder = await app.httpRequest().get(`/admin/events?outTradeNo=${delivered.outTradeNo}`).set(adminHeader())
      .expect(200);
    assert.deepEqual(byOrder.body.events.map((e: any) => [ e.id, e.deliveredTo ]), [[ delivered.eventId, [ 'webhook' ]]]);
  });

  it('refuses a bad status, cursor or limit: 422 naming the field', async () => {
    for (const [ query, field ] of [[ 'status=lost', 'status' ], [ 'after=-1', 'after' ], [ 'limit=0', 'limit' ], [ 'limit=201', 'limit' ], [ 'outTradeNo=a%20b', 'outTradeNo' ]]) {
      const res = await app.httpRequest().get(`/admin/events?${query}`).set(adminHeader())
        .expect(422);
      assert.equal(res.body.field, field, query);
    }
  });

  it('replays one event: PENDING again, due now, attempts reset, same id; unknown 404, malformed 422', async () => {
    const [ dead, delivered ] = await seedEvents([ 'DEAD', 'DELIVERED' ]);
    for (const { eventId } of [ dead, delivered ]) {
      const res = await app.httpRequest().post(`/admin/events/${eventId}/replay`).set(adminHeader())
        .expect(200);
      assert.deepEqual(res.body, { replayed: [ eventId ] });
      const row = (await app.model.OutboxEvent.findOne({ where: { eventId } }))!;
      assert.deepEqual([ row.status, row.attempts, row.lastError, row.deliveredAt, row.deliveredTo ], [ 'PENDING', 0, null, null, '' ]);
      assert.ok(row.nextAttemptAt.getTime() <= Date.now());
    }
    const missing = await app.httpRequest().post('/admin/events/evt_00000000000000000000000000000000/replay').set(adminHeader())
      .expect(404);
    assert.equal(missing.body.code, 'EVENT_NOT_FOUND');
    const malformed = await app.httpRequest().post('/admin/events/nope/replay').set(adminHeader())
      .expect(422);
    assert.equal(malformed.body.field, 'eventId');
  });

  it('does not replay an event a relay is delivering right now: 409 EVENT_IN_DELIVERY', async () => {
    const [ held ] = await seedEvents([ 'PENDING' ]);
    await app.model.OutboxEvent.update({ claimToken: 'another-relay', lockedUntil: new Date(Date.now() + 60_000) }, { where: { eventId: held.eventId } });
    const res = await app.httpRequest().post(`/admin/events/${held.eventId}/replay`).set(adminHeader())
      .expect(409);
    assert.equal(res.body.code, 'EVENT_IN_DELIVERY');
    assert.equal((await app.model.OutboxEvent.findOne({ where: { eventId: held.eventId } }))!.claimToken, 'another-relay');
  });

  it('replays a range: the DEAD events created in [from, to) by default, or the states named', async () => {
    const from = new Date(Date.now() - 1000).toISOString();
    const [ , delivered, dead ] = await seedEvents([ 'PENDING', 'DELIVERED', 'DEAD' ]);
    const to = new Date(Date.now() + 1000).toISOString();
    const deadOnly = await app.httpRequest().post('/admin/events/replay').set(adminHeader())
      .send({ from, to })
      .expect(200);
    assert.deepEqual(deadOnly.body, { replayed: [ dead.eventId ] });
    const both = await app.httpRequest().post('/admin/events/replay').set(adminHeader())
      .send({ from, to, statuses: [ 'delivered' ] })
      .expect(200);
    assert.deepEqual(both.body, { replayed: [ delivered.eventId ] });
    const none = await app.httpRequest().post('/admin/events/replay').set(adminHeader())
      .send({ from: '2020-01-01T00:00:00Z', to: '2020-01-02T00:00:00Z', statuses: [ 'dead', 'delivered', 'pending' ] })
      .expect(200);
    assert.deepEqual(none.body, { replayed: [] });
  });

  it('refuses a range without valid times, backwards, or with an unknown state: 422', async () => {
    for (const [ body, field ] of [
      [{ to: '2026-01-01T00:00:00Z' }, 'from' ], [{ from: '2026-01-01T00:00:00Z', to: 'tomorrow' }, 'to' ],
      [{ from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'to' ],
      [{ from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', statuses: [ 'lost' ] }, 'statuses' ],
      [{ from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', statuses: [] }, 'statuses' ],
    ] as const) {
      const res = await app.httpRequest().post('/admin/events/replay').set(adminHeader())
        .send(body)
        .expect(422);
      assert.equal(res.body.field, field, JSON.stringify(body));
    }
  });
});
