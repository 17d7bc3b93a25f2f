import { Server } from 'node:http';

/**
 * Counts the requests a server is handling, so shutdown can wait for them: a notification whose
 * transaction is committing gets its SUCCESS reply instead of a reset connection. (Without this,
 * an Egg worker exits right after its beforeClose hooks, whatever is in flight.)
 */
export class InFlightRequests {
  private count = 0;
  private idle: Array<() => void> = [];

  constructor(private readonly server: Server) {
    server.on('request', (_req, res) => {
      this.count++;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        this.count--;
        if (this.count === 0) this.idle.splice(0).forEach(wake => wake());
      };
      res.once('finish', finish);
      res.once('close', finish);
    });
  }

  get size(): number {
    return this.count;
  }

  /**
   * Stops accepting connections, closes idle keep-alive ones and waits until every request in
   * flight has been answered, or timeoutMs passed. Resolves true when nothing was left behind.
   */
  drain(timeoutMs: number): Promise<boolean> {
    this.server.close();
    this.server.closeIdleConnections();
    if (this.count === 0) return Promise.resolve(true);
    return new Promise(resolve => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idle.push(() => { clearTimeout(timer); resolve(true); });
    });
  }
}
