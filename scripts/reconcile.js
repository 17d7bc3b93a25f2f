#!/usr/bin/env node
'use strict';
// `npm run reconcile -- --date YYYY-MM-DD`: compares one Beijing day of WeChat's bill with our
// payments and refunds, stores the result, prints the report. Exit code 0: everything matches
// (or no bill and nothing of ours that day); 1: mismatch; 2: could not reconcile, or bad usage.
//
// It boots the app in this process (egg.start, single mode: no cluster, no HTTP server) with the
// scheduler off, so no scheduled job runs here. In production (NODE_ENV=production) or with
// --dist it loads the compiled build in dist/ (npm run build); otherwise the TypeScript sources
// through ts-node (a dev dependency). The launcher is scripts/bootApp.js.
const { runCommand } = require('./bootApp');

runCommand('reconcile', { module: 'reconcileCommand', exportName: 'runReconcileCommand' });
