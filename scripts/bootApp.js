'use strict';
// The launcher shared by the one-off commands (scripts/reconcile.js, scripts/events.js): boots the
// app in this process (egg.start, single mode: no cluster, no HTTP server) with the scheduler off,
// so no scheduled job runs here, runs the command, closes the app. In production
// (NODE_ENV=production) or with --dist it loads the compiled build in dist/ (npm run build);
// otherwise the TypeScript sources through ts-node (a dev dependency).
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');

/**
 * Runs `scripts/<module>`'s `exportName(app, argv, io)` in a booted app and exits with its code
 * (2, with the message, when it could not run).
 * @param {string} name the command's name, in its messages
 * @param {{ module: string, exportName: string, env?: Record<string, string> }} options the
 *   command's module under scripts/ and its function; env: variables set before the app boots
 */
function runCommand(name, { module, exportName, env = {} }) {
  main(name, module, exportName, env).then(
    code => process.exit(code),
    err => {
      process.stderr.write(`${name}: ${err && err.stack || err}\n`);
      process.exit(2);
    }
  );
}

async function main(name, module, exportName, env) {
  const args = process.argv.slice(2);
  // --dist is this launcher's own flag: the command gets the rest.
  const argv = args.filter(arg => arg !== '--dist');
  const useDist = args.includes('--dist') || process.env.NODE_ENV === 'production' || process.env.EGG_SERVER_ENV === 'prod';
  const baseDir = useDist ? path.join(root, 'dist') : root;
  if (useDist && !fs.existsSync(path.join(baseDir, 'package.json'))) {
    process.stderr.write(`${name}: no build in dist/: run \`npm run build\` first\n`);
    return 2;
  }
  // Egg's loader picks .ts files only under EGG_TYPESCRIPT=true, and refuses them otherwise.
  process.env.EGG_TYPESCRIPT = useDist ? 'false' : 'true';
  if (!useDist) {
    // Type errors are tsc's business (npm run lint); here only the code needs to run.
    require('ts-node').register({ project: path.join(root, 'tsconfig.json'), transpileOnly: true });
  }
  // The command's output is its own; the app's log lines still go to its log files.
  process.env.EGG_LOG = process.env.EGG_LOG || 'NONE';
  // egg-logger's one-time notice about context loggers is not for this command's readers.
  process.env.NO_DEPRECATION = [ process.env.NO_DEPRECATION, 'egg-logger' ].filter(Boolean).join(',');
  Object.assign(process.env, env);

  const egg = require('egg');
  const command = require(path.join(baseDir, 'scripts', module))[exportName];
  const app = await egg.start({
    baseDir,
    ignoreWarning: true,
    // No scheduler in a one-off command (logrotator needs it, so it goes too).
    plugins: { schedule: { enable: false }, logrotator: { enable: false } },
  });
  try {
    return await command(app, argv, {
      out: text => process.stdout.write(text),
      err: text => process.stderr.write(text),
    });
  } finally {
    await app.close();
    await app.agent.close();
  }
}

module.exports = { runCommand };
