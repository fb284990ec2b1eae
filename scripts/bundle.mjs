#!/usr/bin/env node
// Bundles the programs graylane runs as long-lived processes (the CLI, which is also the daemon
// and the Kubernetes controller, and the router's supervisor and worker) from tsc's output in
// dist/ into dist/bundle/. Loading some 700 ES modules one by one costs each process its own
// module records and sources: a daemon carried ~16 MB more anonymous memory than from the bundle
// (the closing note of the session that added this has the measurement). The shared code is split
// into chunks, so what a command loads lazily (Kubernetes, the console) stays lazy.
// Usage: node scripts/bundle.mjs (run by `npm run build`, after tsc).
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { commonJsImportProblems } from './bundle-check.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const outdir = join(dist, 'bundle');

rmSync(outdir, { recursive: true, force: true });
try {
  await build({
    absWorkingDir: root,
    entryPoints: {
      main: join(dist, 'cli/main.js'),
      // Their names are what supervisor-control.ts and supervisor-main.ts look for beside them.
      'supervisor-main': join(dist, 'router/control/supervisor/supervisor-main.js'),
      'worker-main': join(dist, 'router/control/supervisor/worker-main.js'),
    },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // A native addon: loaded from node_modules at run time.
    external: ['better-sqlite3'],
    // CommonJS dependencies call require(); in an ES module it has to be made.
    banner: { js: "import { createRequire as __graylaneCreateRequire } from 'node:module'; const require = __graylaneCreateRequire(import.meta.url);" },
    minifyWhitespace: true,
    minifySyntax: true,
    // Two modules' classes of the same name would otherwise be renamed apart, and error classes
    // and log lines read `.name`.
    keepNames: true,
    legalComments: 'eof',
    // Back to src/*.ts through tsc's maps. Read only by a node run with --enable-source-maps: a
    // stack trace from the bundle then names graylane's own files and lines; without the flag
    // node never opens them. The sources stay in the repository, not in the maps.
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'warning',
  });
} catch (err) {
  // esbuild has printed the errors with their file and line.
  process.stderr.write(`bundle: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n`);
  process.exit(1);
}

const problems = commonJsImportProblems(outdir);
for (const problem of problems) process.stderr.write(`bundle: dist/bundle/${problem}\n`);
if (problems.length > 0) process.exit(1);
