import { Service } from 'egg';
import { ConflictError, NotFoundError } from '../common/errors';
import { EventEnvelope, nextAttemptAfter, OutboxStatus } from '../domain/outboxRules';
import { amqpSinkFor } from '../infra/amqpSink';
import { postWebhook } from '../infra/webhookSink';
import type { OutboxEventRow } from '../model/outboxEvent';
import { OutboxRepository } from '../repository/outboxRepository';
import type { JobRun } from './jobLock';

/** Where events go: 'webhook' and/or 'amqp', each with how it delivers one event. */
interface Sink {
  name: 'webhook' | 'amqp';
  send(event: OutboxEventRow, body: string): Promise<void>;
}

export interface OutboxEventView {
  id: string;
  /** The row's position in the outbox: the cursor of GET /admin/events (`after`). */
  position: number;
  type: string;
  outTradeNo: string;
  sequence: number;
  status: OutboxStatus;
  attempts: number;
  deliveredTo: string[];
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  lastError: string | null;
  deliveredAt: string | null;
  createdAt: string;
  data: Record<string, unknown>;
}

/**
 * The relay of the transactional outbox (docs/events.md): claims due events, sends each to every
 * configured sink, and records the outcome: DELIVERED once every sink confirmed, else retried with
 * exponential back-off, and DEAD after the last attempt. Plus the operators' list and replay.
 */
export default class OutboxService extends Service {
  /** One relay round: answers how many events it claimed (0: nothing due, or no sink configured). */
  async relayBatch(): Promise<number> {
    const sinks = this.sinks();
    if (!sinks.length) return 0;
    const { batchSize, leaseMs } = this.config.outbox.relay;
    const now = new Date();
    const { token, events } = await this.repository().claimDue(now, new Date(now.getTime() + leaseMs), batchSize);
    // Claimed events are of different orders (an order's next waits for its previous), so they may go out together.
    await Promise.all(events.map(event => this.deliver(event, token, sinks)));
    return events.length;
  }

  async list(filter: { status?: OutboxStatus; outTradeNo?: string; afterPosition?: number; limit: number }) {
    const repository = this.repository();
    const rows = await repository.list({ status: filter.status, outTradeNo: filter.outTradeNo, afterId: filter.afterPosition, limit: filter.limit });
    return {
      events: rows.map(toEventView),
      next: rows.length === filter.limit ? rows[rows.length - 1].id : null,
      counts: await repository.countByStatus(),
    };
  }

  /** Replays one event, whatever its state, unless a relay is delivering it right now (409). */
  async replayOne(eventId: string): Promise<string[]> {
    const event = await this.app.model.OutboxEvent.findOne({ where: { eventId } });
    if (!event) throw new NotFoundError('EVENT_NOT_FOUND', 'no such event');
    const replayed = await this.repository().replay({ eventId, statuses: [ 'PENDING', 'DELIVERED', 'DEAD' ] }, new Date());
    if (!replayed.length) throw new ConflictError('EVENT_IN_DELIVERY', 'a relay is delivering this event right now; it is retried if that fails');
    this.ctx.logger.info('[outbox] event %s (%s of order %s) replayed', eventId, event.type, event.outTradeNo);
    return replayed;
  }

  /** Replays the events created in [from, to) in the given states (default: DEAD). */
  async replayRange(range: { from: Date; to: Date; statuses: OutboxStatus[] }): Promise<string[]> {
    const replayed = await this.repository().replay(range, new Date());
    this.ctx.logger.info('[outbox] %d event(s) created %s..%s in %s replayed', replayed.length,
      range.from.toISOString(), range.to.toISOString(), range.statuses.join(','));
    return replayed;
  }

  /**
   * The retention job (app/schedule/purgeDeliveredEvents.ts), once at a time cluster-wide: deletes
   * DELIVERED events older than outbox.retention.deliveredDays, a page at a time until none is left
   * or the job's deadline, keeping each order's latest event (its seq is where the next continues).
   * PENDING and DEAD events are never deleted.
   */
  purgeDelivered(): Promise<JobRun<{ deleted: number }>> {
    return this.service.jobLock.runExclusive('purgeDeliveredEvents', async deadline => {
      const { deliveredDays, batchSize } = this.config.outbox.retention;
      const cutoff = new Date(Date.now() - deliveredDays * 24 * 3600_000);
      const repository = this.repository();
      let deleted = 0;
      // Pages move on by id, so a page whose rows were replayed meanwhile (not deleted) is not read again.
      let afterId = 0;
      const upToId = await repository.lastIdCreatedBefore(cutoff);
      while (upToId > afterId && Date.now() < deadline) {
        const ids = await repository.purgeableDelivered(cutoff, afterId, upToId, batchSize);
        deleted += await repository.deleteDelivered(ids);
        if (ids.length < batchSize) break;
        afterId = ids[ids.length - 1];
      }
      if (deleted) this.ctx.logger.info('[job] purgeDeliveredEvents: deleted=%d delivered event(s) created before %s', deleted, cutoff.toISOString());
      return { deleted };
    });
  }

