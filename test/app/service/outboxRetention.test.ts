import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { app, mock } from 'egg-mock/bootstrap';
import { QueryTypes } from 'sequelize';
import type { OutboxStatus } from '../../../app/domain/outboxRules';
import { RedisLock } from '../../../app/infra/redisLock';
import { OutboxRepository } from '../../../app/repository/outboxRepository';
import { sqlTime } from '../../../app/repository/sqlBatch';
import { jobLockKey } from '../../../app/service/jobLock';
import { createOrder, login, resetWorld } from '../../support/fixtures';

const PURGE = 'purgeDeliveredEvents';
const DAY_MS = 24 * 3600_000;

interface SeededOrder { id: number; outTradeNo: string }

const daysAgo = (days: number) => new Date(Date.now() - days * DAY_MS);

/** The outbox as [outTradeNo, seq, status], by order then seq. */
async function outbox(): Promise<Array<[ string, number, string ]>> {
  const rows = await app.model.OutboxEvent.findAll({ order: [[ 'orderId', 'ASC' ], [ 'seq', 'ASC' ]], raw: true });
  return rows.map(r => [ r.outTradeNo, r.seq, r.status ]);
}

/**
 * The retention job (docs/events.md#retention) on real MariaDB and Redis. Outbox rows are written
 * straight to the table with the state and age each case needs, on real orders made through the
 * API; the events written after a purge go through the real close path.
 */
