#!/usr/bin/env node
/**
 * `npm test`'s last step: every test file, in two vitest processes at once. Vitest gives one
 * worker per core minus one, so on a 2-core CI machine the suite runs file after file and one
 * core idles; the guard's Monte Carlo suite (pure CPU, no sockets or timing, ~100 s) runs on that
 * core beside everything else. Both always run to the end; the exit code is the worse of the two.
 */
import { spawn } from 'node:child_process';
import process from 'node:process';

const STATISTICAL = 'src/analysis/judge/guard.test.ts';
const vitest = (args) =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...args], { stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });

const codes = await Promise.all([vitest([STATISTICAL]), vitest(['--exclude', STATISTICAL])]);
process.exit(Math.max(...codes));
