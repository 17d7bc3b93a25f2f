import type { IModel } from 'egg';
import { QueryTypes } from 'sequelize';

export interface OutboxBacklog {
  /** Events not delivered yet by status; PENDING and DEAD always present. */
  byStatus: Record<string, number>;
  oldestPendingAgeSeconds: number;
}

/**
 * The outbox's backlog for the metrics, read from whatever table holds it (config.metrics.outboxTable,
 * with status and created_at columns). Delivered events are not counted, only the backlog, which
 * the (status, next_attempt_at) index serves.
 */
export class OutboxBacklogRepository {
  constructor(private readonly model: IModel) {}

  /** undefined when the database has no such table (or the name is not a plain table name). */
  async read(table: string, now = new Date()): Promise<OutboxBacklog | undefined> {
    if (!/^[a-z_][a-z0-9_]{0,63}$/.test(table)) return undefined;
    const found = await this.model.query<{ n: number }>(
      'SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?',
      { replacements: [ table ], type: QueryTypes.SELECT });
    if (Number(found[0]?.n) === 0) return undefined;
    const rows = await this.model.query<{ status: string; n: number; oldest: Date | string | null }>(
      `SELECT status, COUNT(*) AS n, MIN(created_at) AS oldest FROM \`${table}\` WHERE status <> 'DELIVERED' GROUP BY status`,
      { type: QueryTypes.SELECT });
    const byStatus: Record<string, number> = { PENDING: 0, DEAD: 0 };
    let oldestPendingAgeSeconds = 0;
    for (const row of rows) {
      byStatus[String(row.status).slice(0, 16)] = Number(row.n);
      if (row.status === 'PENDING' && row.oldest) oldestPendingAgeSeconds = Math.max(0, (now.getTime() - new Date(row.oldest).getTime()) / 1000);
    }
    return { byStatus, oldestPendingAgeSeconds };
  }
}
