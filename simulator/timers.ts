/**
 * Sleeps that stop() can cancel all at once, so a stopped simulator leaves no timer behind
 * (retries are hours apart at full scale).
 */
export class Timers {
  private readonly pending = new Map<NodeJS.Timeout, (elapsed: boolean) => void>();

  /** Resolves true after ms, or false at once if cancelled first. */
  sleep(ms: number): Promise<boolean> {
    return new Promise(resolve => {
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        resolve(true);
      }, ms);
      this.pending.set(timer, resolve);
    });
  }

  cancelAll(): void {
    for (const [ timer, resolve ] of this.pending) {
      clearTimeout(timer);
      resolve(false);
    }
    this.pending.clear();
  }
}
