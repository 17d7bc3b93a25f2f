import assert from 'node:assert/strict';
import { app } from 'egg-mock/bootstrap';
import mysql from 'mysql2';
import { QueryTypes } from 'sequelize';
import { inBatchTransaction } from '../../../app/repository/sqlBatch';
import { resetWorld } from '../../support/fixtures';

// A transaction whose START TRANSACTION rides with its first batch and whose COMMIT with its last
// (app/repository/sqlBatch.ts, docs/decisions/0019-transaction-control-in-batches.md).

const INSERT_PRODUCT = 'INSERT INTO products (name, price_fen, active, created_at, updated_at) VALUES (?, ?, 1, NOW(3), NOW(3))';

/** Product names as another connection sees them: only what has been committed. */
async function committedNames(): Promise<string[]> {
  const rows = await app.model.query<{ name: string }>('SELECT name FROM products ORDER BY id', { type: QueryTypes.SELECT });
  return rows.map(r => r.name);
}

/** Transactions open on the server right now (this test's pool only: the test database is this file's). */
async function openTransactions(): Promise<number> {
  const [ row ] = await app.model.query<{ n: number }>('SELECT COUNT(*) AS n FROM information_schema.innodb_trx', { type: QueryTypes.SELECT });
  return Number(row.n);
}

/** Every statement Sequelize sends while `work` runs. */
async function sentDuring<T>(work: () => Promise<T>): Promise<{ sent: string[]; result?: T; error?: Error }> {
  const sent: string[] = [];
  app.model.addHook('afterQuery', 'sqlBatchTest', (_options: unknown, query: any) => { sent.push(String(query.sql ?? '')); });
  try {
    return { sent, result: await work() };
  } catch (error) {
    return { sent, error: error as Error };
  } finally {
    app.model.removeHook('afterQuery', 'sqlBatchTest');
  }
}

