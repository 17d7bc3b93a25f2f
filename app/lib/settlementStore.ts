import mysql from 'mysql2/promise';

/**
 * The SQL of payment settlement (app/service/settlement.ts decides, this reads and writes), over
 * its own small mysql2 pool. It speaks to the tables the migrations define (orders,
 * payment_attempts, users, order_events, payment_notifications) in raw SQL because a settlement
 * batch is two round trips whatever its size: lock and read, then write and commit. The pool allows
 * several statements per query for that; every value is bound by mysql2's escaping, never
 * concatenated.
 */

export interface SettlementDbSettings {
  host: string;
  port: number;
  username: string;
  password: string;
  database: string;
  poolSize: number;
}

export function createSettlementPool(s: SettlementDbSettings): mysql.Pool {
  return mysql.createPool({
    host: s.host, port: s.port, user: s.username, password: s.password, database: s.database,
    connectionLimit: s.poolSize, connectTimeout: 3000, multipleStatements: true,
    // DATETIME columns hold UTC (as Sequelize writes them, timezone '+00:00').
    timezone: 'Z', supportBigNumbers: true,
  });
}

/** An attempt as locked for settlement, with its order. */
export interface LockedAttempt {
  attemptId: number;
  orderId: number;
  outTradeNo: string;
  attemptFee: number;
  signType: string;
  attemptTransactionId: string | null;
  orderOutTradeNo: string;
  orderStatus: string;
  orderFee: number;
}

export interface LockedRows {
  attempts: LockedAttempt[];
  /** out_trade_no -> the openid of the order's owner. */
  owners: Map<string, string>;
  /** transaction_id -> out_trade_no of the attempt that already holds it. */
  holders: Map<string, string>;
}

export interface SettlementWrites {
  attemptsPaid: Array<{ attemptId: number; transactionId: string }>;
  attemptsFailed: Array<{ attemptId: number; errCode: string; errCodeDes: string }>;
  ordersPaid: Array<{ orderId: number; attemptId: number; transactionId: string; paidAt: Date; bankType: string | null }>;
  ordersRefundRequired: number[];
  events: Array<{ orderId: number; type: string; source: string; detail: string }>;
  notifications: Array<{
    outTradeNo: string | null; transactionId: string | null; rawBody: string; parsed: string | null;
    outcome: string; reason: string | null; remoteIp: string | null;
  }>;
}

export function emptyWrites(): SettlementWrites {
  return { attemptsPaid: [], attemptsFailed: [], ordersPaid: [], ordersRefundRequired: [], events: [], notifications: [] };
}

// READ COMMITTED: the locking read takes record locks only, no gap locks. A short lock wait: a
// worker settles one batch at a time, so a batch stuck behind another transaction's lock fails
// soon and is settled again payment by payment, rather than holding every payment behind it.
// Both are session settings of the pool's own connections, sent with a connection's first batch
// (and again when the configured wait changes), not with every batch.
const SESSION_SQL = [ 'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', 'SET SESSION innodb_lock_wait_timeout = ?' ];
const LOCK_SQL = [
  'START TRANSACTION',
  // Attempts in out_trade_no order, each with its order: every batch locks in the same order. The
  // owner's openid comes from a scalar subquery, which a locking read does not lock (a test holds
  // MariaDB to that): owners never change, and a login must not wait on a payment.
  'SELECT a.id AS attemptId, a.order_id AS orderId, a.out_trade_no AS outTradeNo, a.total_fee AS attemptFee, ' +
    'a.sign_type AS signType, a.transaction_id AS attemptTransactionId, o.out_trade_no AS orderOutTradeNo, ' +
    'o.status AS orderStatus, o.total_fee AS orderFee, (SELECT u.openid FROM users u WHERE u.id = o.user_id) AS ownerOpenid ' +
    'FROM payment_attempts a JOIN orders o ON o.id = a.order_id WHERE a.out_trade_no IN (?) ORDER BY a.out_trade_no FOR UPDATE',
];
// Not locked: a transaction_id taken meanwhile is still refused by its unique index.
const HOLDERS_SQL = 'SELECT out_trade_no AS outTradeNo, transaction_id AS transactionId FROM payment_attempts WHERE transaction_id IN (?)';

export class SettlementStore {
  /** The lock wait each pool connection's session has (by the driver's connection, which outlives its pool wrappers). */
  private readonly sessionLockWait = new WeakMap<object, number>();

