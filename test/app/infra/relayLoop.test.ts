import assert from 'node:assert/strict';
import { signalOutboxCommitted } from '../../../app/infra/outboxSignal';
import { RelayLoop } from '../../../app/infra/relayLoop';

/** A RelayLoop over a fake batch: resolves `next()` at each run. */
function harness(results: number[]) {
  const runs: number[] = [];
  let notify: (() => void) | undefined;
  const loop = new RelayLoop(async () => {
    runs.push(Date.now());
    notify?.();
    return results.shift() ?? 0;
  }, () => 60_000, err => { throw err; });
  const next = () => new Promise<void>(resolve => { notify = resolve; });
  return { loop, runs, next };
}

describe('infra/relayLoop', () => {
  it('runs at start, then again at once when a commit signals, not at the next poll (a minute away)', async () => {
    const { loop, runs, next } = harness([]);
    const first = next();
    loop.start();
    await first;
    const second = next();
    // Let the first round finish, so the signal finds the loop idle.
    await new Promise(resolve => setImmediate(resolve));
    signalOutboxCommitted();
    await second;
    assert.equal(runs.length, 2);
    await loop.stop();
  });

  it('a signal during a round makes one more round; a round that found work is followed by another at once', async () => {
    const { loop, runs, next } = harness([ 2, 0 ]);
    const rounds = [ next() ];
    loop.start();
    await rounds[0];
    signalOutboxCommitted();
    // Round 1 found 2 events: round 2 follows; the signal meanwhile asks for round 3; round 2 found none.
    await new Promise<void>(resolve => {
      const check = () => (runs.length >= 3 ? resolve() : setImmediate(check));
      check();
    });
    await loop.stop();
    assert.equal(runs.length, 3);
  });
});
