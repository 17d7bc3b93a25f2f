/**
 * `npm run bench:soak`: the bench's soak alone (bench/run.ts, BENCH_SOAK_SECONDS, 600 by default;
 * BENCH_SOAK_SECONDS=120 for a shorter one): steady mixed traffic on the service, its RSS sampled.
 */
process.env.BENCH_SCENARIOS = process.env.BENCH_SCENARIOS ?? 'soak';
process.env.BENCH_ROUNDS = process.env.BENCH_ROUNDS ?? '1';
// eslint-disable-next-line @typescript-eslint/no-var-requires
require('./run');
