import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { ServiceMetrics } from './metrics';

/** Set on a request that came in on the metrics port (METRICS_PORT): metricsAuth lets it through without a token. */
export const ON_METRICS_PORT = Symbol('onMetricsPort');

interface ScheduleItem { task: (ctx: unknown, ...args: unknown[]) => Promise<unknown> }

/**
 * Every scheduled job (app/schedule/*) counted and timed in one place: egg-schedule's task of each
 * is wrapped, so a job added later is measured without a line of its own. Its name is its file's.
 */
export function measureScheduledJobs(scheduleWorker: { scheduleItems: Record<string, ScheduleItem> } | undefined, metrics: ServiceMetrics) {
  for (const [ key, item ] of Object.entries(scheduleWorker?.scheduleItems ?? {})) {
    const task = item.task;
    const job = path.basename(key).replace(/\.[jt]s$/, '');
    item.task = (ctx, ...args) => metrics.timeJob(job, () => task(ctx, ...args));
  }
}

interface CreateHookOptions { transaction?: { afterCommit(fn: () => void): void } | null }

/**
 * Orders created, counted by the order model's afterCreate hook once the transaction commits, for
 * the paths that go through Order.create (POS charges). Order creation on POST /payment/order
 * writes its rows in plain SQL (app/repository/orderRepository.ts) and counts with
 * countOrderCreated once its transaction has committed.
 */
export function countOrdersCreated(
  orderModel: { addHook(name: 'afterCreate', fn: (order: { tradeType?: string | null }, options: CreateHookOptions) => void): unknown },
  metrics: ServiceMetrics,
) {
  orderModel.addHook('afterCreate', (order, options) => {
    const count = () => countOrderCreated(metrics, order.tradeType);
    if (options.transaction) options.transaction.afterCommit(count);
    else count();
  });
}

/** One order created (committed), by its trade type. */
export function countOrderCreated(metrics: ServiceMetrics, tradeType: string | null | undefined) {
  metrics.ordersCreated.inc({ trade_type: tradeType ?? 'UNKNOWN' });
}

/**
 * The metrics port: GET /metrics only, through the app's own middleware and controller (the
 * request is marked, so metricsAuth knows where it came from); anything else 404. Every worker
 * listens on it (the cluster shares the port); the answer is the cluster's whichever answers.
 */
export async function listenForMetrics(port: number, callback: http.RequestListener): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      (req as any)[ON_METRICS_PORT] = true;
      return callback(req, res);
    }
    res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ code: 'NOT_FOUND', message: 'only GET /metrics is served on this port' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => { server.off('error', reject); resolve(); });
  });
  return server;
}

export function portOf(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}
