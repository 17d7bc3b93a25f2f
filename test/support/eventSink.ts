import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as amqp from 'amqplib';
// The example receiver's own check: what the tests accept is what a merchant's receiver accepts.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { verifySignature } = require('../../examples/webhook-receiver/receiver');

export const AMQP_TEST_URL = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';

export interface ReceivedRequest {
  headers: http.IncomingHttpHeaders;
  body: any;
  /** null: the signature verified with the test secret. */
  signatureProblem: string | null;
  at: number;
}

/**
 * A webhook receiver the test controls: answers 'ok' (200), 'fail' (500) or 'hang' (never), and
 * can be taken down and brought back on the same port. Keeps every request it got.
 */
export class WebhookSink {
  readonly requests: ReceivedRequest[] = [];
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  port = 0;
  private server?: http.Server;
  private readonly hung = new Set<http.ServerResponse>();
  private waiters: Array<() => void> = [];

  constructor(readonly secret: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/events`;
  }

  /** Requests answered 200, each event id once (what a receiver acting once per id sees). */
  get acceptedEvents(): any[] {
    return this.requests.filter(r => r.signatureProblem === null && (r as any).answered === 200).map(r => r.body);
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', c => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const entry: ReceivedRequest & { answered?: number } = {
          headers: req.headers, body: JSON.parse(raw), at: Date.now(),
          signatureProblem: verifySignature(req.headers['x-wxpay-signature'], raw, this.secret),
        };
        this.requests.push(entry);
        if (this.mode === 'hang') this.hung.add(res);
        else {
          entry.answered = this.mode === 'ok' ? 200 : 500;
          res.writeHead(entry.answered).end();
        }
        for (const w of this.waiters.splice(0)) w();
      });
    });
    await new Promise<void>(resolve => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Down: the port refuses connections until start() again. */
  async stop(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.hung.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>(resolve => server.close(() => resolve()));
  }

  /** Resolves once `condition` holds, re-checked at every request; rejects after timeoutMs. */
  async waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`webhook sink: timed out waiting for ${what} (${this.requests.length} requests)`);
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }
}

/** A queue bound to a per-test exchange, collecting what the relay publishes. */
export class AmqpCollector {
  readonly messages: amqp.ConsumeMessage[] = [];
  readonly exchange = `wxpay.events.test.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}`;
  private connection?: amqp.ChannelModel;

  async start(): Promise<void> {
    this.connection = await amqp.connect(AMQP_TEST_URL);
    const channel = await this.connection.createChannel();
    // Declared as the relay declares it (durable topic exchange); deleted at stop().
    await channel.assertExchange(this.exchange, 'topic', { durable: true });
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, this.exchange, '#');
    await channel.consume(queue, msg => { if (msg) this.messages.push(msg); }, { noAck: true });
  }

  async stop(): Promise<void> {
    if (!this.connection) return;
    const channel = await this.connection.createChannel();
    await channel.deleteExchange(this.exchange).catch(() => undefined);
    await this.connection.close().catch(() => undefined);
  }
}

/** Polls `condition` (async) until it holds, or fails after timeoutMs. */
export async function eventually(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}