  private repository() {
    return new OutboxRepository(this.app.model);
  }

  private async deliver(event: OutboxEventRow, token: string, sinks: Sink[]): Promise<void> {
    const body = JSON.stringify(envelopeOf(event));
    const done = new Set(event.deliveredTo ? event.deliveredTo.split(',') : []);
    const errors: string[] = [];
    for (const sink of sinks) {
      if (done.has(sink.name)) continue;
      try {
        await sink.send(event, body);
        done.add(sink.name);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    const attempts = event.attempts + 1;
    const at = new Date();
    const deliveredTo = [ ...done ].join(',');
    if (!errors.length) {
      await this.repository().finish(event, token, { status: 'DELIVERED', attempts, deliveredTo, lastError: null, nextAttemptAt: event.nextAttemptAt, at });
      this.app.logger.info('[outbox] event %s %s of order %s #%d delivered to %s (attempt %d)', event.eventId, event.type, event.outTradeNo, event.seq, deliveredTo, attempts);
      return;
    }
    const next = nextAttemptAfter(attempts, at, this.config.outbox.relay);
    const lastError = errors.join('; ');
    await this.repository().finish(event, token, { status: next ? 'PENDING' : 'DEAD', attempts, deliveredTo, lastError, nextAttemptAt: next ?? at, at });
    if (next) {
      this.app.logger.warn('[outbox] event %s %s of order %s: attempt %d failed (%s), next at %s', event.eventId, event.type, event.outTradeNo, attempts, lastError, next.toISOString());
    } else {
      this.app.logger.error('[outbox] event %s %s of order %s is DEAD after %d attempts: %s (replay it: docs/events.md)', event.eventId, event.type, event.outTradeNo, attempts, lastError);
    }
  }

  private sinks(): Sink[] {
    const { webhook, amqp } = this.config.outbox;
    const sinks: Sink[] = [];
    if (webhook.url) {
      const target = { url: webhook.url, secret: webhook.secret, timeoutMs: webhook.timeoutMs };
      sinks.push({ name: 'webhook', send: (event, body) => postWebhook(target, event.eventId, event.type, body) });
    }
    if (amqp.url) {
      const sink = amqpSinkFor(this.app, { url: amqp.url, exchange: amqp.exchange }, amqp.timeoutMs);
      sinks.push({ name: 'amqp', send: (event, body) => sink.publish(event.eventId, event.type, body, event.createdAt) });
    }
    return sinks;
  }
}

/** Whether any sink is configured: without one the relay has nothing to do and events stay PENDING. */
export function outboxSinksConfigured(outbox: { webhook: { url?: string | null }; amqp: { url?: string | null } }): boolean {
  return Boolean(outbox.webhook.url || outbox.amqp.url);
}

export function envelopeOf(event: OutboxEventRow): EventEnvelope {
  return {
    id: event.eventId, type: event.type, createdAt: event.createdAt.toISOString(), outTradeNo: event.outTradeNo,
    sequence: event.seq, data: JSON.parse(event.payload),
  };
}

export function toEventView(event: OutboxEventRow): OutboxEventView {
  const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
  return {
    id: event.eventId, position: Number(event.id), type: event.type, outTradeNo: event.outTradeNo, sequence: event.seq,
    status: event.status, attempts: event.attempts, deliveredTo: event.deliveredTo ? event.deliveredTo.split(',') : [],
    nextAttemptAt: event.status === 'PENDING' ? iso(event.nextAttemptAt) : null, lastAttemptAt: iso(event.lastAttemptAt),
    lastError: event.lastError ?? null, deliveredAt: iso(event.deliveredAt), createdAt: event.createdAt.toISOString(),
    data: JSON.parse(event.payload),
  };
}
