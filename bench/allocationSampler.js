'use strict';

/**
 * Loaded into every process of a bench target when BENCH_ALLOCATIONS=1 (bench/allocations.ts):
 * each SIGUSR2 toggles V8's sampling heap profiler, which counts the objects the collector has
 * already freed as well; on stop the profile goes to $BENCH_ALLOCATIONS_DIR/<pid>-<n>.heapprofile,
 * n counting the runs measured from 0. Plain JavaScript, so that it loads with --require (the
 * baselines) and with --import (the service, through egg-scripts) before anything else.
 */
const { Session } = require('node:inspector');
const { renameSync, writeFileSync } = require('node:fs');
const path = require('node:path');

/** About one sample per 16 KB allocated: thousands per run, at a small cost to the process. */
const SAMPLING_INTERVAL_BYTES = 16 * 1024;

let session;
let run = -1;
let sampling = false;

function report(err) {
  if (err) console.error(`[allocation sampler] ${process.pid}: ${err.message}`);
}

process.on('SIGUSR2', () => {
  if (!session) {
    session = new Session();
    session.connect();
    session.post('HeapProfiler.enable', report);
  }
  if (!sampling) {
    sampling = true;
    run += 1;
    session.post('HeapProfiler.startSampling', {
      samplingInterval: SAMPLING_INTERVAL_BYTES, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true,
    }, report);
    return;
  }
  sampling = false;
  const file = path.join(process.env.BENCH_ALLOCATIONS_DIR, `${process.pid}-${run}.heapprofile`);
  session.post('HeapProfiler.stopSampling', (err, result) => {
    if (err) return report(err);
    // Whole, then renamed: the bench reads a profile as soon as its name appears.
    writeFileSync(`${file}.tmp`, JSON.stringify(result.profile));
    renameSync(`${file}.tmp`, file);
  });
});
