/**
 * `npm run bench:profile-summary -- <dir or .cpuprofile files>`: where a profiled process's CPU
 * went, by the package or project folder the sampled function belongs to (self time), for the
 * breakdowns in BENCHMARKS.md. Profiles come from `BENCH_SERVICE_NODE_FLAGS="--cpu-prof
 * --cpu-prof-dir=/tmp/prof" npm run bench`; each service process writes one (the workers carry
 * the load: pass `--top N` to also list the N costliest functions, `--skip-seconds S` to leave
 * out each process's first S seconds, its start). Idle time is left out.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { bucket } from './profileBuckets';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

function main() {
  const args = process.argv.slice(2);
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 0;
  // Start-up (module loading, compiling) is no request's cost: leave out each process's first seconds.
  const skipAt = args.indexOf('--skip-seconds');
  const skipUs = skipAt >= 0 ? Number(args.splice(skipAt, 2)[1]) * 1e6 : 0;
  const files = args.flatMap(a => (statSync(a).isDirectory() ? readdirSync(a).filter(f => f.endsWith('.cpuprofile')).map(f => path.join(a, f)) : [ a ]));
  const perBucket = new Map<string, number>();
  const perFunction = new Map<string, number>();
  let busy = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const byId = new Map(profile.nodes.map(n => [ n.id, n ]));
    const self = new Map<number, number>();
    let at = 0;
    profile.samples.forEach((id, i) => {
      at += profile.timeDeltas[i] ?? 0;
      if (at >= skipUs) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
    });
    let fileBusy = 0;
    for (const [ id, us ] of self) {
      const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
      const b = bucket(url, functionName);
      if (b === '(idle)') continue;
      fileBusy += us;
      perBucket.set(b, (perBucket.get(b) ?? 0) + us);
      const fn = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist|app|lib)\//, '$1/')}:${lineNumber + 1}`;
      perFunction.set(fn, (perFunction.get(fn) ?? 0) + us);
    }
    console.log(`${path.basename(file)}: ${(fileBusy / 1000).toFixed(0)} ms busy of ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms`);
    busy += fileBusy;
  }
  console.log('\n| where (self time) | ms | share |\n|---|---:|---:|');
  for (const [ b, us ] of [ ...perBucket ].sort((x, y) => y[1] - x[1])) {
    if (us / busy < 0.005) continue;
    console.log(`| ${b} | ${(us / 1000).toFixed(0)} | ${(100 * us / busy).toFixed(1)}% |`);
  }
  console.log(`| **all but idle** | ${(busy / 1000).toFixed(0)} | 100% |`);
  if (top) {
    console.log('\n| function (self time) | ms | share |\n|---|---:|---:|');
    for (const [ fn, us ] of [ ...perFunction ].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`| ${fn} | ${(us / 1000).toFixed(0)} | ${(100 * us / busy).toFixed(1)}% |`);
  }
}

main();
