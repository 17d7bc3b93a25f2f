/**
 * Bytes allocated per request, measured with V8's sampling heap profiler in every process of a
 * target (bench/allocationSampler.js, BENCH_ALLOCATIONS=1). Unlike req/s and CPU time it does not
 * move with the shared machine's speed, so it shows the cost of the framework beside the baselines'
 * with little noise; the sampler slows the processes a little, so it is opt-in.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { bucket } from './profileBuckets';

export const ALLOCATIONS = process.env.BENCH_ALLOCATIONS === '1';
export const ALLOCATIONS_DIR = path.join(os.tmpdir(), 'wxpay-bench-allocations');
export const SAMPLER = path.join(__dirname, 'allocationSampler.js');

interface HeapNode { callFrame: { functionName: string; url: string }; selfSize: number; children: HeapNode[] }

/** What a target's processes allocated during one run: in all, and by where (bench/profileBuckets.ts). */
export interface Allocated {
  bytes: number;
  byBucket: Record<string, number>;
}

/** A fresh folder for the profiles, and the variable that tells the sampler where it is (set before the targets start). */
export function prepareAllocations(): void {
  rmSync(ALLOCATIONS_DIR, { recursive: true, force: true });
  mkdirSync(ALLOCATIONS_DIR, { recursive: true });
  process.env.BENCH_ALLOCATIONS_DIR = ALLOCATIONS_DIR;
}

const started = new Map<number, number>();

/** Starts sampling in each process (the sampler's first SIGUSR2); answers once the signals had time to land. */
export async function startSampling(pids: number[]): Promise<void> {
  for (const pid of pids) {
    process.kill(pid, 'SIGUSR2');
    started.set(pid, (started.get(pid) ?? -1) + 1);
  }
  await sleep(100);
}

/** Stops sampling in each process and sums what their profiles sampled. */
export async function stopSampling(pids: number[]): Promise<Allocated> {
  const files = pids.map(pid => path.join(ALLOCATIONS_DIR, `${pid}-${started.get(pid)}.heapprofile`));
  for (const pid of pids) process.kill(pid, 'SIGUSR2');
  // A process writes its profile when it next runs its event loop: a busy one takes a moment.
  for (let waited = 0; !files.every(f => existsSync(f)); waited += 50) {
    if (waited > 30000) throw new Error(`allocation profiles not written: ${files.filter(f => !existsSync(f)).join(', ')}`);
    await sleep(50);
  }
  const byBucket: Record<string, number> = {};
  let bytes = 0;
  // A built-in (a string's replace, JSON.stringify, a Promise) has no script of its own: what it
  // allocates is counted where the script that called it belongs.
  const add = (node: HeapNode, caller: string) => {
    const where = node.callFrame.url ? bucket(node.callFrame.url, node.callFrame.functionName) : caller;
    if (node.selfSize) {
      byBucket[where] = (byBucket[where] ?? 0) + node.selfSize;
      bytes += node.selfSize;
    }
    for (const child of node.children) add(child, where);
  };
  for (const file of files) add((JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode }).head, '(native / runtime)');
  return { bytes, byBucket };
}
