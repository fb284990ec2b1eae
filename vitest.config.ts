import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

/** The newest modification time of the non-test TypeScript sources under dir, ms. */
function newestSourceMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMs(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

// The router supervisor runs its own processes; started from sources each goes through tsx, which
// costs seconds per test. `npm test` builds first, so dist/ is fresh there; after an edit without a
// build it is not, and the sources are used.
const supervisorMain = join(import.meta.dirname, 'dist/bundle/supervisor-main.js');
const distFresh = existsSync(supervisorMain) && statSync(supervisorMain).mtimeMs > newestSourceMs(join(import.meta.dirname, 'src'));

// Daemons the tests start record themselves in a registry of their own, never the user's: one a
// test kills keeps its entry while its state dir lasts, and the user's next `graylane status`
// would name it (src/api/daemon-registry.ts). Tests of the registry set their own.
const testRuntimeDir = join(tmpdir(), `graylane-test-runtime-${process.getuid?.() ?? 'user'}`);
mkdirSync(testRuntimeDir, { recursive: true, mode: 0o700 });

// Everything the tests write to the temporary directory (app copies, state dirs, logs: thousands of
// directories per run, ~10 GB piled up on one machine) goes under one directory per run, which
// test/global-setup.ts removes when the run ends.
// This file is read once per project: the first reading makes the directory, the others take it.
// Others may pass through it, as through /tmp: nginx's workers run as nobody under a root test run.
const testTmpDir = (process.env.GRAYLANE_TEST_TMPDIR ??= mkdtempSync(join(tmpdir(), 'graylane-tests-')));
chmodSync(testTmpDir, 0o711);

// Files that run a daemon, a controller or a browser in the test process itself, with real time:
// each gets a fresh process, so that nothing an earlier file left running (a timer, a socket) can
// slow the event loop their probes and deadlines are measured on. The log burst test measures how
// far a file outruns its cap while this process's event loop keeps up with a 1 GB/s writer: in a
// shared process it measured 122 MiB where it measures 13-43 MiB alone.
const ownProcess = [
  'test/controller/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/kube/**/*.test.ts', 'test/console/**/*.test.ts',
  'src/runtime/process/log-burst.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two files at a time even on two cores (vitest's default there is one): most of a file's time
    // is spent waiting on child processes, servers and timers, not on the CPU.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    globalSetup: ['test/global-setup.ts'],
    env: { TMPDIR: testTmpDir, XDG_RUNTIME_DIR: testRuntimeDir, ...(distFresh ? { GRAYLANE_SUPERVISOR_MAIN: supervisorMain } : {}) },
    projects: [
      {
        extends: true,
        test: {
          name: 'shared-process',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          // Conformance suites are functions each adapter's test file runs, not tests of their own.
          exclude: ['**/node_modules/**', '**/dist/**', '**/*.case.test.ts', ...ownProcess],
          // A worker process is reused across files: a fresh process and module graph per file
          // cost three times the tests' own time for the small ones (20 s → 6.5 s for the pure core).
          isolate: false,
        },
      },
      {
        extends: true,
        test: { name: 'own-process', include: ownProcess, exclude: ['**/*.case.test.ts'], isolate: true },
      },
      {
        // The router's behaviour suites once more with the fast path off (src/router/server/):
        // node:http's server side serves every request then, as it serves what the fast path leaves.
        extends: true,
        test: {
          name: 'router-node-path',
          include: ['src/router/router.*.test.ts', 'src/router/upgrade.test.ts'],
          env: { GRAYLANE_ROUTER_FAST_PATH: '0' },
          isolate: false,
        },
      },
    ],
  },
});
