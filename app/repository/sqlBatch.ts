import type { IModel } from 'egg';
import { QueryTypes, Transaction } from 'sequelize';

/**
 * Statements sent to MariaDB in one round trip (mysql2's multipleStatements, enabled in
 * config.sequelize.dialectOptions): constant SQL text, every value a `?` replacement that
 * Sequelize escapes. docs/decisions/0017-multi-statement-round-trips.md.
 */
export interface SqlBatch {
  sql: string[];
  replacements: unknown[];
}

/** The result of one statement of a batch: rows for a SELECT, a header (affectedRows, insertId) otherwise. */
export type StatementResult = Array<Record<string, any>> & { affectedRows?: number; insertId?: number };

/**
 * A time as the DATETIME(3) columns keep it: UTC (the connection's time zone), to the
 * millisecond, as the models write it (a Date passed as a replacement would lose its milliseconds).
 */
export function sqlTime(date: Date): string {
  return date.toISOString().slice(0, 23).replace('T', ' ');
}

/**
 * Runs a batch in one round trip (in `transaction`, if given) and answers each statement's result, in order.
 * The text starts with a comment naming the batch: it shows in the process list and the slow log,
 * and keeps Sequelize from taking a batch that starts with an INSERT for a single INSERT (it would
 * then answer that INSERT's id instead of the statements' results).
 */
export async function runBatch(model: IModel, name: string, batch: SqlBatch, transaction?: Transaction): Promise<StatementResult[]> {
  if (!batch.sql.length) return [];
  if (!/^[a-z][a-zA-Z.]*$/.test(name)) throw new Error(`batch name ${JSON.stringify(name)} is not a plain name`);
  const [ results ] = await model.query(`/* ${name} */ ${batch.sql.join(';\n')}`, {
    replacements: batch.replacements, type: QueryTypes.RAW, transaction,
  }) as unknown as [ unknown, unknown ];
  // One statement answers its own result; several, an array of theirs.
  return (batch.sql.length === 1 ? [ results ] : results) as StatementResult[];
}

/** Appends one batch's statements to another. */
export function append(to: SqlBatch, from: SqlBatch): SqlBatch {
  to.sql.push(...from.sql);
  to.replacements.push(...from.replacements);
  return to;
}

/** What code that writes inside a transaction may ask of it: to run something once it has committed. */
export interface CommitHooks {
  afterCommit(fn: () => unknown): void;
}

/**
 * A transaction whose START TRANSACTION rides with its first batch and whose COMMIT may ride with
 * its last, so a transaction of one batch costs one round trip and a read-decide-write
 * transaction two (docs/decisions/0019-transaction-control-in-batches.md). It is a Sequelize
 * transaction on egg-sequelize's pool underneath, but it is handed out only as this interface:
 * a model call given it before its first batch would run outside the transaction.
 */
export interface BatchTransaction extends CommitHooks {
  /**
   * Runs `batch` in this transaction in one round trip (the first also begins it) and answers each
   * of its statements' results, in order. With `commit`, the same round trip commits: a statement
   * that fails stops the batch before its COMMIT, and the transaction rolls back.
   */
  run(name: string, batch: SqlBatch, options?: { commit?: boolean }): Promise<StatementResult[]>;
}

/**
 * Sequelize's transaction with its own begin and commit round trips left out. It uses Sequelize's
 * connection handling as `model.transaction()` does (prepareEnvironment, cleanup, its afterCommit
 * hooks): those are Sequelize 6's, pinned by package-lock.json and exercised by
 * test/app/repository/sqlBatch.test.ts.
 */
class BatchedSequelizeTransaction extends Transaction implements BatchTransaction {
  private begun = false;
  /** True once a batch carrying COMMIT has succeeded: the data is committed whatever follows. */
  committedByBatch = false;

  constructor(private readonly model: IModel) {
    super(model, {});
  }

  // Sequelize sends START TRANSACTION here, alone: the first batch carries it instead.
  async begin(): Promise<void> {
    return undefined;
  }

  async run(name: string, batch: SqlBatch, options: { commit?: boolean } = {}): Promise<StatementResult[]> {
    if (this.committedByBatch) throw new Error(`batch ${name}: its transaction has already committed`);
    const lead = this.begun ? [] : [ 'START TRANSACTION' ];
    // Counted as begun before the answer: a failure may come after START TRANSACTION ran.
    this.begun = true;
    const results = await runBatch(this.model, name,
      { sql: [ ...lead, ...batch.sql, ...(options.commit ? [ 'COMMIT' ] : []) ], replacements: batch.replacements }, this);
    if (options.commit) this.committedByBatch = true;
    return results.slice(lead.length, lead.length + batch.sql.length);
  }

  /** Rolls back: with no round trip if nothing ever began. */
  async rollback(): Promise<void> {
    if (this.begun) return super.rollback();
    const internals = this as unknown as SequelizeTransactionInternals;
    internals.cleanup();
    internals.finished = 'rollback';
  }

  /** Commits: with no round trip if a batch carried the COMMIT or nothing ever began; then the afterCommit hooks, as Sequelize runs them. */
  async commit(): Promise<void> {
    if (this.begun && !this.committedByBatch) return super.commit();
    const internals = this as unknown as SequelizeTransactionInternals;
    internals.cleanup();
    internals.finished = 'commit';
    for (const hook of internals._afterCommitHooks) await hook.call(this, this);
  }
}

/** The parts of Sequelize 6's Transaction that its own `sequelize.transaction()` uses and its typings leave out. */
interface SequelizeTransactionInternals {
  prepareEnvironment(useCls: boolean): Promise<void>;
  cleanup(): void;
  finished?: string;
  _afterCommitHooks: Array<(t: Transaction) => unknown>;
}

/**
 * Runs `work` in a BatchTransaction on egg-sequelize's pool and commits it (with no round trip of
 * its own if its last batch committed); rolls it back if `work` throws, as `model.transaction` does.
 */
export async function inBatchTransaction<T>(model: IModel, work: (transaction: BatchTransaction) => Promise<T>): Promise<T> {
  const transaction = new BatchedSequelizeTransaction(model);
  const internals = transaction as unknown as SequelizeTransactionInternals;
  await internals.prepareEnvironment(false);
  let result: T;
  try {
    result = await work(transaction);
  } catch (err) {
    // Committed by a batch, then failed: what was written stays, and so do its afterCommit hooks.
    if (transaction.committedByBatch) await transaction.commit();
    // As Sequelize's managed transaction: the work's error is the one that matters; a failed
    // ROLLBACK has already destroyed the connection.
    else if (!internals.finished) await transaction.rollback().catch(() => undefined);
    throw err;
  }
  await transaction.commit();
  return result;
}