describe('outbox retention: the purgeDeliveredEvents job', () => {
  let token: string;
  beforeEach(async () => {
    await resetWorld();
    ({ token } = await login());
  });
  afterEach(async () => {
    mock.restore();
    await app.model.query('DELETE FROM outbox_events');
  });

  async function newOrder(): Promise<SeededOrder> {
    const outTradeNo = (await createOrder(token).expect(200)).body.outTradeNo as string;
    const order = await app.model.Order.findOne({ where: { outTradeNo } });
    return { id: order!.id, outTradeNo };
  }

  /** One outbox row of `order` with this seq, state and creation time; answers its id. */
  async function seedEvent(order: SeededOrder, seq: number, status: OutboxStatus, createdAt: Date): Promise<number> {
    const at = sqlTime(createdAt);
    const [ id ] = await app.model.query(
      'INSERT INTO outbox_events (event_id, type, order_id, out_trade_no, seq, payload, status, attempts, next_attempt_at, ' +
      'delivered_to, delivered_at, created_at, updated_at) VALUES (?, \'order.closed\', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      {
        replacements: [
          `evt_${randomUUID().replace(/-/g, '')}`, order.id, order.outTradeNo, seq, JSON.stringify({ order: { outTradeNo: order.outTradeNo } }),
          status, status === 'PENDING' ? 0 : 1, at, status === 'DELIVERED' ? 'webhook' : '', status === 'DELIVERED' ? at : null, at, at,
        ],
        type: QueryTypes.INSERT,
      }) as unknown as [ number, number ];
    return Number(id);
  }

  /** Several events of one order, seq 1.. in the given states, all created at `createdAt`. */
  async function seedEvents(order: SeededOrder, statuses: OutboxStatus[], createdAt: Date): Promise<number[]> {
    const ids = [];
    for (const [ i, status ] of statuses.entries()) ids.push(await seedEvent(order, i + 1, status, createdAt));
    return ids;
  }

  function closeOrder(outTradeNo: string) {
    return app.httpRequest().post(`/payment/orders/${outTradeNo}/close`).set('Authorization', `Bearer ${token}`)
      .expect(200);
  }

  it('is a worker job on the configured interval (hourly by default), off when the jobs are (as in unittest)', () => {
    const items = Object.values((app as any).scheduleWorker.scheduleItems as Record<string, { key: string; schedule: any }>);
    const schedule = items.find(item => item.key.includes(`app/schedule/${PURGE}.`))!.schedule;
    assert.deepEqual(schedule, { type: 'worker', interval: 3600_000, disable: true });
    assert.deepEqual(app.config.outbox.retention, { deliveredDays: 30, intervalMs: 3600_000, batchSize: 500 });
  });

  it('deletes old DELIVERED events that have a later event of their order; keeps each order\'s latest, PENDING, DEAD and recent ones', async () => {
    const old = daysAgo(31);
    const recent = daysAgo(29);
    const delivered = await newOrder();
    const onlyOne = await newOrder();
    const stuck = await newOrder();
    const fresh = await newOrder();
    await seedEvents(delivered, [ 'DELIVERED', 'DELIVERED', 'DELIVERED' ], old);
    await seedEvents(onlyOne, [ 'DELIVERED' ], old);
    await seedEvents(stuck, [ 'PENDING', 'DEAD', 'DELIVERED', 'DELIVERED' ], daysAgo(400));
    await seedEvents(fresh, [ 'DELIVERED', 'DELIVERED' ], recent);

    assert.deepEqual(await app.runSchedule(PURGE), { ran: true, result: { deleted: 3 } });
    assert.deepEqual(await outbox(), [
      // The latest of an order stays however old: the next event's seq continues from it.
      [ delivered.outTradeNo, 3, 'DELIVERED' ],
      [ onlyOne.outTradeNo, 1, 'DELIVERED' ],
      [ stuck.outTradeNo, 1, 'PENDING' ],
      [ stuck.outTradeNo, 2, 'DEAD' ],
      [ stuck.outTradeNo, 4, 'DELIVERED' ],
      [ fresh.outTradeNo, 1, 'DELIVERED' ],
      [ fresh.outTradeNo, 2, 'DELIVERED' ],
    ]);
    // Nothing left to delete: the next run deletes nothing.
    assert.deepEqual(await app.runSchedule(PURGE), { ran: true, result: { deleted: 0 } });
    assert.equal(await app.model.OutboxEvent.count(), 7);

    // The orders' next events, written by the real close path, continue their sequences.
    await closeOrder(delivered.outTradeNo);
    await closeOrder(onlyOne.outTradeNo);
    const next = await app.model.OutboxEvent.findAll({ where: { type: 'order.closed', status: 'PENDING', orderId: [ delivered.id, onlyOne.id ] }, order: [[ 'id', 'ASC' ]] });
    assert.deepEqual(next.map(e => [ e.outTradeNo, e.seq ]), [[ delivered.outTradeNo, 4 ], [ onlyOne.outTradeNo, 2 ]]);
  });

  it('a retention of 7 days deletes what is older than 7 days', async () => {
    mock(app.config.outbox.retention, 'deliveredDays', 7);
    const order = await newOrder();
    await seedEvent(order, 1, 'DELIVERED', daysAgo(8));
    await seedEvent(order, 2, 'DELIVERED', daysAgo(6));
    await seedEvent(order, 3, 'DELIVERED', daysAgo(1));
    assert.deepEqual(await app.runSchedule(PURGE), { ran: true, result: { deleted: 1 } });
    assert.deepEqual(await outbox(), [[ order.outTradeNo, 2, 'DELIVERED' ], [ order.outTradeNo, 3, 'DELIVERED' ]]);
  });

  it('an event replayed to PENDING after its page was read is not deleted', async () => {
    const order = await newOrder();
    const [ first ] = await seedEvents(order, [ 'DELIVERED', 'DELIVERED' ], daysAgo(31));
    const repository = new OutboxRepository(app.model);
    const page = await repository.purgeableDelivered(daysAgo(30), 0, await repository.lastIdCreatedBefore(daysAgo(30)), 10);
    assert.deepEqual(page, [ first ]);

    // An operator replays it between the page's read and its delete.
    const { eventId } = (await app.model.OutboxEvent.findByPk(first))!;
    assert.deepEqual(await repository.replay({ eventId, statuses: [ 'DELIVERED' ] }, new Date()), [ eventId ]);
    assert.equal(await repository.deleteDelivered(page), 0);
    assert.deepEqual(await outbox(), [[ order.outTradeNo, 1, 'PENDING' ], [ order.outTradeNo, 2, 'DELIVERED' ]]);
  });

  it('deletes page by page (outbox.retention.batchSize) until nothing is left, in one run', async () => {
    mock(app.config.outbox.retention, 'batchSize', 2);
    const pages: number[] = [];
    const readPage = OutboxRepository.prototype.purgeableDelivered;
    mock(OutboxRepository.prototype, 'purgeableDelivered', async function(this: OutboxRepository, cutoff: Date, afterId: number, upToId: number, limit: number) {
      const ids = await readPage.call(this, cutoff, afterId, upToId, limit);
      pages.push(ids.length);
      return ids;
    });
    const first = await newOrder();
    const second = await newOrder();
    await seedEvents(first, [ 'DELIVERED', 'DELIVERED', 'DELIVERED', 'DELIVERED' ], daysAgo(40));
    await seedEvents(second, [ 'DELIVERED', 'DEAD', 'DELIVERED', 'DELIVERED' ], daysAgo(40));

    // Newer events (after the cutoff) end the pages' range: they are never read.
    const third = await newOrder();
    await seedEvents(third, [ 'DELIVERED', 'DELIVERED' ], daysAgo(1));

    assert.deepEqual(await app.runSchedule(PURGE), { ran: true, result: { deleted: 5 } });
    assert.deepEqual(pages, [ 2, 2, 1 ]);
    assert.deepEqual(await outbox(), [[ first.outTradeNo, 4, 'DELIVERED' ], [ second.outTradeNo, 2, 'DEAD' ], [ second.outTradeNo, 4, 'DELIVERED' ],
      [ third.outTradeNo, 1, 'DELIVERED' ], [ third.outTradeNo, 2, 'DELIVERED' ]]);

    // Nothing older than the cutoff left to read: no page at all.
    pages.length = 0;
    await app.model.query('DELETE FROM outbox_events WHERE created_at < ?', { replacements: [ daysAgo(30) ] });
    assert.deepEqual(await app.runSchedule(PURGE), { ran: true, result: { deleted: 0 } });
    assert.deepEqual(pages, []);
  });

  it('runs once at a time cluster-wide: a concurrent run is skipped (LOCKED), and so is a tick while another holds the lock', async () => {
    const order = await newOrder();
    await seedEvents(order, [ 'DELIVERED', 'DELIVERED', 'DELIVERED' ], daysAgo(31));

    const runs = await Promise.all([ app.runSchedule(PURGE), app.runSchedule(PURGE) ]);
    assert.deepEqual(runs.filter(r => r.ran), [{ ran: true, result: { deleted: 2 } }]);
    assert.deepEqual(runs.filter(r => !r.ran), [{ ran: false, reason: 'LOCKED' }]);
    assert.equal(await app.redis.exists(jobLockKey(PURGE)), 0);

    await seedEvent(order, 4, 'DELIVERED', daysAgo(31));
    const held = await new RedisLock(app.redis, 1000).acquire(jobLockKey(PURGE), 60_000);
    assert.ok(held);
    assert.deepEqual(await app.runSchedule(PURGE), { ran: false, reason: 'LOCKED' });
    assert.equal(await app.model.OutboxEvent.count(), 2);
    assert.equal(await held.release(), true);
    assert.deepEqual(await app.runSchedule(PURGE), { ran: true, result: { deleted: 1 } });
    assert.deepEqual(await outbox(), [[ order.outTradeNo, 4, 'DELIVERED' ]]);
  });
});
