import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { WechatCallRecord } from '../../lib/wechatpay';

type MetricJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];

/**
 * This worker's counters and histograms (prom-client, one registry per app instance, never the
 * global one). GET /metrics shows them summed over every worker of the cluster: see ClusterMetrics
 * and docs/decisions/0009-metrics-across-workers.md.
 */
export class ServiceMetrics {
  readonly registry = new Registry();

  readonly ordersCreated = new Counter({
    name: 'wxpay_orders_created_total', help: 'Orders created, by channel (WeChat trade type)',
    labelNames: [ 'trade_type' ] as const, registers: [ this.registry ],
  });

  readonly paymentsApplied = new Counter({
    name: 'wxpay_payments_applied_total',
    help: 'Payments applied to an order (committed), by how we learned of it (notify, query), what it did (PAID, PAID_AFTER_CLOSE: refund owed, DOUBLE_PAYMENT: refund owed) and the payment\'s WeChat trade type',
    labelNames: [ 'source', 'event', 'trade_type' ] as const, registers: [ this.registry ],
  });

  readonly notifications = new Counter({
    name: 'wxpay_notifications_total', help: 'WeChat notifications answered and recorded in the audit, by kind (pay, refund) and outcome (APPLIED, DUPLICATE, REJECTED, ...)',
    labelNames: [ 'kind', 'outcome' ] as const, registers: [ this.registry ],
  });

  readonly refunds = new Counter({
    name: 'wxpay_refunds_total', help: 'Refunds reaching a status (PROCESSING when requested; SUCCESS, CHANGE, REFUNDCLOSE, FAILED)',
    labelNames: [ 'status' ] as const, registers: [ this.registry ],
  });

  readonly wechatCalls = new Counter({
    name: 'wxpay_wechat_calls_total', help: 'Calls to WeChat by API and result (SUCCESS; FAIL: WeChat said no, code = its err_code; ERROR: no trustworthy answer, code = the reason)',
    labelNames: [ 'api', 'result', 'code' ] as const, registers: [ this.registry ],
  });

  readonly wechatCallSeconds = new Histogram({
    name: 'wxpay_wechat_call_duration_seconds', help: 'Duration of calls to WeChat by API and result',
    labelNames: [ 'api', 'result' ] as const, buckets: [ 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30 ], registers: [ this.registry ],
  });

  readonly jobRuns = new Counter({
    name: 'wxpay_job_runs_total', help: 'Scheduled job runs (app/schedule) by job and result (success, failure)',
    labelNames: [ 'job', 'result' ] as const, registers: [ this.registry ],
  });

  readonly jobSeconds = new Histogram({
    name: 'wxpay_job_duration_seconds', help: 'Duration of scheduled job runs',
    labelNames: [ 'job' ] as const, buckets: [ 0.1, 0.5, 1, 5, 15, 60, 300 ], registers: [ this.registry ],
  });

  constructor() {
    // Process CPU, memory, event loop lag, GC: summed (or averaged, as prom-client says per metric) over workers.
    collectDefaultMetrics({ register: this.registry });
  }

  /** The observer given to lib/wechatpay's clients. */
  readonly wechatObserver = (call: WechatCallRecord) => {
    this.wechatCalls.inc({ api: call.api, result: call.result, code: call.code });
    this.wechatCallSeconds.observe({ api: call.api, result: call.result }, call.durationMs / 1000);
  };

  /** Runs one scheduled job, counting its run, failure and duration; its result or error passes through. */
  async timeJob<T>(job: string, run: () => Promise<T>): Promise<T> {
    const end = this.jobSeconds.startTimer({ job });
    try {
      const result = await run();
      this.jobRuns.inc({ job, result: 'success' });
      return result;
    } catch (err) {
      this.jobRuns.inc({ job, result: 'failure' });
      throw err;
    } finally {
      end();
    }
  }
}

/** The messages of the cluster-wide collection (app worker -> agent -> every app worker -> the asking worker). */
export const METRICS_MESSAGES = {
  /** asking app worker to agent: { id, replyTo } */
  scrape: 'wxpay-metrics:scrape',
  /** agent to every app worker: { id, replyTo, pids }, pids = the workers asked */
  collect: 'wxpay-metrics:collect',
  /** app worker to the asking worker: { id, pid, metrics } */
  part: 'wxpay-metrics:part',
} as const;

