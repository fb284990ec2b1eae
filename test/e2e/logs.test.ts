/**
 * `graylane logs` against a real daemon: --tail and --since, a log of hundreds of MB streamed
 * whole in bounded daemon memory, and a stream that fails is reported, never passed off as whole.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, cli, startDaemon, stopDaemon, waitFor, writeApp, type Daemon } from './harness.js';
import type { ServiceView } from '../../src/controller/view-model.js';
import { signalChild } from '../../src/lib/signal-child.js';

let d: Daemon;
let dir: string;
const MiB = 1024 * 1024;

/** Logs of instances the daemon no longer runs (retired ones), written as the runtime would have. */
function retiredLog(revision: string, instance: string, lines: string[], ageMs = 0): string {
  const dir = join(d.stateDir, 'logs', 'app', revision);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${instance}.log`);
  writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
  if (ageMs) utimesSync(file, new Date(Date.now() - ageMs), new Date(Date.now() - ageMs));
  return file;
}

function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+([0-9]+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

beforeAll(async () => {
  dir = appDir();
  const file = writeApp(dir, { version: 'v1', replicas: 1, strategy: '      canary:\n        steps: [{setWeight: 50}]' });
  // A second app that writes 512 KiB at start, in one write, against a cap of 2 × 64 KiB set in the
  // App file. One write: written as 512 lines, the rotations could keep pace with it, and the last
  // one (a clean copy into .1) then shifted the earlier marker out of the kept files.
  writeFileSync(join(dir, 'chatty.mjs'), `import { createServer } from 'node:http';
const line = 'z'.repeat(1023);
console.log(Array.from({ length: 512 }, () => line).join('\\n'));
createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`);
  writeFileSync(file, `${readFileSync(file, 'utf8')}  - name: chatty
    pathPrefix: /chatty
    replicas: 1
    process:
      command: [node, chatty.mjs]
  logs: {maxFileBytes: 65536, keepFiles: 1, retention: 1h}
`);
  d = await startDaemon(dir);
  await waitFor(async () => (JSON.parse((await cli(d.stateDir, ['status', 'app', '--json'])).out) as ServiceView).phase === 'Healthy', 20_000, 'v1 healthy');
}, 30_000);
afterAll(async () => {
  await stopDaemon(d);
});

describe('graylane logs', () => {
  it('spec.logs sets the cap: a chatty app\'s log is rotated at its size and stays under it', async () => {
    const dir = join(d.stateDir, 'logs', 'chatty');
    const files = () => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
    const total = () => files().reduce((a, f) => a + statSync(f).size, 0);
    // 512 KiB written, at most 2 × 64 KiB kept, plus a marker line saying what was dropped. Whether a
    // tail was copied into `.1` first depends on how much of the write rotation saw; either way the
    // marker stays, as the app writes nothing after.
    await waitFor(() => existsSync(dir) && files().some((f) => /graylane: [0-9]+ bytes of log dropped/.test(readFileSync(f, 'utf8'))), 20_000, 'chatty log rotated, saying what it dropped');
    await waitFor(() => total() <= 2 * 65536 + 200, 10_000, 'chatty log under its cap');
  });

  it('--tail N prints the last N lines of each instance, --since the recent ones', async () => {
    retiredLog('r-tail', 'older-1', Array.from({ length: 100 }, (_, i) => `older ${i}`), 3_600_000);
    retiredLog('r-tail', 'newer-1', Array.from({ length: 100 }, (_, i) => `newer ${i}`));
    const tail = await cli(d.stateDir, ['logs', 'app', '--revision', 'r-tail', '--tail', '2']);
    expect(tail.err).toBe('');
    expect(tail.out.trim().split('\n').sort()).toEqual(['[newer-1] newer 98', '[newer-1] newer 99', '[older-1] older 98', '[older-1] older 99']);
    const recent = await cli(d.stateDir, ['logs', 'app', '--revision', 'r-tail', '--since', '10m']);
    expect(recent.out.trim().split('\n')).toEqual(Array.from({ length: 100 }, (_, i) => `[newer-1] newer ${i}`));
    const since = await cli(d.stateDir, ['logs', 'app', '--revision', 'r-tail', '--since', new Date(Date.now() - 2 * 3_600_000).toISOString(), '--tail', '1']);
    expect(since.out.trim().split('\n').sort()).toEqual(['[newer-1] newer 99', '[older-1] older 99']);
    const bad = await cli(d.stateDir, ['logs', 'app', '--since', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--since must be a duration such as 10m');
    expect((await cli(d.stateDir, ['logs', 'app', '--tail', 'lots'])).code).toBe(2);
    const unknown = await cli(d.stateDir, ['logs', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('no service "nope"');
  });

  it('the API refuses a bad tail or since, and a revision cannot reach outside the service\'s logs', async () => {
    const token = readFileSync(join(d.stateDir, 'token'), 'utf8').trim();
    const get = (query: string) => fetch(`${d.info.apiUrl}/v1/services/app/logs?${query}`, { headers: { authorization: `Bearer ${token}` } });
    const tail = await get('tail=-1');
    expect(tail.status).toBe(400);
    expect(((await tail.json()) as { error: { message: string } }).error.message).toContain('tail must be a number of lines');
    const since = await get('since=yesterday');
    expect(since.status).toBe(400);
    expect(((await since.json()) as { error: { message: string } }).error.message).toContain('since must be a time');
    retiredLog('r-tail', 'secret-1', ['not for other services']);
    const escape = await get(`revision=${encodeURIComponent('../app/r-tail')}`);
    expect(escape.status).toBe(200);
    expect(await escape.text()).toBe('');
  });

  it('streams a 320 MB log whole, to a client that pauses too, while the daemon\'s memory stays far below its size', async () => {
    const dir = join(d.stateDir, 'logs', 'app', 'r-big');
    mkdirSync(dir, { recursive: true });
    const line = `${'y'.repeat(1017)}\n`;
    const block = Buffer.from(Array.from({ length: 1024 }, (_, i) => `${String(i).padStart(6, '0')}${line}`).join(''));
    const blocks = 320;
    const fd = openSync(join(dir, 'big-1.log'), 'w');
    for (let i = 0; i < blocks; i += 1) writeSync(fd, block);
    writeSync(fd, 'the end\n');
    closeSync(fd);
    const pid = d.proc.pid!;
    const before = rssBytes(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 50);
    const token = readFileSync(join(d.stateDir, 'token'), 'utf8').trim();
    let bytes = 0;
    let tail = '';
    let pausedPeak = 0;
    try {
      const res = await fetch(`${d.info.apiUrl}/v1/services/app/logs?revision=r-big`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      let paused = false;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        bytes += chunk.length;
        tail = (tail + Buffer.from(chunk).toString('latin1')).slice(-64);
        if (!paused) {
          // A client that stops reading: the daemon must wait for it, not read ahead into memory.
          paused = true;
          await new Promise((r) => setTimeout(r, 1_500));
          pausedPeak = peak;
        }
      }
    } finally {
      clearInterval(sampler);
    }
    // Every line, each with its "[big-1] " prefix, and the last one.
    const prefix = '[big-1] '.length;
    expect(bytes).toBe(blocks * block.length + blocks * 1024 * prefix + 'the end\n'.length + prefix);
    expect(tail.endsWith('[big-1] the end\n')).toBe(true);
    expect(pausedPeak - before, `daemon RSS grew by ${((pausedPeak - before) / MiB).toFixed(0)} MiB while the client did not read`).toBeLessThan(64 * MiB);
    const growth = peak - before;
    console.log(`logs: streamed ${(bytes / MiB).toFixed(0)} MiB; daemon RSS ${(before / MiB).toFixed(0)} → peak ${(peak / MiB).toFixed(0)} MiB`);
    expect(growth, `daemon RSS grew by ${(growth / MiB).toFixed(0)} MiB`).toBeLessThan(64 * MiB);
  }, 120_000);

  it('a stream that fails midway ends in an error the CLI reports, not in a short success', async () => {
    retiredLog('r-broken', 'fine-1', ['a line', 'another line']);
    // A log that cannot be read: the daemon fails while streaming, after the first file went out.
    await new Promise((r) => setTimeout(r, 20));
    mkdirSync(join(d.stateDir, 'logs', 'app', 'r-broken', 'unreadable-1.log'));
    const r = await cli(d.stateDir, ['logs', 'app', '--revision', 'r-broken']);
    expect(r.out).toContain('[fine-1] another line');
    expect(r.err).toContain('the log stream from the daemon broke off before its end');
    expect(r.code).toBe(1);
    rmSync(join(d.stateDir, 'logs', 'app', 'r-broken'), { recursive: true });
  });

  it('logs -f says the daemon went away (exit 3) when it dies mid-stream; the app keeps running', async () => {
    const following = cli(d.stateDir, ['logs', 'app', '-f', '--tail', '1']);
    await new Promise((r) => setTimeout(r, 500));
    signalChild(d.proc, 'SIGKILL');
    await new Promise((r) => d.proc.once('exit', r));
    const r = await following;
    expect(r.err).toMatch(/the graylane daemon at http:\/\/127\.0\.0\.1:[0-9]+ \(pid [0-9]+\) went away/);
    expect(r.code).toBe(3);
    // A new daemon re-adopts the app (and stops it at the end of the file).
    d = await startDaemon(dir);
    // The banner is printed in several writes: wait for its adoption line rather than read it half-way.
    await waitFor(() => d.output().includes('re-adopted 2 running instance(s)'), 10_000, 'the banner saying both instances were re-adopted');
  }, 30_000);
});
