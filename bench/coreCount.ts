/**
 * The protocol core against tenpay alone, without the service, the database or a build:
 *   compare [rounds] [ms]  runTenpayComparison (bench/core.ts): alternating runs, each side's
 *                          ops/s per round and the median ratio, with the load average.
 *   count <service|tenpay|build> <N>
 *                          N awaited operations of one side (or N buildXml of the notification's
 *                          fields and a notifyReply: what every reply and request writes) and
 *                          nothing else, to be counted under
 *                          valgrind --tool=callgrind: instructions per operation are
 *                          (total(N2) - total(N1)) / (N2 - N1), which cancels node's start-up and
 *                          ts-node's compiling, and do not depend on the machine's load.
 * Run with: npm run bench:core -- compare 7 2000 (or node -r ts-node/register/transpile-only bench/coreCount.ts ...)
 */
import os from 'node:os';
import { buildXml, notifyReply } from '../lib/wechatpay';
import { runTenpayComparison, sampleNotificationFields, tenpayComparisonOps } from './core';
import { CREDENTIALS } from './fixtures';

async function main(): Promise<void> {
  const [ mode = 'compare', a, b ] = process.argv.slice(2);
  const load = () => os.loadavg().map(l => l.toFixed(2)).join(' ');
  if (mode === 'compare') {
    const rounds = Number(a ?? 7);
    const ms = Number(b ?? 2000);
    console.log(`core vs tenpay: ${rounds} rounds of ${ms} ms per side, load average ${load()}`);
    const result = await runTenpayComparison(CREDENTIALS.WECHAT_API_KEY, ms, rounds);
    for (const r of result.rounds) console.log(`  service ${r.service.toFixed(0)} ops/s, tenpay ${r.tenpay.toFixed(0)} ops/s, ratio ${(r.service / r.tenpay).toFixed(2)}`);
    const ratios = result.rounds.map(r => r.service / r.tenpay).sort((x, y) => x - y);
    console.log(`median: service ${result.serviceOpsPerSec.toFixed(0)}, tenpay ${result.tenpayOpsPerSec.toFixed(0)} ops/s; ` +
      `median of the rounds' ratios ${ratios[Math.floor(ratios.length / 2)].toFixed(2)}; load average ${load()}`);
    return;
  }
  if (mode === 'count' && (a === 'service' || a === 'tenpay')) {
    const ops = tenpayComparisonOps(CREDENTIALS.WECHAT_API_KEY);
    const op = a === 'service' ? ops.service : ops.viaTenpay;
    const n = Number(b ?? 1000);
    for (let i = 0; i < n; i++) await op();
    return;
  }
  if (mode === 'count' && a === 'build') {
    const fields = sampleNotificationFields(CREDENTIALS.WECHAT_API_KEY, {}, 'MD5');
    const n = Number(b ?? 1000);
    let length = 0;
    for (let i = 0; i < n; i++) length += buildXml(fields).length + notifyReply(true, 'OK').length;
    if (length === 0) throw new Error('nothing built');
    return;
  }
  throw new Error('usage: coreCount.ts compare [rounds] [ms] | count <service|tenpay|build> <N>');
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
