/**
 * Runs submitted items in batches, one batch at a time: an item submitted while no batch runs
 * starts one at once (after the current I/O callbacks, so items of the same event-loop turn go
 * together); items submitted while a batch runs wait and form the next one. Nothing waits on a
 * timer, so a lone item costs no latency, and under load each batch takes everything that queued
 * meanwhile: the per-batch cost (database round trips, one commit) is shared.
 *
 * `run` answers each item of a batch in order: a result, or an Error for that item alone. If it
 * throws, every item of the batch gets that error.
 */
export class MicroBatcher<T, R> {
  private queue: Array<{ item: T; resolve: (result: R) => void; reject: (err: Error) => void }> = [];
  private scheduled = false;
  private running = false;

  /**
   * `schedule` starts a batch run (setImmediate by default); the app passes one that also leaves
   * the submitting request's async context, since a run serves many requests.
   */
  constructor(
    private readonly run: (items: T[]) => Promise<Array<R | Error>>,
    private readonly maxBatch: number,
    private readonly schedule: (start: () => void) => void = start => setImmediate(start),
  ) {
    if (!(maxBatch >= 1)) throw new Error(`maxBatch must be at least 1, got ${maxBatch}`);
  }

  /** Items waiting for a batch (not those in the batch running). */
  get pending(): number {
    return this.queue.length;
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running && !this.scheduled) {
        this.scheduled = true;
        this.schedule(() => {
          this.scheduled = false;
          void this.drain();
        });
      }
    });
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.maxBatch);
        let results: Array<R | Error>;
        try {
          results = await this.run(batch.map(entry => entry.item));
          if (results.length !== batch.length) throw new Error(`batch of ${batch.length} answered ${results.length} results`);
        } catch (err) {
          for (const entry of batch) entry.reject(err as Error);
          continue;
        }
        batch.forEach((entry, i) => {
          const result = results[i];
          if (result instanceof Error) entry.reject(result);
          else entry.resolve(result);
        });
      }
    } finally {
      this.running = false;
    }
  }
}
