import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { ClusterMetrics, METRICS_MESSAGES, MetricsMessenger, serveMetricsInAgent, ServiceMetrics } from '../../../app/infra/metrics';
import { parsePromText } from '../../support/promText';

/**
 * A fake egg-cluster: one messenger per process (agent, this worker, other workers), messages
 * routed as the master routes them. Workers listed in `silent` never answer.
 */
class FakeCluster {
  readonly agent = new EventEmitter();
  readonly workers = new Map<number, EventEmitter>();
  constructor(readonly silent: Set<number> = new Set()) {}

  messenger(pid: number | 'agent'): MetricsMessenger {
    const self = pid === 'agent' ? this.agent : this.workers.get(pid)!;
    const deliver = (target: EventEmitter | undefined, action: string, data: unknown) => setImmediate(() => target?.emit(action, data));
    return {
      on: (action, listener) => self.on(action, listener),
      sendTo: (to, action, data) => { if (!this.silent.has(to)) deliver(this.workers.get(to), action, data); },
      sendToAgent: (action, data) => deliver(this.agent, action, data),
      sendToApp: (action, data) => {
        for (const [ workerPid, worker ] of this.workers) if (!this.silent.has(workerPid)) deliver(worker, action, data);
      },
    };
  }
}

describe('app/infra/metrics: one scrape, every worker', () => {
  const OTHER = process.pid + 1;

  function setUp(silent: number[] = []) {
    const cluster = new FakeCluster(new Set(silent));
    cluster.workers.set(process.pid, new EventEmitter());
    cluster.workers.set(OTHER, new EventEmitter());
    serveMetricsInAgent(cluster.messenger('agent'));
    const mine = new ServiceMetrics();
    const other = new ServiceMetrics();
    const collector = new ClusterMetrics(cluster.messenger(process.pid), mine, 300);
    // The other worker answers as ClusterMetrics does in its own process (where process.pid is OTHER).
    cluster.workers.get(OTHER)!.on(METRICS_MESSAGES.collect, ({ id, replyTo }: { id: string; replyTo: number }) => {
      other.registry.getMetricsAsJSON().then(metrics => cluster.messenger(OTHER).sendTo(replyTo, METRICS_MESSAGES.part, { id, pid: OTHER, metrics }));
    });
    cluster.agent.emit('egg-pids', [ process.pid, OTHER ]);
    return { mine, other, collector };
  }

  it('sums the counters of every worker the agent knows', async () => {
    const { mine, other, collector } = setUp();
    mine.ordersCreated.inc({ trade_type: 'JSAPI' }, 2);
    other.ordersCreated.inc({ trade_type: 'JSAPI' }, 3);
    other.paymentsApplied.inc({ source: 'notify', event: 'PAID', trade_type: 'JSAPI' });
    const scrape = await collector.scrape();
    assert.deepEqual([ scrape.answered, scrape.missing ], [ 2, 0 ]);
    const m = parsePromText(await scrape.registry.metrics());
    assert.equal(m.samples.get('wxpay_orders_created_total{trade_type="JSAPI"}'), 5);
    assert.equal(m.samples.get('wxpay_payments_applied_total{event="PAID",source="notify",trade_type="JSAPI"}'), 1);
  });

  it('a worker that does not answer: the scrape answers after the timeout with the others, and says one is missing', async () => {
    const { mine, other, collector } = setUp([ OTHER ]);
    mine.ordersCreated.inc({ trade_type: 'JSAPI' }, 2);
    other.ordersCreated.inc({ trade_type: 'JSAPI' }, 3);
    const scrape = await collector.scrape();
    assert.deepEqual([ scrape.answered, scrape.missing ], [ 1, 1 ]);
    const m = parsePromText(await scrape.registry.metrics());
    assert.equal(m.samples.get('wxpay_orders_created_total{trade_type="JSAPI"}'), 2);
  });

  it('no agent answering at all: this worker\'s own metrics, rather than nothing', async () => {
    const mine = new ServiceMetrics();
    mine.refunds.inc({ status: 'SUCCESS' });
    const nowhere: MetricsMessenger = { on: () => undefined, sendTo: () => undefined, sendToAgent: () => undefined, sendToApp: () => undefined };
    const scrape = await new ClusterMetrics(nowhere, mine, 100).scrape();
    assert.deepEqual([ scrape.answered, scrape.missing ], [ 1, 0 ]);
    assert.equal(parsePromText(await scrape.registry.metrics()).samples.get('wxpay_refunds_total{status="SUCCESS"}'), 1);
  });
});
