import { ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import * as http from 'node:http';

/**
 * test/support/killAfterCommit.ts forked (through ts-node) with `env` added to this process's:
 * `child` at once (for the test's afterEach to kill), `listening` the port once it listens
 * (rejects if it exits first), `exited` its [ code, signal ].
 */
export function forkKillAfterCommit(env: Record<string, string> = {}): { child: ChildProcess; listening: Promise<number>; exited: Promise<any[]> } {
  const child = fork('test/support/killAfterCommit.ts', [], {
    execArgv: [ '-r', 'ts-node/register/transpile-only' ],
    env: { ...process.env, EGG_SERVER_ENV: 'unittest', EGG_TYPESCRIPT: 'true', ...env },
    stdio: [ 'ignore', 'ignore', 'inherit', 'ipc' ],
  });
  const exited = once(child, 'exit');
  const listening = Promise.race([
    once(child, 'message') as Promise<[{ port: number }]>,
    exited.then(([ code ]) => { throw new Error(`child exited with ${code} before listening`); }),
  ]).then(([ message ]) => message.port);
  return { child, listening, exited };
}

/** POSTs a notification to the child on `port`: 'answered <status>' or 'error <code>'. */
export function sendNotification(port: number, xml: string): Promise<string> {
  return new Promise<string>(resolve => {
    const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/payment/notify', headers: { 'content-type': 'text/xml' } }, res => {
      resolve(`answered ${res.statusCode}`);
    });
    req.on('error', err => resolve(`error ${(err as NodeJS.ErrnoException).code}`));
    req.end(xml);
  });
}
