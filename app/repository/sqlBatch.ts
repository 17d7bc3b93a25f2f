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
