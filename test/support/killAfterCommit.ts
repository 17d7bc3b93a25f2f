/**
 * Child process for test/app/faults.test.ts: the app in one process (egg.start, as a worker runs
 * it) that kills itself with SIGKILL right after a settlement transaction commits, before the
 * notification's reply is written. Sends { port } to the parent once it listens.
 * Run with: node -r ts-node/register/transpile-only test/support/killAfterCommit.ts
 */
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { start } from 'egg';
import { SettlementRepository } from '../../app/repository/settlementRepository';

async function main() {
  const app: any = await (start as any)({ baseDir: process.cwd(), env: 'unittest' });
  const applyAndCommit = SettlementRepository.prototype.applyAndCommit;
  SettlementRepository.prototype.applyAndCommit = async function(this: SettlementRepository, ...args: Parameters<typeof applyAndCommit>) {
    await applyAndCommit.apply(this, args);
    // A payment committed: die now, as a power cut or the OOM killer would, with no chance to answer.
    const [ , changes, , transaction ] = args;
    if (changes.orderPaid) transaction.afterCommit(() => { process.kill(process.pid, 'SIGKILL'); });
  };
  const server = http.createServer(app.callback());
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
