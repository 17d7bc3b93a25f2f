import { Service } from 'egg';
import { Gauge, Registry } from 'prom-client';
import { withTimeout } from '../infra/withTimeout';
import { OutboxBacklog, OutboxRepository } from '../repository/outboxRepository';

/** A scrape-time database read that takes longer is left out of the scrape. */
const QUERY_TIMEOUT_MS = 1500;

/**
 * GET /metrics: every worker's counters summed (ClusterMetrics), plus gauges read once per scrape
 * by the worker answering (they describe the cluster's dependencies, so they are not summed):
 * MySQL and Redis up, the workers that answered, the latest reconciliation's result, and the
 * outbox backlog when there is an outbox.
 */
export default class MetricsService extends Service {
  async scrape(): Promise<{ contentType: string; text: string }> {
    const [ cluster, health, outbox, reconciliation ] = await Promise.all([
      this.app.clusterMetrics.scrape(),
      this.service.health.check(),
      this.outboxBacklog(),
      this.latestReconciliation(),
    ]);
    const now = new Registry();
    const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [ now ] });
    gauge('wxpay_mysql_up', 'MySQL answers (1) or not (0), probed at scrape time').set(health.mysql === 'up' ? 1 : 0);
    gauge('wxpay_redis_up', 'Redis answers (1) or not (0), probed at scrape time').set(health.redis === 'up' ? 1 : 0);
    const workers = gauge('wxpay_metrics_workers', 'App workers whose metrics are in this scrape (answered) or were asked and did not answer in time (missing)', [ 'state' ]);
    workers.set({ state: 'answered' }, cluster.answered);
    workers.set({ state: 'missing' }, cluster.missing);
    if (outbox) {
      const events = gauge('wxpay_outbox_events', 'Outbox events not delivered yet, by status (PENDING: to deliver or being retried; DEAD: given up, an operator replays them)', [ 'status' ]);
      for (const [ status, count ] of Object.entries(outbox.byStatus)) events.set({ status }, count);
      gauge('wxpay_outbox_oldest_pending_age_seconds', 'Age of the oldest PENDING outbox event (0 when none)').set(outbox.oldestPendingAgeSeconds);
    }
    if (reconciliation) {
      gauge('wxpay_reconciliation_discrepancies', 'Discrepancies found by the latest reconciled day\'s comparison with WeChat\'s bill').set(reconciliation.discrepancyCount);
      gauge('wxpay_reconciliation_latest_status', 'The latest reconciled day\'s result (1 for its status: OK, MISMATCH, NO_BILL, ERROR)', [ 'status' ])
        .set({ status: reconciliation.status }, 1);
      // Beijing midnight starting the bill's day, as a Unix time.
      gauge('wxpay_reconciliation_latest_bill_date_seconds', 'Start (Beijing midnight) of the latest day reconciled, Unix seconds')
        .set(Date.parse(`${reconciliation.billDate}T00:00:00+08:00`) / 1000);
    }
    const merged = Registry.merge([ cluster.registry, now ]);
    return { contentType: merged.contentType, text: await merged.metrics() };
  }

  /** The latest reconciled day's result; undefined when none yet or MySQL cannot answer now (the gauges are then absent). */
  private async latestReconciliation() {
    try {
      return await withTimeout(this.app.model.Reconciliation.findOne({
        attributes: [ 'billDate', 'status', 'discrepancyCount' ], order: [[ 'billDate', 'DESC' ]], raw: true,
      }), QUERY_TIMEOUT_MS, 'latest reconciliation') ?? undefined;
    } catch (err) {
      this.ctx.logger.warn('[metrics] latest reconciliation unreadable: %s', (err as Error).message);
      return undefined;
    }
  }

  /** The outbox's backlog; undefined (gauges absent) when it cannot be read now. */
  private async outboxBacklog(): Promise<OutboxBacklog | undefined> {
    try {
      return await withTimeout(new OutboxRepository(this.app.model).backlog(), QUERY_TIMEOUT_MS, 'outbox backlog');
    } catch (err) {
      this.ctx.logger.warn('[metrics] outbox backlog unreadable: %s', (err as Error).message);
      return undefined;
    }
  }
}
