import { Controller } from 'egg';
import { ValidationError } from '../common/errors';
import { OUT_TRADE_NO_PATTERN } from '../../lib/wechatpay';
import { requireObject, requireString } from '../common/validate';
import { OUTBOX_STATUSES, OutboxStatus } from '../domain/outboxRules';

const EVENT_ID = /^evt_[0-9a-f]{32}$/;
const MAX_PAGE = 200;

/** Admin API (adminAuth): the outbox's events, for operators (docs/events.md "Operator's controls"). */
export default class AdminEventsController extends Controller {
  /** GET /admin/events?status=pending|delivered|dead&outTradeNo=&after=&limit= */
  async list() {
    const { query } = this.ctx;
    const status = query.status === undefined ? undefined : statusOf(query.status, 'status');
    const outTradeNo = query.outTradeNo === undefined ? undefined : requireString(query.outTradeNo, 'outTradeNo', { max: 32, pattern: OUT_TRADE_NO_PATTERN });
    const afterPosition = query.after === undefined ? undefined : intParam(query.after, 'after', 0, Number.MAX_SAFE_INTEGER);
    const limit = query.limit === undefined ? 50 : intParam(query.limit, 'limit', 1, MAX_PAGE);
    this.ctx.body = await this.service.outbox.list({ status, outTradeNo, afterPosition, limit });
  }

  /** POST /admin/events/:eventId/replay: delivered again, same event id. */
  async replayOne() {
    const eventId = requireString(this.ctx.params.eventId, 'eventId', { max: 40, pattern: EVENT_ID });
    this.ctx.body = { replayed: await this.service.outbox.replayOne(eventId) };
  }

  /** POST /admin/events/replay { from, to, statuses? }: the events created in [from, to), DEAD ones unless statuses says otherwise. */
  async replayRange() {
    const body = requireObject(this.ctx.request.body);
    const from = dateParam(body.from, 'from');
    const to = dateParam(body.to, 'to');
    if (to.getTime() <= from.getTime()) throw new ValidationError('to', 'to must be after from');
    let statuses: OutboxStatus[] = [ 'DEAD' ];
    if (body.statuses !== undefined) {
      if (!Array.isArray(body.statuses) || body.statuses.length === 0) throw new ValidationError('statuses', 'statuses must be a non-empty array of pending, delivered, dead');
      statuses = [ ...new Set(body.statuses.map(s => statusOf(s, 'statuses'))) ];
    }
    this.ctx.body = { replayed: await this.service.outbox.replayRange({ from, to, statuses }) };
  }
}

function statusOf(value: unknown, field: string): OutboxStatus {
  const status = typeof value === 'string' ? value.toUpperCase() : '';
  if (!OUTBOX_STATUSES.includes(status as OutboxStatus)) throw new ValidationError(field, `${field} must be one of pending, delivered, dead`);
  return status as OutboxStatus;
}

function intParam(value: unknown, field: string, min: number, max: number): number {
  const n = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ValidationError(field, `${field} must be an integer from ${min} to ${max}`);
  return n;
}

function dateParam(value: unknown, field: string): Date {
  const date = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) throw new ValidationError(field, `${field} must be an ISO 8601 date-time, e.g. 2026-11-30T08:00:00Z`);
  return date;
}
