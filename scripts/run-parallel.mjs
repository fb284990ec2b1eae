#!/usr/bin/env node
// Runs npm scripts side by side (CI has two cores and type-checking, lint and build are each
// single-threaded), prints each one's output whole when it ends so logs do not interleave, and
// fails if any failed. Usage: node scripts/run-parallel.mjs typecheck lint build
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import process from 'node:process';

const names = process.argv.slice(2);
if (names.length === 0) {
  process.stderr.write('usage: node scripts/run-parallel.mjs <npm script>...\n');
  process.exit(2);
}

const runs = names.map((name) => new Promise((resolve) => {
  const started = Date.now();
  const child = spawn('npm', ['run', '--silent', name], { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks = [];
  child.stdout.on('data', (c) => chunks.push(c));
  child.stderr.on('data', (c) => chunks.push(c));
  child.on('error', (err) => chunks.push(Buffer.from(`${String(err)}\n`)));
  child.on('close', (code, signal) => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const ok = code === 0;
    process.stdout.write(`── ${name}: ${ok ? 'ok' : `failed (${signal ?? `exit ${String(code)}`})`} in ${seconds} s\n`);
    if (!ok || chunks.length > 0) process.stdout.write(Buffer.concat(chunks));
    resolve(ok);
  });
}));

const results = await Promise.all(runs);
process.exit(results.every(Boolean) ? 0 : 1);
