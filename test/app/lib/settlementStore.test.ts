import assert from 'node:assert/strict';
import { app } from 'egg-mock/bootstrap';
import type { Pool, PoolConnection } from 'mysql2/promise';
import { createSettlementPool, SettlementStore } from '../../../app/lib/settlementStore';

// The settlement pool's session settings (READ COMMITTED, the lock wait) go with a connection's
// first batch and again only when the configured wait changes.
/** A settlement pool of one connection on the test database. */
function onePool(): Pool {
  const c = app.config.sequelize as any;
  return createSettlementPool({ host: c.host, port: c.port, username: c.username, password: c.password, database: c.database, poolSize: 1 });
}

describe('SettlementStore session settings', () => {
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
    await store.lock(conn, [ 'NOSUCHORDER0001' ], [], lockWait);
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
