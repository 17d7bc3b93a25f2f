#!/usr/bin/env node
'use strict';
// `npm run events -- list [--status pending|delivered|dead] [--order <outTradeNo>] [--after N] [--limit N]`
// `npm run events -- replay <eventId>` | `npm run events -- replay --from <ISO> --to <ISO> [--status dead,delivered]`
// The operator's controls of the event outbox (docs/events.md). Exit code 0: done; 1: not found or
// refused; 2: bad usage or failure.
//
// Like scripts/reconcile.js it boots the app in this process (single mode, no HTTP server, no
// scheduler; scripts/bootApp.js) and with the outbox relay off: the running service delivers what
// is replayed.
const { runCommand } = require('./bootApp');

runCommand('events', {
  module: 'eventsCommand',
  exportName: 'runEventsCommand',
  // This command never delivers: the service's relays do.
  env: { OUTBOX_RELAY_ENABLED: 'false' },
});
