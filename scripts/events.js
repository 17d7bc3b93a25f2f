#!/usr/bin/env node
'use strict';
// `npm run events -- list [--status pending|delivered|dead] [--order <outTradeNo>] [--after N] [--limit N]`
// `npm run events -- replay <eventId>` | `npm run events -- replay --from <ISO> --to <ISO> [--status dead,delivered]`
// The operator's controls of the event outbox (docs/events.md). Exit code 0: done; 1: not found or
// refused; 2: bad usage or failure.
//
// Like scripts/reconcile.js it boots the app in this process (single mode, no HTTP server, no
// scheduler) and with the outbox relay off: the running service delivers what is replayed.
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const args = process.argv.slice(2);
const argv = args.filter(arg => arg !== '--dist');
const useDist = args.includes('--dist') || process.env.NODE_ENV === 'production' || process.env.EGG_SERVER_ENV === 'prod';
const baseDir = useDist ? path.join(root, 'dist') : root;

async function main() {
  if (useDist && !fs.existsSync(path.join(baseDir, 'package.json'))) {
    process.stderr.write('events: no build in dist/: run `npm run build` first\n');
    return 2;
  }
  process.env.EGG_TYPESCRIPT = useDist ? 'false' : 'true';
  if (!useDist) require('ts-node').register({ project: path.join(root, 'tsconfig.json'), transpileOnly: true });
  process.env.EGG_LOG = process.env.EGG_LOG || 'NONE';
  process.env.NO_DEPRECATION = [ process.env.NO_DEPRECATION, 'egg-logger' ].filter(Boolean).join(',');
  // This command never delivers: the service's relays do.
  process.env.OUTBOX_RELAY_ENABLED = 'false';

  const egg = require('egg');
  const { runEventsCommand } = require(path.join(baseDir, 'scripts/eventsCommand'));
  const app = await egg.start({
    baseDir,
    ignoreWarning: true,
    plugins: { schedule: { enable: false }, logrotator: { enable: false } },
  });
  let code;
  try {
    code = await runEventsCommand(app, argv, {
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
    process.stderr.write(`events: ${err && err.stack || err}\n`);
    process.exit(2);
  }
);
