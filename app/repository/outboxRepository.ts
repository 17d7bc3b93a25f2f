import { randomUUID } from 'node:crypto';
import type { IModel } from 'egg';
import { literal, Op, QueryTypes, Transaction, WhereOptions } from 'sequelize';
import { eventPayload, outboxTypeOf, OutboxStatus, PaymentFacts, RefundEventFacts } from '../domain/outboxRules';
import { signalOutboxCommitted } from '../infra/outboxSignal';
import type { OutboxEventRow } from '../model/outboxEvent';

/** An order event as its writers describe it; detail is JSON. */
export interface OrderEventInput {
  orderId: number;
  type: string;
  source: string;
  detail: string;
}

/**
 * Writes an order's event: the internal audit row (order_events) and, for a change a merchant's
 * systems act on, its outbox row with the next per-order sequence number, both in the caller's
 * transaction. Every path that changes an order's or a refund's state calls this with the order
 * row already locked (docs/decisions/0002-lock-order.md), which is what makes the sequence safe.
 */
export async function recordOrderEvent(model: IModel, input: OrderEventInput, transaction: Transaction): Promise<void> {
  await model.OrderEvent.create({ orderId: input.orderId, type: input.type, source: input.source, detail: input.detail }, { transaction });
  const detail = parseDetail(input.detail);
  const type = outboxTypeOf(input.type, detail);
  if (!type) return;

  // The order as the change left it, with its owner's openid in the same round trip (a
  // payment-code order has no owner: null; the payer's openid is on its charge).
  const order = await model.Order.findByPk(input.orderId, {
    attributes: { include: [[ literal('(SELECT users.openid FROM users WHERE users.id = `Order`.`user_id`)'), 'ownerOpenid' ]] },
    transaction,
  });
  if (!order) throw new Error(`outbox: order ${input.orderId} not found`);
  const ownerOpenid = (order.get('ownerOpenid') as string | null | undefined) ?? null;
  let payment: PaymentFacts | undefined;
  let refund: RefundEventFacts | undefined;
  if (typeof detail.outRefundNo === 'string') {
    const row = await model.Refund.findOne({ where: { outRefundNo: detail.outRefundNo }, transaction });
    if (!row) throw new Error(`outbox: refund ${detail.outRefundNo} not found`);
    const attempt = await model.PaymentAttempt.findByPk(row.attemptId, { attributes: [ 'totalFee' ], transaction });
    refund = {
      outRefundNo: row.outRefundNo, refundId: row.refundId ?? null, amount: row.amount, status: row.status, reason: row.reason,
      successAt: row.successAt ?? null, errCode: row.errCode ?? null, errCodeDes: row.errCodeDes ?? null,
      payment: { outTradeNo: row.outTradeNo, transactionId: row.transactionId, totalFee: attempt?.totalFee ?? 0 },
    };
  } else if (typeof detail.transactionId === 'string') {
    payment = { outTradeNo: String(detail.outTradeNo), transactionId: detail.transactionId, totalFee: Number(detail.totalFee) };
  }
  const payload = eventPayload({
    outTradeNo: order.outTradeNo, appId: order.appid, openid: ownerOpenid, status: order.status,
    totalFee: order.totalFee, refundedFee: order.refundedFee, refundRequired: order.refundRequired,
    items: parseItems(order.items), attach: order.attach ?? null, transactionId: order.transactionId ?? null,
    createdAt: order.createdAt, paidAt: order.paidAt ?? null, closedAt: order.closedAt ?? null,
  }, { payment, refund, source: input.source });

  const [ last ] = await model.query<{ seq: number | null }>(
    'SELECT MAX(seq) AS seq FROM outbox_events WHERE order_id = ?',
    { replacements: [ order.id ], type: QueryTypes.SELECT, transaction });
  await model.OutboxEvent.create({
    eventId: `evt_${randomUUID().replace(/-/g, '')}`, type, orderId: order.id, outTradeNo: order.outTradeNo,
    seq: Number(last?.seq ?? 0) + 1, payload: JSON.stringify(payload), nextAttemptAt: new Date(),
  }, { transaction });
  transaction.afterCommit(signalOutboxCommitted);
}

/**
 * A time for a raw query's replacements, to the millisecond (UTC, the connection's time zone):
 * Sequelize would write a Date there to the second, and an event written this second would not be due yet.
 */
function sqlTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
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
