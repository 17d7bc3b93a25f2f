/**
 * Scenario 5 of `npm run bench`: a flash sale. Every session presses Buy at the same moment on one
 * of a few products, then does what the example mini-program does (examples/miniprogram/lib/
 * checkout.js): the order with a new Idempotency-Key, payment (here the simulator's payer, which
 * then sends WeChat's notification to the target), and status polls until the order leaves
 * NOTPAY, the first at once and then every `pollMs` (1,500 ms, the example's interval). Measured
 * per session: Buy to the order's reply, and Buy to SUCCESS seen by the client.
 */
import { performance } from 'node:perf_hooks';
import { median } from './fixtures';

export interface FlashSession { token: string }

export interface FlashSaleResult {
  sessions: number;
  /** Sessions whose order was created, paid and seen SUCCESS. */
  succeeded: number;
  /** What went wrong for the others (HTTP status or reason, and how many). */
  failures: Record<string, number>;
  /** Orders created per second: sessions ordered / the time to the last order reply. */
  ordersPerSec: number;
  /** Buy to order reply, ms. */
  orderP50: number;
  orderP99: number;
  /** Buy to SUCCESS seen by the client, ms. */
  successP50: number;
  successP99: number;
  /** Status polls sent in all, and those answered with an error (polled again), by status and code. */
  polls: number;
  pollErrors: Record<string, number>;
  /** Order requests retried after a 503 or no answer. */
  retries: number;
  seconds: number;
  outTradeNos: string[];
}

const percentile = (values: number[], p: number) => {
  if (!values.length) return NaN;
  const sorted = [ ...values ].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
};
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

export async function flashSale(opts: {
  url: string; simUrl: string; sessions: FlashSession[]; productIds: number[]; pollMs: number; deadlineMs: number; keyPrefix: string;
}): Promise<FlashSaleResult> {
  const failures: Record<string, number> = {};
  const fail = (why: string) => { failures[why] = (failures[why] ?? 0) + 1; };
  const orderMs: number[] = [];
  const successMs: number[] = [];
  const outTradeNos: string[] = [];
  let polls = 0;
  let retries = 0;
  const pollErrors: Record<string, number> = {};
  let lastOrderAt = 0;
  const start = performance.now();
  const deadline = start + opts.deadlineMs;

  await Promise.all(opts.sessions.map(async (session, i) => {
    const auth = { authorization: `Bearer ${session.token}` };
    try {
      // A 503 (or no answer) is retried with the same Idempotency-Key, as the example's ApiError
      // marks it retryable; anything else ends the checkout.
      let res: Response;
      let params: any;
      for (;;) {
        res = await fetch(`${opts.url}/payment/order`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': `${opts.keyPrefix}-${i}` },
          body: JSON.stringify({ items: [{ productId: opts.productIds[i % opts.productIds.length], quantity: 1 }] }),
        }).catch(() => new Response(null, { status: 599 }));
        params = await res.json().catch(() => ({}));
        if ((res.status !== 503 && res.status !== 599) || performance.now() > deadline) break;
        retries++;
        await sleep(1000);
      }
      if (res.status !== 200 || !params.outTradeNo) return fail(`order ${res.status} ${params.code ?? ''}`.trim());
      const orderedAt = performance.now();
      lastOrderAt = Math.max(lastOrderAt, orderedAt);
      orderMs.push(orderedAt - start);
      outTradeNos.push(params.outTradeNo);
      const paid = await fetch(`${opts.simUrl}/simulator/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ outTradeNo: params.outTradeNo }) });
      await paid.arrayBuffer();
      if (paid.status !== 200) return fail(`simulator pay ${paid.status}`);
      for (;;) {
        polls++;
        const status = await fetch(`${opts.url}/payment/orders/${params.outTradeNo}`, { headers: auth }).catch(() => new Response(null, { status: 599 }));
        const order = await status.json().catch(() => ({})) as any;
        if (status.status === 200 && order.status === 'SUCCESS') { successMs.push(performance.now() - start); return; }
        if (status.status === 200 && order.status !== 'NOTPAY') return fail(`status ${order.status}`);
        // A failed poll is polled again (the payer's page shows the order as still confirming).
        if (status.status !== 200) pollErrors[`${status.status} ${order.code ?? ''}`.trim()] = (pollErrors[`${status.status} ${order.code ?? ''}`.trim()] ?? 0) + 1;
        if (performance.now() > deadline) return fail(`not SUCCESS by the deadline (last poll ${status.status} ${order.status ?? order.code ?? ''})`);
        await sleep(opts.pollMs);
      }
    } catch (err) {
      fail(`error ${(err as Error).message}`);
    }
  }));
  return {
    sessions: opts.sessions.length,
    succeeded: successMs.length,
    failures,
    ordersPerSec: orderMs.length / ((lastOrderAt - start) / 1000),
    orderP50: median(orderMs), orderP99: percentile(orderMs, 0.99),
    successP50: median(successMs), successP99: percentile(successMs, 0.99),
    polls,
    pollErrors,
    retries,
    seconds: (performance.now() - start) / 1000,
    outTradeNos,
  };
}
