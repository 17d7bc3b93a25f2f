import { outboxSignal } from './outboxSignal';

/**
 * Runs the outbox relay in this process: at once when a transaction here commits an event
 * (outboxSignal), and every pollMs for events other processes wrote or whose retry is due. A run
 * repeats while it found work, so an order's next event follows its delivered one without waiting
 * for the poll. Never two runs at a time in one process; across processes the claim (SKIP LOCKED
 * and a lease) keeps them apart.
 */
export class RelayLoop {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private readonly onSignal = () => this.wake();

  constructor(
    private readonly runBatch: () => Promise<number>,
    private readonly pollMs: () => number,
    private readonly onError: (err: Error) => void,
  ) {}

  start(): void {
    outboxSignal.on('committed', this.onSignal);
    this.wake();
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (!this.stopped) this.timer = setTimeout(() => this.wake(), this.pollMs());
    });
  }

  /** Stops polling and waits for the run under way, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    outboxSignal.off('committed', this.onSignal);
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        const handled = await this.runBatch();
        if (handled > 0) this.again = true;
      } catch (err) {
        this.onError(err as Error);
        return;
      }
    } while (this.again && !this.stopped);
  }
}
