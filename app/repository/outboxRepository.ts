import { randomUUID } from 'node:crypto';
import type { IModel } from 'egg';
import { Op, QueryTypes, Transaction, WhereOptions } from 'sequelize';
import { eventPayload, OrderFacts, outboxTypeOf, OutboxStatus, PaymentFacts, RefundEventFacts } from '../domain/outboxRules';
import { signalOutboxCommitted } from '../infra/outboxSignal';
import type { OutboxEventRow } from '../model/outboxEvent';
import { type CommitHooks, runBatch, type SqlBatch, sqlTime } from './sqlBatch';

/** An order event as its writers describe it; detail is JSON. */
export interface OrderEventInput {
  orderId: number;
  type: string;
  source: string;
  detail: string;
}

/** The order as an event's payload describes it (its owner's openid included), with its id. */
export interface OrderSnapshot extends OrderFacts {
  id: number;
}

/** The orders columns an OrderSnapshot is read from (orderSnapshotOf), for a query on `orders o`. */
export const ORDER_SNAPSHOT_COLUMNS = 'o.id, o.out_trade_no, o.appid, o.status, o.total_fee, o.refunded_fee, o.refund_required, o.items, o.attach, ' +
  'o.transaction_id, o.created_at, o.paid_at, o.closed_at';

/**
 * The openid an event names: the order owner's; for a payment-code order, which has no owner, the
 * payer's as its charge recorded it (evaluated only for such an order). As a column of `FROM orders o`.
 */
export const EVENT_OPENID_COLUMN = 'IFNULL((SELECT u.openid FROM users u WHERE u.id = o.user_id), ' +
  'IF(o.user_id IS NULL, (SELECT c.payer_openid FROM pos_charges c WHERE c.order_id = o.id), NULL)) AS event_openid';

/**
 * An OrderSnapshot from a row of ORDER_SNAPSHOT_COLUMNS and the openid its events name (the owner's,
 * or a payment-code order's payer; null while a payment-code order's payer is not known).
 */
export function orderSnapshotOf(row: Record<string, any>, openid: string | null): OrderSnapshot {
  return {
    id: row.id, outTradeNo: row.out_trade_no, appId: row.appid, openid, status: row.status, totalFee: row.total_fee,
    refundedFee: row.refunded_fee, refundRequired: Boolean(row.refund_required), items: parseItems(row.items), attach: row.attach ?? null,
    transactionId: row.transaction_id ?? null, createdAt: row.created_at, paidAt: row.paid_at ?? null, closedAt: row.closed_at ?? null,
  };
}

const ORDER_EVENT_SQL = 'INSERT INTO order_events (order_id, type, source, detail, created_at) VALUES (?, ?, ?, ?, ?)';
/** The next per-order sequence number is computed by the INSERT itself: its writer holds the order row's lock. */
const OUTBOX_EVENT_SQL = 'INSERT INTO outbox_events (event_id, type, order_id, out_trade_no, seq, payload, next_attempt_at, created_at, updated_at) ' +
  'SELECT ?, ?, ?, ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM outbox_events WHERE order_id = ?';

/**
 * Writes an order's event: the internal audit row (order_events) and, for a change a merchant's
 * systems act on, its outbox row with the next per-order sequence number, both in the caller's
 * transaction. Every path that changes an order's or a refund's state calls this (settlement runs
 * orderEventStatements in its own batch) with the order row already locked
 * (docs/decisions/0002-lock-order.md), which is what makes the sequence safe.
 */
export async function recordOrderEvent(model: IModel, input: OrderEventInput, transaction: Transaction): Promise<void> {
  const detail = parseDetail(input.detail);
  let order: OrderSnapshot | undefined;
  let refund: RefundEventFacts | undefined;
  if (outboxTypeOf(input.type, detail)) {
    // The order as the change left it, with the openid its events name, in the same round trip.
    const [ row ] = await model.query<Record<string, any>>(
      `SELECT ${ORDER_SNAPSHOT_COLUMNS}, ${EVENT_OPENID_COLUMN} FROM orders o WHERE o.id = ?`,
      { replacements: [ input.orderId ], type: QueryTypes.SELECT, transaction });
    if (!row) throw new Error(`outbox: order ${input.orderId} not found`);
    order = orderSnapshotOf(row, row.event_openid ?? null);
    if (typeof detail.outRefundNo === 'string') {
      const found = await model.Refund.findOne({ where: { outRefundNo: detail.outRefundNo }, transaction });
      if (!found) throw new Error(`outbox: refund ${detail.outRefundNo} not found`);
      const attempt = await model.PaymentAttempt.findByPk(found.attemptId, { attributes: [ 'totalFee' ], transaction });
      refund = {
        outRefundNo: found.outRefundNo, refundId: found.refundId ?? null, amount: found.amount, status: found.status, reason: found.reason,
        successAt: found.successAt ?? null, errCode: found.errCode ?? null, errCodeDes: found.errCodeDes ?? null,
        payment: { outTradeNo: found.outTradeNo, transactionId: found.transactionId, totalFee: attempt?.totalFee ?? 0 },
      };
    }
  }
  await runBatch(model, 'orderEvent', orderEventStatements(input, order, transaction, refund), transaction);
}

