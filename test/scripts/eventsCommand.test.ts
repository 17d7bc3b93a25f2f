import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { app } from 'egg-mock/bootstrap';
import { parseArgs, runEventsCommand } from '../../scripts/eventsCommand';
import { resetWorld } from '../support/fixtures';
import { seedEvents } from '../support/outboxEvents';

const ROOT = path.join(__dirname, '../..');

async function command(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runEventsCommand(app, argv, { out: t => out.push(t), err: t => err.push(t) });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('npm run events (scripts/eventsCommand.ts)', () => {
  beforeEach(resetWorld);
  afterEach(() => app.model.query('DELETE FROM outbox_events'));

  it('list --status dead: one line per event with its id, type, order, attempts and error, then the counts', async () => {
    const [ , dead ] = await seedEvents([ 'DELIVERED', 'DEAD' ]);
    const { code, stdout, stderr } = await command([ 'list', '--status', 'dead' ]);
    assert.equal(code, 0);
    assert.equal(stderr, '');
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.ok(lines[0].startsWith(`${dead.position}  ${dead.eventId}  order.closed  ${dead.outTradeNo}  #1  DEAD  attempts=20`), lines[0]);
    assert.match(lines[0], /error="webhook: answered HTTP 500"$/);
    assert.equal(lines[1], 'pending=0 delivered=1 dead=1');
  });

  it('replay EVENT_ID and replay --from --to: the events are PENDING again', async () => {
    const [ one, two ] = await seedEvents([ 'DEAD', 'DEAD' ]);
    const single = await command([ 'replay', one.eventId ]);
    assert.deepEqual([ single.code, single.stdout ], [ 0, `replayed ${one.eventId}\n1 event(s) replayed: the service's relay delivers them\n` ]);
    const range = await command([ 'replay', '--from', new Date(Date.now() - 60_000).toISOString(), `--to=${new Date(Date.now() + 60_000).toISOString()}` ]);
    assert.equal(range.code, 0);
    assert.equal(range.stdout, `replayed ${two.eventId}\n1 event(s) replayed: the service's relay delivers them\n`);
    assert.equal(await app.model.OutboxEvent.count({ where: { status: 'PENDING' } }), 2);
  });

  it('an unknown event: exit 1 with why; bad usage: exit 2 with the usage', async () => {
    const missing = await command([ 'replay', 'evt_00000000000000000000000000000000' ]);
    assert.deepEqual([ missing.code, missing.stdout, missing.stderr ], [ 1, '', 'no such event\n' ]);
    for (const argv of [[], [ 'purge' ], [ 'list', '--status', 'lost' ], [ 'list', '--limit', '0' ], [ 'replay' ], [ 'replay', '--from', 'x', '--to', 'y' ], [ 'list', '--bogus', '1' ]]) {
      const res = await command(argv);
      assert.equal(res.code, 2, argv.join(' '));
      assert.match(res.stderr, /usage: npm run events/);
    }
    assert.deepEqual(parseArgs([ 'replay', '--from', '2026-01-02T00:00:00Z', '--to', '2026-01-01T00:00:00Z' ]), { error: '--to must be after --from' });
  });

  it('runs as a command: scripts/events.js boots the app without a relay and prints the list', async function() {
    // A whole app booted through ts-node in a child: slow on a busy machine.
    this.timeout(180_000);
    const [ dead ] = await seedEvents([ 'DEAD' ]);
    const child = spawn(process.execPath, [ path.join(ROOT, 'scripts/events.js'), 'list', '--status', 'dead' ], {
      cwd: ROOT, env: { ...process.env, EGG_SERVER_ENV: 'unittest' }, stdio: [ 'ignore', 'pipe', 'pipe' ],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', c => { stdout += c; });
    child.stderr.on('data', c => { stderr += c; });
    const code = await new Promise<number | null>(resolve => child.on('exit', resolve));
    assert.equal(code, 0, stderr);
    assert.match(stdout, new RegExp(`^${dead.position}  ${dead.eventId}  order\\.closed`));
    assert.match(stdout, /pending=0 delivered=0 dead=1\n$/);
  });
});
