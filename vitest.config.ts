import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Conformance suites are functions each adapter's test file runs, not tests of their own.
    exclude: ['**/node_modules/**', '**/dist/**', '**/*.case.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // One file more than there are cores (vitest's default on two cores is one): most of a file's
    // time is spent waiting on child processes, servers, browsers and timers, not on the CPU. Two at
    // a time took 951 s on two cores once the console's browser tests and the router's processes
    // came; CI must stay under 20 minutes.
    maxWorkers: availableParallelism() + 1,
  },
});
