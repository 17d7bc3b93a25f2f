import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { ALLOCATIONS_DIR, prepareAllocations, SAMPLER, startSampling, stopSampling } from '../../bench/allocations';

/**
 * BENCH_ALLOCATIONS=1 (bench/allocations.ts) loads bench/allocationSampler.js into every process
 * of each target; this runs it in a process of its own that allocates, and reads what it wrote.
 */
describe('bench: the allocation sampler', () => {
  it('toggled by SIGUSR2, writes a heap profile that counts what the process allocated, freed objects included', async () => {
    prepareAllocations();
    // About 64 KB of short-lived arrays every millisecond, all of it garbage at once.
    const child = spawn(process.execPath, [ '--require', SAMPLER, '-e',
      'setInterval(() => { for (let i = 0; i < 8; i++) new Array(1024).fill(i); }, 1); console.log("ready");' ],
    { env: { ...process.env, BENCH_ALLOCATIONS_DIR: ALLOCATIONS_DIR }, stdio: [ 'ignore', 'pipe', 'inherit' ] });
    try {
      const exited = once(child, 'exit').then(([ code ]) => { throw new Error(`the process exited (${code}) before it was ready`); });
      // Handled here too: the process also exits when the test kills it at its end.
      exited.catch(() => undefined);
      await Promise.race([ once(child.stdout!, 'data'), exited ]);
      await startSampling([ child.pid! ]);
      const allocated = await stopSampling([ child.pid! ]);
      // At least 100 ms of it (startSampling's wait): megabytes, of which next to nothing is still live.
      assert.ok(allocated.bytes > 1024 * 1024, `${allocated.bytes} bytes`);
      assert.ok(Object.keys(allocated.byBucket).length > 0);
      assert.equal(path.dirname(SAMPLER), path.resolve(__dirname, '../../bench'));
    } finally {
      child.kill();
    }
  });
});
