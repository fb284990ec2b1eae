import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleServer, type RunningExampleServer } from './example-servers.js';
import { parseLoadWorkerArgs } from './load-worker.js';
import { signalChild } from '../lib/signal-child.js';

const worker = fileURLToPath(new URL('./load-worker.ts', import.meta.url));
let api: RunningExampleServer;

beforeAll(async () => {
  api = await startExampleServer({ name: 'shop/api', env: { VERSION: 'v2' } });
});
afterAll(async () => {
  await api.stop({ signal: 'SIGKILL' });
});

/**
 * Runs the worker as its own process; optionally sends SIGTERM `signalAfterMs` after its first
 * line (it is running then: a loaded machine can take longer than that just to start it).
 */
function runWorker(args: string[], signalAfterMs?: number): Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', worker, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      if (signalAfterMs !== undefined && stdout === '') setTimeout(() => signalChild(child, 'SIGTERM'), signalAfterMs);
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code, stderr, lines: stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) });
    });
  });
}

describe('load-worker process', () => {
  it('streams a JSON line per second and a final summary', async () => {
    const { code, lines, stderr } = await runWorker(['--url', `${api.url}/api/products`, '--rps', '100', '--duration-ms', '2500', '--header', 'x-test: yes']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const windows = lines.filter((l) => l.type === 'window');
    const summary = lines.at(-1)!;
    expect(summary.type).toBe('summary');
    expect(lines.filter((l) => l.type === 'summary')).toHaveLength(1);
    expect(windows.length).toBeGreaterThanOrEqual(3);
    expect(windows.map((w) => w.index)).toEqual(windows.map((_, i) => i));
    expect(summary).toMatchObject({ sent: 250, ok: 250, failed: 0, dropped: 0, servedBy: { 'api@v2': 250 }, windows: windows.length });
    expect(windows.reduce((n, w) => n + (w.sent as number), 0)).toBe(250);
  });

  it('prints its summary when stopped early with SIGTERM', async () => {
    const { code, lines } = await runWorker(['--url', `${api.url}/healthz`, '--rps', '50', '--duration-ms', '60000'], 500);
    expect(code).toBe(0);
    const summary = lines.at(-1)!;
    expect(summary.type).toBe('summary');
    expect(summary.sent as number).toBeGreaterThan(0);
    expect(summary.sent as number).toBeLessThan(50 * 60);
  });

  it('exits 2 with the reason on bad arguments', async () => {
    const { code, lines, stderr } = await runWorker(['--url', `${api.url}/`, '--rps', 'fast', '--duration-ms', '100']);
    expect(code).toBe(2);
    expect(lines).toEqual([]);
    expect(stderr).toBe('load-worker: --rps: must be a number > 0, got "fast"\n');
  });
});

describe('parseLoadWorkerArgs', () => {
  it('reads every flag', () => {
    expect(parseLoadWorkerArgs(['--url', 'http://h:1/x', '--rps', '300', '--duration-ms', '10000', '--header', 'a: b:c', '--header', 'X-Y:z',
      '--timeout-ms', '2000', '--max-in-flight', '50', '--method', 'post'])).toEqual({
      url: 'http://h:1/x', ratePerSecond: 300, durationMs: 10000, headers: { a: 'b:c', 'x-y': 'z' }, timeoutMs: 2000, maxInFlight: 50, method: 'POST',
    });
  });

  it.each([
    [['--rps', '1', '--duration-ms', '1'], '--url is required'],
    [['--url', 'http://h/', '--duration-ms', '1'], '--rps is required'],
    [['--url', 'http://h/', '--rps', '1'], '--duration-ms is required'],
    [['--url', 'http://h/', '--rps', '1', '--duration-ms', '0'], '--duration-ms: must be a number > 0, got "0"'],
    [['--url', 'http://h/', '--rps', '1', '--duration-ms', '1', '--header', 'nocolon'], '--header: "nocolon" is not name:value'],
    [['--url', 'h', '--rps', '1', '--duration-ms', '1'], 'url: "h" is not an absolute URL'],
    [['--url', 'http://h/', '--rps', '1', '--duration-ms', '1', '--bogus'], "Unknown option '--bogus'"],
  ])('refuses %j', (argv, message) => {
    expect(() => parseLoadWorkerArgs(argv)).toThrow(message);
  });
});
