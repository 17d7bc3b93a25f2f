import assert from 'node:assert/strict';
import { MicroBatcher } from '../../../app/lib/microBatcher';

/** A run whose batches the test finishes by hand, recording what each batch held. */
function manualRun<T>() {
  const batches: T[][] = [];
  const finish: Array<() => void> = [];
  const started: Array<() => void> = [];
  const run = (items: T[]) => new Promise<Array<string | Error>>(resolve => {
    batches.push(items);
    finish.push(() => resolve(items.map(item => `done ${item}`)));
    started.splice(0).forEach(notify => notify());
  });
  const nextBatchStarted = () => new Promise<void>(resolve => started.push(resolve));
  return { batches, finish, run, nextBatchStarted };
}

describe('MicroBatcher', () => {
  it('runs a lone item at once, as a batch of one', async () => {
    const batcher = new MicroBatcher<number, string>(async items => items.map(i => `done ${i}`), 10);
    assert.equal(await batcher.submit(1), 'done 1');
  });

  it('puts items submitted in the same turn into one batch', async () => {
    const m = manualRun<number>();
    const batcher = new MicroBatcher<number, string | Error>(m.run, 10);
    const started = m.nextBatchStarted();
    const results = [ batcher.submit(1), batcher.submit(2), batcher.submit(3) ];
    await started;
    m.finish[0]();
    assert.deepEqual(await Promise.all(results), [ 'done 1', 'done 2', 'done 3' ]);
    assert.deepEqual(m.batches, [[ 1, 2, 3 ]]);
  });

  it('runs one batch at a time: items arriving meanwhile form the next batch, in order', async () => {
    const m = manualRun<number>();
    const batcher = new MicroBatcher<number, string | Error>(m.run, 10);
    let started = m.nextBatchStarted();
    const first = batcher.submit(1);
    await started;
    const later = [ batcher.submit(2), batcher.submit(3) ];
    await new Promise(resolve => setImmediate(resolve));
    assert.equal(m.batches.length, 1, 'the second batch waits for the first');
    assert.equal(batcher.pending, 2);
    started = m.nextBatchStarted();
    m.finish[0]();
    assert.equal(await first, 'done 1');
    await started;
    m.finish[1]();
    assert.deepEqual(await Promise.all(later), [ 'done 2', 'done 3' ]);
    assert.deepEqual(m.batches, [[ 1 ], [ 2, 3 ]]);
  });

  it('never puts more than maxBatch items in a batch', async () => {
    const sizes: number[] = [];
    const batcher = new MicroBatcher<number, number>(async items => { sizes.push(items.length); return items; }, 3);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => batcher.submit(i)));
    assert.deepEqual(results, [ 0, 1, 2, 3, 4, 5, 6, 7 ]);
    assert.deepEqual(sizes, [ 3, 3, 2 ]);
  });

  it('rejects only the item answered with an Error', async () => {
    const batcher = new MicroBatcher<number, number>(async items => items.map(i => (i === 2 ? new Error('item 2 failed') : i)), 10);
    const results = await Promise.allSettled([ batcher.submit(1), batcher.submit(2), batcher.submit(3) ]);
    assert.deepEqual(results.map(r => r.status), [ 'fulfilled', 'rejected', 'fulfilled' ]);
    assert.equal((results[1] as PromiseRejectedResult).reason.message, 'item 2 failed');
  });

  it('rejects every item of a batch whose run throws, and keeps serving', async () => {
    let fail = true;
    const batcher = new MicroBatcher<number, number>(async items => {
      if (fail) throw new Error('database away');
      return items;
    }, 10);
    const results = await Promise.allSettled([ batcher.submit(1), batcher.submit(2) ]);
    assert.deepEqual(results.map(r => r.status), [ 'rejected', 'rejected' ]);
    fail = false;
    assert.equal(await batcher.submit(3), 3);
  });

  it('rejects every item when the run answers the wrong number of results', async () => {
    const batcher = new MicroBatcher<number, number>(async items => items.slice(1), 10);
    const results = await Promise.allSettled([ batcher.submit(1), batcher.submit(2) ]);
    assert.deepEqual(results.map(r => r.status), [ 'rejected', 'rejected' ]);
    assert.match((results[0] as PromiseRejectedResult).reason.message, /batch of 2 answered 1 results/);
  });

  it('starts batches through the given scheduler', async () => {
    let scheduled = 0;
    const batcher = new MicroBatcher<number, number>(async items => items, 10, start => { scheduled++; setImmediate(start); });
    assert.equal(await batcher.submit(7), 7);
    assert.equal(scheduled, 1);
  });

  it('refuses a maxBatch below one', () => {
    assert.throws(() => new MicroBatcher<number, number>(async items => items, 0), /maxBatch must be at least 1/);
  });
});
