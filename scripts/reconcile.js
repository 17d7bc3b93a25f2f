#!/usr/bin/env node
'use strict';
// `npm run reconcile -- --date YYYY-MM-DD`: compares one Beijing day of WeChat's bill with our
// payments and refunds, stores the result, prints the report. Exit code 0: everything matches
// (or no bill and nothing of ours that day); 1: mismatch; 2: could not reconcile, or bad usage.
//
// It boots the app in this process (egg.start, single mode: no cluster, no HTTP server) with the
// scheduler off, so no scheduled job runs here. In production (NODE_ENV=production) or with
// --dist it loads the compiled build in dist/ (npm run build); otherwise the TypeScript sources
// through ts-node (a dev dependency).
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const args = process.argv.slice(2);
// --dist is this script's own flag: the command (scripts/reconcileCommand.ts) gets the rest.
const argv = args.filter(arg => arg !== '--dist');
const useDist = args.includes('--dist') || process.env.NODE_ENV === 'production' || process.env.EGG_SERVER_ENV === 'prod';
const baseDir = useDist ? path.join(root, 'dist') : root;

async function main() {
  if (useDist && !fs.existsSync(path.join(baseDir, 'package.json'))) {
    process.stderr.write('reconcile: no build in dist/: run `npm run build` first\n');
    return 2;
  }
  // Egg's loader picks .ts files only under EGG_TYPESCRIPT=true, and refuses them otherwise.
  process.env.EGG_TYPESCRIPT = useDist ? 'false' : 'true';
  if (!useDist) {
    // Type errors are tsc's business (npm run lint); here only the code needs to run.
    require('ts-node').register({ project: path.join(root, 'tsconfig.json'), transpileOnly: true });
  }
  // The report is this command's output; the app's log lines still go to its log files.
  process.env.EGG_LOG = process.env.EGG_LOG || 'NONE';
  // egg-logger's one-time notice about context loggers is not for this command's readers.
  process.env.NO_DEPRECATION = [ process.env.NO_DEPRECATION, 'egg-logger' ].filter(Boolean).join(',');

  const egg = require('egg');
  const { runReconcileCommand } = require(path.join(baseDir, 'scripts/reconcileCommand'));
  const app = await egg.start({
    baseDir,
    ignoreWarning: true,
    // No scheduler in a one-off command (logrotator needs it, so it goes too).
    plugins: { schedule: { enable: false }, logrotator: { enable: false } },
  });
  let code;
  try {
    code = await runReconcileCommand(app, argv, {
      out: text => process.stdout.write(text),
      err: text => process.stderr.write(text),
    });
  } finally {
    await app.close();
    await app.agent.close();
  }
  return code;
}

main().then(
  code => process.exit(code),
  err => {
    process.stderr.write(`reconcile: ${err && err.stack || err}\n`);
    process.exit(2);
  }
);