/**
 * The statements that write an order's event, for a writer that runs them in its own batch in
 * `transaction` with the order row locked: the order_events row and, for a change a merchant acts
 * on, the outbox row (payload from `order`, the order as the change leaves it; seq the order's
 * next). The relay is signalled once the transaction commits. recordOrderEvent is this with the
 * order read after the change.
 */
export function orderEventStatements(input: OrderEventInput, order: OrderSnapshot | undefined, transaction: CommitHooks, refund?: RefundEventFacts): SqlBatch {
  const now = sqlTime(new Date());
  const batch: SqlBatch = { sql: [ ORDER_EVENT_SQL ], replacements: [ input.orderId, input.type, input.source, input.detail, now ] };
  const detail = parseDetail(input.detail);
  const type = outboxTypeOf(input.type, detail);
  if (!type) return batch;
  if (!order || order.id !== input.orderId) throw new Error(`outbox: order ${input.orderId} not found`);
  if (typeof detail.outRefundNo === 'string' && !refund) throw new Error(`outbox: refund ${detail.outRefundNo} not found`);
  const payment: PaymentFacts | undefined = !refund && typeof detail.transactionId === 'string'
    ? { outTradeNo: String(detail.outTradeNo), transactionId: detail.transactionId, totalFee: Number(detail.totalFee) }
    : undefined;
  const { id, ...facts } = order;
  const payload = eventPayload(facts, { payment, refund, source: input.source });
  batch.sql.push(OUTBOX_EVENT_SQL);
  batch.replacements.push(`evt_${randomUUID().replace(/-/g, '')}`, type, id, order.outTradeNo, JSON.stringify(payload), now, now, now, id);
  transaction.afterCommit(signalOutboxCommitted);
  return batch;
}

function parseDetail(detail: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(detail);
    return parsed && typeof parsed === 'object' ? parsed : {};
  } catch {
    return {};
  }
}

function parseItems(items: string): unknown {
  try {
    return JSON.parse(items);
  } catch {
    return [];
  }
}

/** The relay's and the operators' queries on outbox_events. */
export class OutboxRepository {
  constructor(private readonly model: IModel) {}

  /**
   * Claims up to `limit` due events for this relay until `lockedUntil`: rows another relay is
   * claiming are skipped (SKIP LOCKED), never waited for, and an event is due only when no earlier
   * event of its order is still PENDING, so an order's events go out in their sequence.
   */
  async claimDue(now: Date, lockedUntil: Date, limit: number): Promise<{ token: string; events: OutboxEventRow[] }> {
    const token = randomUUID();
    const ids = await this.model.transaction(async transaction => {
      const rows = await this.model.query<{ id: number }>(
        'SELECT e.id FROM outbox_events e WHERE e.status = \'PENDING\' AND e.next_attempt_at <= ? ' +
        'AND (e.locked_until IS NULL OR e.locked_until < ?) ' +
        'AND NOT EXISTS (SELECT 1 FROM outbox_events p WHERE p.order_id = e.order_id AND p.status = \'PENDING\' AND p.seq < e.seq) ' +
        'ORDER BY e.id LIMIT ? FOR UPDATE SKIP LOCKED',
        { replacements: [ sqlTime(now), sqlTime(now), limit ], type: QueryTypes.SELECT, transaction });
      const claimed = rows.map(r => r.id);
      if (claimed.length) {
        await this.model.OutboxEvent.update({ claimToken: token, lockedUntil }, { where: { id: claimed }, transaction });
      }
      return claimed;
    });
    if (!ids.length) return { token, events: [] };
    const events = await this.model.OutboxEvent.findAll({ where: { id: ids, claimToken: token }, order: [[ 'id', 'ASC' ]] });
    return { token, events };
  }

  /** The outcome of one delivery attempt, written only while this relay's claim holds. */
  async finish(event: OutboxEventRow, token: string, outcome: {
    status: OutboxStatus; attempts: number; deliveredTo: string; lastError: string | null; nextAttemptAt: Date; at: Date;
  }): Promise<boolean> {
    const [ changed ] = await this.model.OutboxEvent.update({
      status: outcome.status, attempts: outcome.attempts, deliveredTo: outcome.deliveredTo,
      lastError: outcome.lastError ? outcome.lastError.slice(0, 255) : null, nextAttemptAt: outcome.nextAttemptAt,
      lastAttemptAt: outcome.at, deliveredAt: outcome.status === 'DELIVERED' ? outcome.at : null,
      claimToken: null, lockedUntil: null,
    }, { where: { id: event.id, claimToken: token } });
    return changed === 1;
  }

