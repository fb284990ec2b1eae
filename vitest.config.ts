import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Conformance suites are functions each adapter's test file runs, not tests of their own.
    exclude: ['**/node_modules/**', '**/dist/**', '**/*.case.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
