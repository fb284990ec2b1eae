// `graylane demo` runs in a temporary copy of the shop: nothing of it may be left behind when the
// user stops it with Ctrl-C (the real CLI, dist/, as a child process with its own TMPDIR).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN } from './harness.js';
import { signalChild } from '../../src/lib/signal-child.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-demo-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Starts the demo, waits for `seen` in its output, then sends SIGINT (or, with `closeOutput`,
 * stops reading its output, as `| head` does), and resolves when it exited.
 */
async function interruptDemo(env: NodeJS.ProcessEnv, seen: RegExp, how: 'sigint' | 'closeOutput' = 'sigint'): Promise<{ code: number | null; out: string; err: string }> {
  const proc = spawn(process.execPath, [BIN, 'demo', '--port', '0', '--rate', '5'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => void signalChild(proc, 'SIGKILL'));
  let out = '';
  let err = '';
  proc.stderr.on('data', (c: Buffer) => void (err += c.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not print ${seen} within 30 s:\n${out}\n${err}`)), 30_000);
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (seen.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  if (how === 'sigint') signalChild(proc, 'SIGINT');
  else proc.stdout.destroy();
  const code = await exited;
  return { code, out, err };
}

describe('graylane demo', () => {
  it('removes its temporary copy of the shop when stopped with Ctrl-C, and stops the shop', async () => {
    const tmp = tempDir();
    const { code, out } = await interruptDemo({ TMPDIR: tmp, XDG_RUNTIME_DIR: tempDir() }, /v1 is live/);
    expect(out).toContain('interrupted: the shop is stopped');
    expect(code).toBe(130);
    expect(readdirSync(tmp)).toEqual([]);
    const router = /shop {5}(http:\/\/\S+)\//.exec(out)![1]!;
    await expect(fetch(router, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
  }, 60_000);

  it('piped into a reader that goes away (| head): stops the shop, removes its copy and exits 0', async () => {
    const tmp = tempDir();
    const { code, out } = await interruptDemo({ TMPDIR: tmp, XDG_RUNTIME_DIR: tempDir() }, /shop {5}http/, 'closeOutput');
    expect(code).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
    const router = /shop {5}(http:\/\/\S+)\//.exec(out)![1]!;
    await expect(fetch(router, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
  }, 60_000);

  it('still runs, saying so, when it cannot record itself for other terminals', async () => {
    const tmp = tempDir();
    const notADir = join(tempDir(), 'file');
    writeFileSync(notADir, '');
    const { code, out, err } = await interruptDemo({ TMPDIR: tmp, XDG_RUNTIME_DIR: notADir }, /shop {5}http/);
    expect(err).toContain("warning: cannot record the demo's daemon for other terminals (ENOTDIR)");
    expect(out).toContain('GRAYLANE_STATE_DIR=');
    expect(code).toBe(130);
    expect(readdirSync(tmp)).toEqual([]);
  }, 60_000);
});
