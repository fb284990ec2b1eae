/** Removes the run's temporary directory (see vitest.config.ts) once every test file is done. */
import { rmSync } from 'node:fs';

export function teardown(): void {
  const dir = process.env.GRAYLANE_TEST_TMPDIR;
  // To look at what a failing test left (its state dir, its logs): GRAYLANE_KEEP_TEST_TMP=1.
  if (dir && process.env.GRAYLANE_KEEP_TEST_TMP === '1') {
    console.log(`kept the tests' temporary files in ${dir}`);
    return;
  }
  // A process a test left behind may still be writing in it: retried, and never a reason to fail the run.
  if (!dir) return;
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  } catch (err) {
    console.warn(`could not remove the tests' temporary files in ${dir}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
