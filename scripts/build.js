#!/usr/bin/env node
'use strict';
// `npm run build`: compiles the service to JavaScript in dist/, which `npm start` runs with
// egg-scripts. Compiling to a separate directory keeps .js files out of the source tree (Egg
// refuses to load an app/x.js beside app/x.ts) and keeps ts-node out of production.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');
const bin = name => path.join(root, 'node_modules', '.bin', name);

function run(cmd, args) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (res.status !== 0) {
    console.error(`build: ${path.basename(cmd)} ${args.join(' ')} failed`);
    process.exit(res.status || 1);
  }
}

fs.rmSync(dist, { recursive: true, force: true });
// Typings of app.model, app.redis, services... (git-ignored, generated from the sources).
run(bin('ets'), []);
run(bin('tsc'), [ '-p', 'tsconfig.build.json' ]);

// The compiled app's own package.json: Egg reads its name and loads plain JavaScript
// (egg.typescript false, so no ts-node); egg-scripts loads source maps for .ts stack traces.
const pkg = require(path.join(root, 'package.json'));
const distPkg = {
  name: pkg.name,
  version: pkg.version,
  private: true,
  description: `${pkg.description} (compiled by npm run build)`,
  egg: { typescript: false },
  eggScriptsConfig: { sourcemap: true },
};
// The operator console's page and files (plain JavaScript, served as they are: docs/console.md).
fs.cpSync(path.join(root, 'console'), path.join(dist, 'console'), { recursive: true });
fs.writeFileSync(path.join(dist, 'package.json'), `${JSON.stringify(distPkg, null, 2)}\n`);
console.log(`build: compiled to ${path.relative(root, dist)}/`);