  /** Events in a state, oldest first, from `afterId` on (the cursor a page gives for the next). */
  list(filter: { status?: OutboxStatus; outTradeNo?: string; afterId?: number; limit: number }): Promise<OutboxEventRow[]> {
    const where: WhereOptions = {};
    if (filter.status) Object.assign(where, { status: filter.status });
    if (filter.outTradeNo) Object.assign(where, { outTradeNo: filter.outTradeNo });
    if (filter.afterId) Object.assign(where, { id: { [Op.gt]: filter.afterId } });
    return this.model.OutboxEvent.findAll({ where, order: [[ 'id', 'ASC' ]], limit: filter.limit });
  }

  /**
   * Puts events back to PENDING with a fresh attempt count, due now; an event a relay holds
   * right now is left alone (its delivery is under way). Answers the event ids replayed.
   */
  async replay(where: { eventId?: string; from?: Date; to?: Date; statuses: OutboxStatus[] }, now: Date): Promise<string[]> {
    return this.model.transaction(async transaction => {
      const conditions: WhereOptions[] = [{ status: where.statuses }];
      if (where.eventId) conditions.push({ eventId: where.eventId });
      if (where.from) conditions.push({ createdAt: { [Op.gte]: where.from } });
      if (where.to) conditions.push({ createdAt: { [Op.lt]: where.to } });
      conditions.push({ [Op.or]: [{ lockedUntil: null }, { lockedUntil: { [Op.lt]: now } }] });
      const rows = await this.model.OutboxEvent.findAll({
        where: { [Op.and]: conditions }, attributes: [ 'id', 'eventId' ], order: [[ 'id', 'ASC' ]], lock: transaction.LOCK.UPDATE, transaction,
      });
      if (!rows.length) return [];
      await this.model.OutboxEvent.update({
        status: 'PENDING', attempts: 0, nextAttemptAt: now, deliveredTo: '', lastError: null, deliveredAt: null, claimToken: null, lockedUntil: null,
      }, { where: { id: rows.map(r => r.id) }, transaction });
      transaction.afterCommit(signalOutboxCommitted);
      return rows.map(r => r.eventId);
    });
  }

  /**
   * The highest id of an event created before `cutoff` (0 if none), read from the created_at index
   * alone: the purge's pages stop there instead of reading every newer row of the table.
   */
  async lastIdCreatedBefore(cutoff: Date): Promise<number> {
    const [ row ] = await this.model.query<{ id: number | null }>('SELECT MAX(id) AS id FROM outbox_events WHERE created_at < ?',
      { replacements: [ sqlTime(cutoff) ], type: QueryTypes.SELECT });
    return Number(row?.id ?? 0);
  }

  /**
   * Up to `limit` ids in (`afterId`, `upToId`] of DELIVERED events created before `cutoff` that
   * have a later event of their order: an order's latest event is never among them, since the
   * next event's seq is its MAX(seq) + 1 (orderEventStatements).
   */
  async purgeableDelivered(cutoff: Date, afterId: number, upToId: number, limit: number): Promise<number[]> {
    const rows = await this.model.query<{ id: number }>(
      'SELECT e.id FROM outbox_events e WHERE e.status = \'DELIVERED\' AND e.created_at < ? AND e.id > ? AND e.id <= ? ' +
      'AND EXISTS (SELECT 1 FROM outbox_events n WHERE n.order_id = e.order_id AND n.seq > e.seq) ' +
      'ORDER BY e.id LIMIT ?',
      { replacements: [ sqlTime(cutoff), afterId, upToId, limit ], type: QueryTypes.SELECT });
    return rows.map(r => Number(r.id));
  }

  /**
   * Deletes those of `ids` still DELIVERED (an operator may have replayed one since it was read)
   * and answers how many were deleted.
   */
  async deleteDelivered(ids: number[]): Promise<number> {
    if (!ids.length) return 0;
    // BULKDELETE: Sequelize answers the statement's affectedRows.
    return await this.model.query('DELETE FROM outbox_events WHERE id IN (?) AND status = \'DELIVERED\'',
      { replacements: [ ids ], type: QueryTypes.BULKDELETE }) as unknown as number;
  }

  async countByStatus(): Promise<Record<OutboxStatus, number>> {
    const rows = await this.model.query<{ status: OutboxStatus; n: number }>(
      'SELECT status, COUNT(*) AS n FROM outbox_events GROUP BY status', { type: QueryTypes.SELECT });
    const counts: Record<OutboxStatus, number> = { PENDING: 0, DELIVERED: 0, DEAD: 0 };
    for (const r of rows) counts[r.status] = Number(r.n);
    return counts;
  }

  /**
   * The backlog for the metrics: events not delivered yet, by status (PENDING and DEAD always
   * present), and the oldest pending one's age. The (status, next_attempt_at) index serves it.
   */
  async backlog(now = new Date()): Promise<OutboxBacklog> {
    const rows = await this.model.query<{ status: string; n: number; oldest: Date | string | null }>(
      'SELECT status, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox_events WHERE status <> \'DELIVERED\' GROUP BY status',
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

export interface OutboxBacklog {
  /** Events not delivered yet by status; PENDING and DEAD always present. */
  byStatus: Record<string, number>;
  oldestPendingAgeSeconds: number;
}