describe('inBatchTransaction', () => {
  beforeEach(async () => {
    await resetWorld();
    await app.model.query('DELETE FROM products');
  });

  it('a one-batch transaction is one round trip: START TRANSACTION, its statements, COMMIT; the afterCommit hooks run after it', async () => {
    const hooks: string[] = [];
    const { sent, result, error } = await sentDuring(() => inBatchTransaction(app.model, async transaction => {
      transaction.afterCommit(() => { hooks.push('committed'); });
      const results = await transaction.run('test.one', { sql: [ INSERT_PRODUCT, INSERT_PRODUCT ], replacements: [ 'tea', 800, 'cake', 1500 ] }, { commit: true });
      assert.deepEqual(hooks, [], 'not before the transaction is over');
      return results;
    }));
    assert.equal(error, undefined);
    assert.equal(sent.length, 1, sent.join('\n'));
    assert.match(sent[0], /^\/\* test\.one \*\/ START TRANSACTION;\nINSERT INTO products [^;]*'tea'[^;]*;\nINSERT INTO products [^;]*'cake'[^;]*;\nCOMMIT$/);
    // The answer is the batch's own statements' results, START and COMMIT left out.
    assert.equal(result!.length, 2);
    assert.equal(result![0].affectedRows, 1);
    assert.equal(Number(result![1].insertId), Number(result![0].insertId) + 1);
    assert.deepEqual(hooks, [ 'committed' ]);
    assert.deepEqual(await committedNames(), [ 'tea', 'cake' ]);
    assert.equal(await openTransactions(), 0);
  });

  it('writes of a first batch are inside the transaction: no other connection sees them before the batch that commits', async () => {
    let seenBetween: string[] | undefined;
    const { sent, error } = await sentDuring(() => inBatchTransaction(app.model, async transaction => {
      await transaction.run('test.write', { sql: [ INSERT_PRODUCT ], replacements: [ 'tea', 800 ] });
      seenBetween = await committedNames();
      await transaction.run('test.commit', { sql: [ INSERT_PRODUCT ], replacements: [ 'cake', 1500 ] }, { commit: true });
    }));
    assert.equal(error, undefined);
    assert.deepEqual(seenBetween, [], 'with autocommit the first INSERT would show here');
    assert.deepEqual(await committedNames(), [ 'tea', 'cake' ]);
    const ours = sent.filter(sql => /test\./.test(sql));
    assert.deepEqual(ours.map(sql => [ /START TRANSACTION/.test(sql), /COMMIT$/.test(sql) ]), [[ true, false ], [ false, true ]]);
    assert.equal(sent.filter(sql => /^(START TRANSACTION|COMMIT|ROLLBACK)/.test(sql)).length, 0, 'no round trip of its own');
  });

  it('a statement failing in the committing batch stops it before its COMMIT: the earlier statements roll back, no hook runs, the connection is clean', async () => {
    const hooks: string[] = [];
    const { sent, error } = await sentDuring(() => inBatchTransaction(app.model, async transaction => {
      transaction.afterCommit(() => { hooks.push('committed'); });
      await transaction.run('test.fail', {
        sql: [ INSERT_PRODUCT, 'SIGNAL SQLSTATE \'40001\' SET MESSAGE_TEXT = \'Deadlock found when trying to get lock\'', INSERT_PRODUCT ],
        replacements: [ 'tea', 800, 'cake', 1500 ],
      }, { commit: true });
    }));
    assert.match(String(error), /Deadlock found when trying to get lock/);
    assert.deepEqual(hooks, []);
    assert.deepEqual(await committedNames(), []);
    assert.equal(sent.at(-1), 'ROLLBACK;');
    assert.equal(await openTransactions(), 0);
  });

  it('work that throws between batches rolls back what the first batch wrote', async () => {
    const { error } = await sentDuring(() => inBatchTransaction(app.model, async transaction => {
      await transaction.run('test.write', { sql: [ INSERT_PRODUCT ], replacements: [ 'tea', 800 ] });
      throw new Error('the rules refused it');
    }));
    assert.equal(error?.message, 'the rules refused it');
    assert.deepEqual(await committedNames(), []);
    assert.equal(await openTransactions(), 0);
  });

  it('work that throws after its batch committed: what was committed stays, its hooks run, and the caller gets the error', async () => {
    const hooks: string[] = [];
    const { sent, error } = await sentDuring(() => inBatchTransaction(app.model, async transaction => {
      transaction.afterCommit(() => { hooks.push('committed'); });
      await transaction.run('test.commit', { sql: [ INSERT_PRODUCT ], replacements: [ 'tea', 800 ] }, { commit: true });
      throw new Error('the reply could not be built');
    }));
    assert.equal(error?.message, 'the reply could not be built');
    assert.deepEqual(hooks, [ 'committed' ]);
    assert.deepEqual(await committedNames(), [ 'tea' ]);
    assert.equal(sent.filter(sql => /^ROLLBACK/.test(sql)).length, 0);
  });

  it('a batch after the committing one is refused, and work that sends nothing costs no round trip', async () => {
    const after = await sentDuring(() => inBatchTransaction(app.model, async transaction => {
      await transaction.run('test.commit', { sql: [ INSERT_PRODUCT ], replacements: [ 'tea', 800 ] }, { commit: true });
      await transaction.run('test.late', { sql: [ INSERT_PRODUCT ], replacements: [ 'cake', 1500 ] });
    }));
    assert.equal(after.error?.message, 'batch test.late: its transaction has already committed');
    assert.deepEqual(await committedNames(), [ 'tea' ]);

    const nothing = await sentDuring(() => inBatchTransaction(app.model, async () => 'nothing to write'));
    assert.equal(nothing.result, 'nothing to write');
    assert.deepEqual(nothing.sent, []);
    const refused = await sentDuring(() => inBatchTransaction(app.model, async () => { throw new Error('refused before any read'); }));
    assert.equal(refused.error?.message, 'refused before any read');
    assert.deepEqual(refused.sent, []);
    assert.equal(await openTransactions(), 0);
  });

  it('every pooled connection runs READ COMMITTED in strict mode, whatever the server\'s defaults (settlement\'s guards need strict mode)', async () => {
    // A connection of the pool, as the service gets it.
    const [ mode ] = await app.model.query<{ isolation: string; sqlMode: string }>(
      'SELECT @@SESSION.tx_isolation AS isolation, @@SESSION.sql_mode AS sqlMode', { type: QueryTypes.SELECT });
    assert.equal(mode.isolation, 'READ-COMMITTED');
    assert.ok(mode.sqlMode.split(',').includes('STRICT_TRANS_TABLES'), mode.sqlMode);

    // A server whose defaults are neither: the pool's afterConnect hook sets both on a new connection.
    const { host, port, username, password, database } = app.config.sequelize as any;
    const connection = mysql.createConnection({ host, port, user: username, password, database, multipleStatements: true });
    try {
      const query = (sql: string) => new Promise<any>((resolve, reject) => connection.query(sql, (err, rows) => (err ? reject(err) : resolve(rows))));
      await query('SET SESSION sql_mode = \'\'; SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      const [ before ] = await query('SELECT @@SESSION.tx_isolation AS isolation, @@SESSION.sql_mode AS sqlMode');
      assert.deepEqual({ ...before }, { isolation: 'REPEATABLE-READ', sqlMode: '' });
      await (app.config.sequelize as any).hooks.afterConnect(connection);
      const [ after ] = await query('SELECT @@SESSION.tx_isolation AS isolation, @@SESSION.sql_mode AS sqlMode');
      assert.deepEqual({ ...after }, { isolation: 'READ-COMMITTED', sqlMode: 'STRICT_TRANS_TABLES' });
      // And a NOT NULL column then refuses NULL with an error, as the guards rely on.
      await query('CREATE TEMPORARY TABLE strict_check (status VARCHAR(16) NOT NULL)');
      await query('INSERT INTO strict_check VALUES (\'PAID\')');
      await assert.rejects(query('UPDATE strict_check SET status = IF(status = \'NOTPAY\', \'SUCCESS\', NULL)'), /cannot be null/);
    } finally {
      connection.destroy();
    }
  });
});
