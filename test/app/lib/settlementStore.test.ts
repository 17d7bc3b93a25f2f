import assert from 'node:assert/strict';
import { app } from 'egg-mock/bootstrap';
import type { Pool, PoolConnection } from 'mysql2/promise';
import { createSettlementPool, SettlementStore } from '../../../app/lib/settlementStore';
import { createOrder, login, resetWorld } from '../../support/fixtures';

// The settlement pool's session settings (READ COMMITTED, the lock wait) go with a connection's
// first batch and again only when the configured wait changes.
/** A settlement pool of one connection on the test database. */
function onePool(): Pool {
  const c = app.config.sequelize as any;
  return createSettlementPool({ host: c.host, port: c.port, username: c.username, password: c.password, database: c.database, poolSize: 1 });
}

describe('SettlementStore', () => {
  let pool: Pool;
  let conn: PoolConnection;
  let sent: string[];
  const store = new SettlementStore();

  before(async () => {
    pool = onePool();
    conn = await pool.getConnection();
    const query = conn.query.bind(conn) as (...args: unknown[]) => Promise<unknown>;
    (conn as any).query = (sql: string, ...rest: unknown[]) => {
      sent.push(sql);
      return query(sql, ...rest);
    };
  });
  beforeEach(() => { sent = []; });
  after(async () => {
    conn.release();
    await pool.end();
  });

  async function session(): Promise<{ isolation: string; lockWait: number }> {
    const [ rows ] = await conn.query('SELECT @@session.tx_isolation AS isolation, @@session.innodb_lock_wait_timeout AS lockWait') as any;
    return { isolation: rows[0].isolation, lockWait: Number(rows[0].lockWait) };
  }

  async function lockAndRollBack(lockWait: number) {
    await store.lock(conn, [ 'NOSUCHORDER0001' ], [ 'NOSUCHTXN' ], lockWait);
    await store.rollback(conn);
  }

  it('sets them with the first batch only, and again when the lock wait changes', async () => {
    await lockAndRollBack(7);
    assert.deepEqual(await session(), { isolation: 'READ-COMMITTED', lockWait: 7 });
    await lockAndRollBack(7);
    await lockAndRollBack(3);
    assert.deepEqual(await session(), { isolation: 'READ-COMMITTED', lockWait: 3 });
    const setUps = sent.filter(sql => sql.startsWith('START') || sql.startsWith('SET')).map(sql => sql.split(';')[0]);
    assert.deepEqual(setUps, [
      'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED',
      'START TRANSACTION',
      'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED',
    ]);
  });

  it('locks the attempt and its order but not the owner read beside them: a login is not held up by a payment', async () => {
    await resetWorld();
    const { token, userId } = await login();
    const outTradeNo = (await createOrder(token).expect(200)).body.outTradeNo as string;
    const other = await app.model.transaction();
    try {
      const locked = await store.lock(conn, [ outTradeNo ], null, 5);
      assert.equal(locked.attempts.length, 1);
      assert.equal(locked.owners.get(outTradeNo), (await app.model.User.findByPk(userId))!.openid);
      assert.deepEqual([ ...locked.holders ], []);
      await app.model.query('SET SESSION innodb_lock_wait_timeout = 1', { transaction: other });
      // Another transaction writes the owner's row at once...
      await app.model.User.update({ lastLoginAt: new Date() }, { where: { id: userId }, transaction: other });
      // ...and waits in vain for the order's.
      await assert.rejects(app.model.Order.update({ body: 'x' }, { where: { outTradeNo }, transaction: other }), /Lock wait timeout/);
    } finally {
      await other.rollback();
      await store.rollback(conn);
    }
  });

  it('sets up each connection of its own: another connection set up with the same wait does not count', async () => {
    await lockAndRollBack(4);
    const otherPool = onePool();
    const other = await otherPool.getConnection();
    try {
      await store.lock(other, [ 'NOSUCHORDER0001' ], [], 9);
      await store.rollback(other);
    } finally {
      other.release();
      await otherPool.end();
    }
    assert.equal((await session()).lockWait, 4);
    await lockAndRollBack(9);
    assert.deepEqual(await session(), { isolation: 'READ-COMMITTED', lockWait: 9 });
  });
});