/** The part of Egg's messenger used here (app and agent alike). */
export interface MetricsMessenger {
  on(action: string, listener: (data: any) => void): unknown;
  sendTo(pid: number, action: string, data: unknown): unknown;
  sendToAgent(action: string, data: unknown): unknown;
  sendToApp(action: string, data: unknown): unknown;
}

export interface ClusterScrape {
  /** This worker's metrics summed with every other worker's that answered in time. */
  registry: Registry;
  /** Workers whose metrics are in `registry`, and workers asked that did not answer in time. */
  answered: number;
  missing: number;
}

interface PendingScrape {
  expected?: number[];
  parts: Map<number, MetricJson[]>;
  done: () => void;
}

interface CollectMessage { id: string; replyTo: number; pids: number[] }
interface PartMessage { id: string; pid: number; metrics: MetricJson[] }

/**
 * Collects every app worker's metrics for one scrape. The asking worker tells the agent, which
 * knows the listening workers (egg-cluster sends it their pids) and asks all of them, naming
 * whom it asked; each worker sends its metrics (prom-client JSON) back to the asking worker, which
 * sums them with AggregatorRegistry.aggregate. A worker that does not answer within timeoutMs is
 * left out and counted as missing, so a scrape never hangs. (The asking worker's own part is
 * handed over in-process: under egg-mock, messages addressed to a pid go nowhere.)
 */
export class ClusterMetrics {
  private readonly pending = new Map<string, PendingScrape>();

  constructor(private readonly messenger: MetricsMessenger, private readonly local: ServiceMetrics, private readonly timeoutMs: number) {
    messenger.on(METRICS_MESSAGES.collect, ({ id, replyTo, pids }: CollectMessage) => {
      const mine = replyTo === process.pid ? this.pending.get(id) : undefined;
      if (mine) mine.expected = pids;
      local.registry.getMetricsAsJSON().then(metrics => {
        const part: PartMessage = { id, pid: process.pid, metrics };
        if (replyTo === process.pid) this.receive(part);
        else messenger.sendTo(replyTo, METRICS_MESSAGES.part, part);
      }, () => undefined);
    });
    messenger.on(METRICS_MESSAGES.part, (part: PartMessage) => this.receive(part));
  }

  async scrape(): Promise<ClusterScrape> {
    const id = randomUUID();
    const parts = new Map<number, MetricJson[]>();
    let timer: NodeJS.Timeout | undefined;
    const scrape: PendingScrape = { parts, done: () => undefined };
    const finished = new Promise<void>(resolve => {
      scrape.done = resolve;
      timer = setTimeout(resolve, this.timeoutMs);
    });
    this.pending.set(id, scrape);
    try {
      this.messenger.sendToAgent(METRICS_MESSAGES.scrape, { id, replyTo: process.pid });
      await finished;
    } finally {
      clearTimeout(timer);
      this.pending.delete(id);
    }
    // No answer at all (the agent away): this worker's own metrics, rather than nothing.
    if (!parts.has(process.pid)) parts.set(process.pid, await this.local.registry.getMetricsAsJSON());
    const expected = scrape.expected ?? [ process.pid ];
    const missing = expected.filter(pid => !parts.has(pid)).length;
    return { registry: AggregatorRegistry.aggregate([ ...parts.values() ]), answered: parts.size, missing };
  }

  private receive({ id, pid, metrics }: PartMessage) {
    const scrape = this.pending.get(id);
    if (!scrape) return;
    scrape.parts.set(pid, metrics);
    if (scrape.expected && scrape.expected.every(p => scrape.parts.has(p))) scrape.done();
  }
}

/**
 * The agent's side: it knows the listening app workers' pids from egg-cluster ('egg-pids'); a
 * scrape asks all of them. Before it has heard of any (a single-process app under egg-mock), the
 * worker that wants the metrics is the only one.
 */
export function serveMetricsInAgent(messenger: MetricsMessenger) {
  let workers: number[] = [];
  messenger.on('egg-pids', (pids: unknown) => { workers = Array.isArray(pids) ? pids.map(Number) : []; });
  messenger.on(METRICS_MESSAGES.scrape, ({ id, replyTo }: { id: string; replyTo: number }) => {
    const collect: CollectMessage = { id, replyTo, pids: workers.length > 0 ? workers : [ replyTo ] };
    messenger.sendToApp(METRICS_MESSAGES.collect, collect);
  });
}
