import * as amqp from 'amqplib';

export interface AmqpTarget {
  url: string;
  exchange: string;
}

/**
 * Publishes events to a RabbitMQ topic exchange (routing key: the event type) on a confirm
 * channel: persistent messages, message id = event id, and a publish resolves only once the broker
 * confirms it. One connection per sink, opened on first use and again after it breaks.
 */
export class AmqpSink {
  private channel?: Promise<amqp.ConfirmChannel>;
  private connection?: amqp.ChannelModel;
  private closed = false;

  constructor(readonly target: AmqpTarget, private readonly timeoutMs: number) {}

  async publish(eventId: string, eventType: string, body: string, createdAt: Date): Promise<void> {
    const channel = await this.open();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`amqp: no confirm within ${this.timeoutMs} ms`)), this.timeoutMs);
      try {
        channel.publish(this.target.exchange, eventType, Buffer.from(body, 'utf8'), {
          persistent: true, messageId: eventId, type: eventType, contentType: 'application/json',
          timestamp: Math.floor(createdAt.getTime() / 1000), mandatory: false,
        }, err => {
          clearTimeout(timer);
          if (err) reject(new Error(`amqp: the broker refused the message: ${(err as Error).message ?? err}`));
          else resolve();
        });
      } catch (err) {
        clearTimeout(timer);
        reject(err);
      }
    }).catch(err => {
      // A channel that failed a publish may be unusable: the next one starts afresh.
      this.reset();
      throw err;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const connection = this.connection;
    this.reset();
    await connection?.close().catch(() => undefined);
  }

  private open(): Promise<amqp.ConfirmChannel> {
    if (this.closed) return Promise.reject(new Error('amqp: sink closed'));
    if (!this.channel) {
      this.channel = (async () => {
        const connection = await amqp.connect(this.target.url, { timeout: this.timeoutMs });
        this.connection = connection;
        // A broken connection or channel is dropped, to be opened again by the next publish.
        const drop = () => { if (this.connection === connection) this.reset(); };
        connection.on('error', drop);
        connection.on('close', drop);
        const channel = await connection.createConfirmChannel();
        channel.on('error', drop);
        channel.on('close', drop);
        await channel.assertExchange(this.target.exchange, 'topic', { durable: true });
        return channel;
      })();
      this.channel.catch(() => this.reset());
    }
    return this.channel;
  }

  private reset(): void {
    const connection = this.connection;
    this.channel = undefined;
    this.connection = undefined;
    if (connection && !this.closed) connection.close().catch(() => undefined);
  }
}

const sinks = new WeakMap<object, AmqpSink>();

/** The owner's (an app's) sink for this target: one connection per app, replaced when the target changes. */
export function amqpSinkFor(owner: object, target: AmqpTarget, timeoutMs: number): AmqpSink {
  const current = sinks.get(owner);
  if (current && current.target.url === target.url && current.target.exchange === target.exchange) return current;
  if (current) current.close().catch(() => undefined);
  const sink = new AmqpSink({ ...target }, timeoutMs);
  sinks.set(owner, sink);
  return sink;
}

/** Closes the owner's sink, if it has one (on app close). */
export async function closeAmqpSinkOf(owner: object): Promise<void> {
  const sink = sinks.get(owner);
  sinks.delete(owner);
  await sink?.close();
}