  /**
   * Starts the transaction and locks the attempts (and their orders) of these out_trade_nos. With
   * `holdersOf`, also reads which attempts already hold those transaction_ids; without, the
   * holders answered are none, and a transaction_id held elsewhere is refused by its unique index
   * when written (the caller settles again with holders).
   */
  async lock(conn: mysql.PoolConnection, outTradeNos: string[], holdersOf: string[] | null, lockWaitSeconds: number): Promise<LockedRows> {
    const session = (conn as unknown as { connection?: object }).connection ?? conn;
    const setUp = this.sessionLockWait.get(session) !== lockWaitSeconds;
    const statements = [ ...(setUp ? SESSION_SQL : []), ...LOCK_SQL, ...(holdersOf ? [ HOLDERS_SQL ] : []) ];
    // IN () is not valid SQL; '' matches nothing (transaction_id holds non-empty values or NULL).
    const values = [ ...(setUp ? [ lockWaitSeconds ] : []), outTradeNos, ...(holdersOf ? [ holdersOf.length ? holdersOf : [ '' ] ] : []) ];
    const [ results ] = await conn.query(statements.join(';\n'), values) as any;
    if (setUp) this.sessionLockWait.set(session, lockWaitSeconds);
    const attemptsAt = (setUp ? SESSION_SQL.length : 0) + 1;
    const attempts: any[] = results[attemptsAt];
    const owners = new Map<string, string>();
    for (const row of attempts) if (row.ownerOpenid !== null) owners.set(row.outTradeNo, row.ownerOpenid);
    const holders = new Map<string, string>();
    if (holdersOf) for (const row of results[attemptsAt + 1]) holders.set(row.transactionId, row.outTradeNo);
    return {
      attempts: attempts.map(({ ownerOpenid: _owner, ...row }) => ({ ...row, attemptId: Number(row.attemptId), orderId: Number(row.orderId) })),
      owners,
      holders,
    };
  }

  /**
   * Writes the batch's changes inside the open transaction and, with `commit`, commits them, all
   * in one round trip: if any statement fails, the ones after it (COMMIT included) do not run and
   * the caller rolls back. Answers the statements whose affected-row count is not the one
   * expected. Under the batch's row locks every count is known in advance, so a mismatch is a bug
   * for an operator to look at (the caller logs it), not a race.
   */
  async write(conn: mysql.PoolConnection, writes: SettlementWrites, now: Date, options: { commit: boolean }): Promise<string[]> {
    const statements: string[] = [];
    const values: unknown[] = [];
    const expected: number[] = [];
    const add = (sql: string, params: unknown[], rows: number) => {
      statements.push(sql);
      values.push(...params);
      expected.push(rows);
    };
    // One UPDATE per table for the whole batch, each row's values chosen by id.
    const byId = <W>(rows: W[], id: (w: W) => number, value: (w: W) => unknown) => {
      const params: unknown[] = [];
      for (const w of rows) params.push(id(w), value(w));
      return { sql: `CASE id ${rows.map(() => 'WHEN ? THEN ?').join(' ')} END`, params };
    };
    if (writes.attemptsPaid.length) {
      const ids = writes.attemptsPaid.map(w => w.attemptId);
      const txn = byId(writes.attemptsPaid, w => w.attemptId, w => w.transactionId);
      add(`UPDATE payment_attempts SET status = 'PAID', transaction_id = ${txn.sql}, updated_at = ? WHERE id IN (?) AND transaction_id IS NULL`,
        [ ...txn.params, now, ids ], ids.length);
    }
    for (const w of writes.attemptsFailed) {
      add('UPDATE payment_attempts SET err_code = ?, err_code_des = ?, updated_at = ? WHERE id = ?', [ w.errCode, w.errCodeDes, now, w.attemptId ], 1);
    }
    if (writes.ordersPaid.length) {
      const rows = writes.ordersPaid;
      const columns = [
        byId(rows, w => w.orderId, w => w.attemptId), byId(rows, w => w.orderId, w => w.transactionId),
        byId(rows, w => w.orderId, w => w.paidAt), byId(rows, w => w.orderId, w => w.bankType),
      ];
      add('UPDATE orders SET status = \'SUCCESS\', ' +
        `paid_attempt_id = ${columns[0].sql}, transaction_id = ${columns[1].sql}, paid_at = ${columns[2].sql}, bank_type = ${columns[3].sql}, ` +
        'updated_at = ? WHERE id IN (?) AND status = \'NOTPAY\'',
      [ ...columns.flatMap(c => c.params), now, rows.map(w => w.orderId) ], rows.length);
    }
    if (writes.ordersRefundRequired.length) {
      add('UPDATE orders SET refund_required = 1, updated_at = ? WHERE id IN (?)', [ now, writes.ordersRefundRequired ], writes.ordersRefundRequired.length);
    }
    if (writes.events.length) {
      add('INSERT INTO order_events (order_id, type, source, detail, created_at) VALUES ?',
        [ writes.events.map(e => [ e.orderId, e.type, e.source, e.detail, now ]) ], writes.events.length);
    }
    if (writes.notifications.length) {
      add('INSERT INTO payment_notifications (kind, out_trade_no, transaction_id, raw_body, parsed, outcome, reason, remote_ip, created_at, updated_at) VALUES ?',
        [ writes.notifications.map(n => [ 'pay', n.outTradeNo, n.transactionId, n.rawBody, n.parsed, n.outcome, n.reason, n.remoteIp, now, now ]) ],
        writes.notifications.length);
    }
    const checked = statements.length;
    if (options.commit) statements.push('COMMIT');
    if (!statements.length) return [];
    const [ result ] = await conn.query(statements.join(';\n'), values) as any;
    // mysql2 answers a single statement with its result, several with an array of results.
    const results: any[] = statements.length === 1 ? [ result ] : result;
    const mismatches: string[] = [];
    for (let i = 0; i < checked; i++) {
      if (results[i].affectedRows !== expected[i]) {
        mismatches.push(`${statements[i].slice(0, 60)}... changed ${results[i].affectedRows} rows, not ${expected[i]}`);
      }
    }
    return mismatches;
  }

  async rollback(conn: mysql.PoolConnection): Promise<void> {
    await conn.query('ROLLBACK');
  }
}
