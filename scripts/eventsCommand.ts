import type { Application } from 'egg';
import { AppError } from '../app/common/errors';
import { OUTBOX_STATUSES, OutboxStatus } from '../app/domain/outboxRules';
import type { OutboxEventView } from '../app/service/outbox';
import type { CommandIo } from './reconcileCommand';

export const USAGE = [
  'usage: npm run events -- list [--status pending|delivered|dead] [--order OUT_TRADE_NO] [--after POSITION] [--limit N]',
  '       npm run events -- replay EVENT_ID',
  '       npm run events -- replay --from ISO_TIME --to ISO_TIME [--status dead[,delivered,pending]]',
].join('\n');

export const EXIT = { OK: 0, REFUSED: 1, ERROR: 2 } as const;

type Parsed =
  | { command: 'list'; status?: OutboxStatus; outTradeNo?: string; after?: number; limit: number }
  | { command: 'replay'; eventId: string }
  | { command: 'replayRange'; from: Date; to: Date; statuses: OutboxStatus[] }
  | { error: string };

/** Reads `--name value` and `--name=value` options after the command word. */
export function parseArgs(argv: string[]): Parsed {
  const [ command, ...rest ] = argv;
  const options: Record<string, string> = {};
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (!arg.startsWith('--')) { positional.push(arg); continue; }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const value = eq > 0 ? arg.slice(eq + 1) : rest[++i];
    if (value === undefined) return { error: `--${name} needs a value` };
    options[name] = value;
  }
  const statuses = (value: string | undefined): OutboxStatus[] | string => {
    const list = (value ?? 'dead').split(',').map(s => s.trim().toUpperCase());
    const bad = list.find(s => !OUTBOX_STATUSES.includes(s as OutboxStatus));
    return bad !== undefined ? `unknown status ${bad.toLowerCase()}` : list as OutboxStatus[];
  };
  const known = (names: string[]) => Object.keys(options).find(n => !names.includes(n));
  if (command === 'list') {
    const unknown = known([ 'status', 'order', 'after', 'limit' ]);
    if (unknown || positional.length) return { error: `unknown argument ${unknown ? `--${unknown}` : positional[0]}` };
    const status = options.status === undefined ? undefined : statuses(options.status);
    if (typeof status === 'string') return { error: status };
    if (status && status.length !== 1) return { error: 'list takes one --status' };
    const limit = options.limit === undefined ? 50 : Number(options.limit);
    const after = options.after === undefined ? undefined : Number(options.after);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return { error: '--limit must be an integer from 1 to 1000' };
    if (after !== undefined && (!Number.isInteger(after) || after < 0)) return { error: '--after must be a position (an integer)' };
    return { command: 'list', status: status?.[0], outTradeNo: options.order, after, limit };
  }
  if (command === 'replay') {
    if (positional.length === 1 && Object.keys(options).length === 0) return { command: 'replay', eventId: positional[0] };
    const unknown = known([ 'from', 'to', 'status' ]);
    if (unknown || positional.length) return { error: `unknown argument ${unknown ? `--${unknown}` : positional.join(' ')}` };
    if (!options.from || !options.to) return { error: 'replay needs an EVENT_ID, or --from and --to' };
    const from = new Date(options.from);
    const to = new Date(options.to);
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return { error: '--from and --to must be ISO 8601 times' };
    if (to <= from) return { error: '--to must be after --from' };
    const list = statuses(options.status);
    if (typeof list === 'string') return { error: list };
    return { command: 'replayRange', from, to, statuses: list };
  }
  return { error: command ? `unknown command ${command}` : 'a command is required' };
}

function line(e: OutboxEventView): string {
  return [ e.position, e.id, e.type, e.outTradeNo, `#${e.sequence}`, e.status, `attempts=${e.attempts}`,
    e.deliveredAt ? `delivered=${e.deliveredAt}` : e.nextAttemptAt ? `next=${e.nextAttemptAt}` : '',
    e.lastError ? `error=${JSON.stringify(e.lastError)}` : '' ].filter(Boolean).join('  ');
}

/** `npm run events`: lists or replays outbox events in a booted app; answers the exit code. */
export async function runEventsCommand(app: Application, argv: string[], io: CommandIo): Promise<number> {
  const args = parseArgs(argv);
  if ('error' in args) {
    io.err(`${args.error}\n${USAGE}\n`);
    return EXIT.ERROR;
  }
  const { outbox } = app.createAnonymousContext().service;
  try {
    if (args.command === 'list') {
      const page = await outbox.list({ status: args.status, outTradeNo: args.outTradeNo, afterPosition: args.after, limit: args.limit });
      for (const e of page.events) io.out(`${line(e)}\n`);
      io.out(`pending=${page.counts.PENDING} delivered=${page.counts.DELIVERED} dead=${page.counts.DEAD}` +
        `${page.next !== null ? `  (more: --after ${page.next})` : ''}\n`);
      return EXIT.OK;
    }
    const replayed = args.command === 'replay' ? await outbox.replayOne(args.eventId) : await outbox.replayRange(args);
    for (const id of replayed) io.out(`replayed ${id}\n`);
    io.out(`${replayed.length} event(s) replayed: the service's relay delivers them\n`);
    return EXIT.OK;
  } catch (err) {
    if (err instanceof AppError) {
      io.err(`${err.message}\n`);
      return EXIT.REFUSED;
    }
    throw err;
  }
}
