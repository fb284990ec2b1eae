import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startExampleServer, type RunningExampleServer } from './example-servers.js';
import { runLoad, type LoadWindow } from './load-generator.js';
import { freePort } from '../../test/fixtures/free-port.js';

let api: RunningExampleServer;
const servers: Server[] = [];

beforeAll(async () => {
  api = await startExampleServer({ name: 'shop/api', env: { VERSION: 'v1' } });
});
afterAll(async () => {
  await api.stop({ signal: 'SIGKILL' });
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('runLoad', () => {
  it('holds its rate, with a window per second and per-x-served-by counts', async () => {
    const windows: LoadWindow[] = [];
    const summary = await runLoad({ url: `${api.url}/api/products`, ratePerSecond: 200, durationMs: 3000, onWindow: (w) => windows.push(w) });
    // The schedule is fixed in advance: exactly rate × duration requests are due.
    expect(summary.sent + summary.dropped).toBe(600);
    expect(summary.dropped).toBe(0);
    expect(summary).toMatchObject({ ok: 600, failed: 0, statusCounts: { 200: 600 }, servedBy: { 'api@v1': 600 } });
    // Catch-up after event-loop stalls keeps the average; a shared 2-core box gets a wide margin.
    expect(summary.achievedRatePerSecond).toBeGreaterThan(200 * 0.8);
    expect(summary.achievedRatePerSecond).toBeLessThan(200 * 1.2);
    expect(windows.map((w) => w.index)).toEqual(windows.map((_, i) => i));
    expect(windows.length).toBeGreaterThanOrEqual(3);
    expect(windows.reduce((n, w) => n + w.sent, 0)).toBe(600);
    expect(windows.reduce((n, w) => n + (w.servedBy['api@v1'] ?? 0), 0)).toBe(600);
    expect(windows[1]!.sent).toBeGreaterThan(200 * 0.5);
    expect(summary.latencyMs.count).toBe(600);
    expect(summary.latencyMs.p99).toBeGreaterThanOrEqual(summary.latencyMs.p50);
    expect(summary.windows).toEqual(windows);
  });

  it('reuses keep-alive connections', async () => {
    let connections = 0;
    const url = await listen(createServer((_req, res) => res.end('ok')).on('connection', () => { connections += 1; }));
    const summary = await runLoad({ url, ratePerSecond: 100, durationMs: 1000 });
    expect(summary.ok).toBe(100);
    expect(connections).toBeLessThan(20);
  });

  it('counts every request as a connection failure when the target is down', async () => {
    const summary = await runLoad({ url: `http://127.0.0.1:${await freePort()}/`, ratePerSecond: 50, durationMs: 1000 });
    expect(summary.sent).toBe(50);
    expect(summary.ok).toBe(0);
    expect(summary.failed).toBe(50);
    expect(summary.failures).toEqual({ connection: 50, timeout: 0, http5xx: 0 });
    expect(summary.windows.reduce((n, w) => n + w.failures.connection, 0)).toBe(50);
  });

  it('counts 5xx answers by reason, and 4xx answers as answered', async () => {
    let n = 0;
    const url = await listen(createServer((_req, res) => {
      n += 1;
      res.writeHead(n % 4 === 0 ? 503 : n % 4 === 1 ? 404 : 200, { 'x-served-by': 'x@v9' });
      res.end();
    }));
    const summary = await runLoad({ url, ratePerSecond: 40, durationMs: 1000 });
    expect(summary).toMatchObject({ sent: 40, ok: 30, failed: 10, failures: { http5xx: 10 }, statusCounts: { 200: 20, 404: 10, 503: 10 }, servedBy: { 'x@v9': 40 } });
  });

  it('times out a target that never answers, and bounds what is in flight', async () => {
    const url = await listen(createServer(() => { /* never answers */ }));
    const summary = await runLoad({ url, ratePerSecond: 20, durationMs: 1000, timeoutMs: 500, maxInFlight: 5 });
    expect(summary.sent + summary.dropped).toBe(20);
    expect(summary.dropped).toBeGreaterThan(0);
    expect(summary.failures.timeout).toBe(summary.sent);
    expect(summary.ok).toBe(0);
  });

  it('sends the method and headers it is given', async () => {
    const seen: string[] = [];
    const url = await listen(createServer((req, res) => { seen.push(`${req.method} ${String(req.headers['x-graylane-release'])}`); res.end(); }));
    await runLoad({ url, ratePerSecond: 10, durationMs: 300, method: 'POST', headers: { 'x-graylane-release': 'canary' } });
    expect(seen).toEqual(['POST canary', 'POST canary', 'POST canary']);
  });

  it('stops early when its signal aborts', async () => {
    const summary = await runLoad({ url: `${api.url}/healthz`, ratePerSecond: 50, durationMs: 60_000, signal: AbortSignal.timeout(500) });
    expect(summary.sent).toBeGreaterThan(0);
    expect(summary.sent).toBeLessThan(60 * 50);
  });

  it.each([
    [{ url: 'nope', ratePerSecond: 1, durationMs: 1 }, 'url: "nope" is not an absolute URL'],
    [{ url: 'ftp://x/', ratePerSecond: 1, durationMs: 1 }, 'url: "ftp://x/" must be http or https'],
    [{ url: 'http://x/', ratePerSecond: 0, durationMs: 1 }, 'ratePerSecond: must be a number > 0, got 0'],
    [{ url: 'http://x/', ratePerSecond: 1, durationMs: -5 }, 'durationMs: must be a number > 0, got -5'],
    [{ url: 'http://x/', ratePerSecond: 1, durationMs: 1, maxInFlight: 0 }, 'maxInFlight: must be a number > 0, got 0'],
    [{ url: 'http://x/', ratePerSecond: 1, durationMs: 1, timeoutMs: Number.NaN }, 'timeoutMs: must be a number > 0, got NaN'],
  ])('refuses %j', async (options, message) => {
    await expect(runLoad(options)).rejects.toThrow(message);
  });
});
