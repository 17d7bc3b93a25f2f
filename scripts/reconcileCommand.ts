import type { Application } from 'egg';
import { AppError } from '../app/common/errors';
import { formatReport } from './reconcileReport';

export const USAGE = 'usage: npm run reconcile -- --date YYYY-MM-DD   (a Beijing calendar day)';

/** Exit codes: everything matches (or no bill and nothing of ours), a mismatch, no result. */
export const EXIT = { OK: 0, MISMATCH: 1, ERROR: 2 } as const;

export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

/** --date YYYY-MM-DD or --date=YYYY-MM-DD; anything else is a usage error. */
export function parseArgs(argv: string[]): { date: string } | { error: string } {
  let date: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--date') date = argv[++i];
    else if (arg.startsWith('--date=')) date = arg.slice('--date='.length);
    else return { error: `unknown argument ${arg}` };
  }
  if (!date) return { error: '--date is required' };
  return { date };
}

/**
 * `npm run reconcile`: reconciles one day in a booted app, prints the report on stdout and an
 * ERROR line per discrepancy on stderr, and answers the process exit code.
 */
export async function runReconcileCommand(app: Application, argv: string[], io: CommandIo): Promise<number> {
  const args = parseArgs(argv);
  if ('error' in args) {
    io.err(`${args.error}\n${USAGE}\n`);
    return EXIT.ERROR;
  }
  const ctx = app.createAnonymousContext();
  let report;
  try {
    report = await ctx.service.reconciliation.reconcile(args.date);
  } catch (err) {
    io.err(`${err instanceof AppError ? err.message : `reconciliation failed: ${(err as Error).message}`}\n${USAGE}\n`);
    return EXIT.ERROR;
  }
  io.out(formatReport(report));
  for (const d of report.discrepancies) io.err(`ERROR reconcile ${report.billDate} ${d.kind} ${d.subject}: ${d.message}\n`);
  if (report.status === 'ERROR') {
    io.err(`ERROR reconcile ${report.billDate}: ${report.error}\n`);
    return EXIT.ERROR;
  }
  return report.status === 'MISMATCH' ? EXIT.MISMATCH : EXIT.OK;
}
