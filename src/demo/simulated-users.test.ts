import { createServer, request, Agent, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleServer, type RunningExampleServer } from './example-servers.js';
import { missingProductFields, parseAssetUrls, parseMeta, runSimulatedUsers, type PageLoadResult } from './simulated-users.js';

interface Pair { web: RunningExampleServer; api: RunningExampleServer }

const servers: RunningExampleServer[] = [];
const proxies: Server[] = [];
const upstreamAgent = new Agent({ keepAlive: true });
let v1: Pair;
let v2: Pair;
let v3: Pair;

async function startPair(env: Record<string, string>): Promise<Pair> {
  const [web, api] = await Promise.all([startExampleServer({ name: 'shop/web', env }), startExampleServer({ name: 'shop/api', env })]);
  servers.push(web, api);
  return { web, api };
}

/** A tiny reverse proxy: `/api…` to the pair's api, the rest to its web; `choose` picks the pair. */
async function startProxy(choose: (req: IncomingMessage) => { pair: Pair; setCookie?: string }): Promise<string> {
  const proxy = createServer((req, res) => {
    const { pair, setCookie } = choose(req);
    const target = req.url?.startsWith('/api') ? pair.api : pair.web;
    const upstream = request(
      { host: '127.0.0.1', port: target.port, path: req.url, method: req.method, headers: req.headers, agent: upstreamAgent },
      (up) => {
        const headers = { ...up.headers };
        if (setCookie) headers['set-cookie'] = [...(headers['set-cookie'] ?? []), setCookie];
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(upstream);
  });
  proxies.push(proxy);
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  [v1, v2, v3] = await Promise.all([startPair({ VERSION: 'v1' }), startPair({ VERSION: 'v2' }), startPair({ VERSION: 'v3', FAIL_RATE: '0.2' })]);
});
afterAll(async () => {
  for (const p of proxies) p.close();
  upstreamAgent.destroy();
  await Promise.all(servers.map((s) => s.stop({ signal: 'SIGKILL' })));
});

describe('runSimulatedUsers', () => {
  it('sees no error at all against one version', async () => {
    const baseUrl = await startProxy(() => ({ pair: v1 }));
    const results: PageLoadResult[] = [];
    // One page load per user, so that none is left half-way for a newer one (counted below).
    // Room for all 60 at once: the default cap of 32 sheds page loads whenever pages take over
    // 0.8 s (32 at 40/s) or a stalled event loop starts a backlog at once, which a busy machine
    // does (seen: 32 of 60 started, the rest skipped). Shedding has its own test; this one is
    // about errors.
    const report = await runSimulatedUsers({ baseUrl, pageLoadsPerSecond: 40, durationMs: 1500, users: 60, maxConcurrentPageLoads: 60, onResult: (r) => results.push(r) });
    expect(report.pageLoads).toBe(60);
    expect(report.leftPageLoads).toBe(0);
    expect(report.skippedPageLoads).toBe(0);
    // Each page load: the page, two assets, three API calls.
    expect(report.requests).toBe(60 * 6);
    expect(report).toMatchObject({ failedRequests: 0, assetNotFound: 0, versionMismatches: 0, contractErrors: 0, otherClientErrors: 0, pageLoadsWithProblems: 0 });
    expect(report.servedBy).toEqual({ 'web@v1': 180, 'api@v1': 180 });
    expect(report.pageVersions).toEqual({ v1: 60 });
    expect(report.latencyMs.count).toBe(360);
    expect(report.latencyMs.p99).toBeGreaterThan(0);
    expect(results).toHaveLength(60);
    expect(results.every((r) => r.ok && r.pageVersion === 'v1')).toBe(true);
  });

  it('counts asset 404s, version mismatches and contract errors when requests alternate between v1 and v2', async () => {
    // A seeded coin per request: strict alternation would line up with the six requests of a
    // page load and serve every page from the same side.
    let seed = 42;
    const coin = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) >> 16) % 2 === 0;
    const baseUrl = await startProxy(() => ({ pair: coin() ? v1 : v2 }));
    const report = await runSimulatedUsers({ baseUrl, pageLoadsPerSecond: 30, durationMs: 2000, maxConcurrentPageLoads: 1000 });
    expect(report.pageLoads).toBe(60);
    expect(report.failedRequests).toBe(0);
    expect(report.assetNotFound).toBeGreaterThan(0);
    expect(report.versionMismatches).toBeGreaterThan(0);
    // Only v2 pages need price.currency; some of them reached the v1 API.
    expect(report.contractErrors).toBeGreaterThan(0);
    expect(report.contractErrors).toBeLessThanOrEqual(report.pageVersions.v2 ?? 0);
    expect(Object.keys(report.servedBy).sort()).toEqual(['api@v1', 'api@v2', 'web@v1', 'web@v2']);
    expect(report.pageLoadsWithProblems).toBeGreaterThan(0);
  });

  it('keeps each user on one side when the proxy pins by cookie: its cookies are kept and sent', async () => {
    let assigned = 0;
    const baseUrl = await startProxy((req) => {
      const pin = /(?:^|;\s*)pin=(v1|v2)/.exec(req.headers.cookie ?? '')?.[1];
      if (pin) return { pair: pin === 'v1' ? v1 : v2 };
      const side = assigned++ % 2 === 0 ? 'v1' : 'v2';
      return { pair: side === 'v1' ? v1 : v2, setCookie: `pin=${side}; Path=/; Max-Age=600` };
    });
    // One page load per user at a time: the first one is what pins the user.
    const report = await runSimulatedUsers({ baseUrl, pageLoadsPerSecond: 20, durationMs: 2000, users: 4, maxConcurrentPageLoads: 1 });
    expect(report.pageLoads).toBeGreaterThan(0);
    expect(report).toMatchObject({ failedRequests: 0, assetNotFound: 0, versionMismatches: 0, contractErrors: 0 });
    expect(Object.keys(report.pageVersions).sort()).toEqual(['v1', 'v2']);
  });

  it('skips and counts page loads due while maxConcurrentPageLoads are under way', async () => {
    // Pages answered after a second: the first two are still under way when the other eight fall
    // due, whatever the machine's load (a stalled loop only starts the backlog later, at once).
    const slow = createServer((_req, res) => { setTimeout(() => res.end('<html></html>'), 1000); });
    proxies.push(slow);
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const { port } = slow.address() as AddressInfo;
    const report = await runSimulatedUsers({ baseUrl: `http://127.0.0.1:${port}`, pageLoadsPerSecond: 20, durationMs: 500, apiCallsPerPage: 0, maxConcurrentPageLoads: 2 });
    expect(report).toMatchObject({ pageLoads: 2, skippedPageLoads: 8, failedRequests: 0 });
  });

  it('counts 5xx answers of a broken version as failed requests', async () => {
    const baseUrl = await startProxy(() => ({ pair: v3 }));
    const report = await runSimulatedUsers({ baseUrl, pageLoadsPerSecond: 20, durationMs: 1500 });
    expect(report.failedRequests).toBeGreaterThan(0);
    expect(report.failures.http5xx).toBe(report.failedRequests);
    expect(report.pageLoadsWithProblems).toBeGreaterThan(0);
  });

  it('counts connection errors when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const report = await runSimulatedUsers({ baseUrl: `http://127.0.0.1:${port}`, pageLoadsPerSecond: 10, durationMs: 500 });
    expect(report.pageLoads).toBe(5);
    expect(report.failures.connection).toBe(5);
    expect(report.pageLoadsWithProblems).toBe(5);
  });

  it('stops starting page loads when its signal aborts', async () => {
    const baseUrl = await startProxy(() => ({ pair: v1 }));
    const report = await runSimulatedUsers({ baseUrl, pageLoadsPerSecond: 20, signal: AbortSignal.timeout(500) });
    expect(report.pageLoads).toBeGreaterThan(0);
    expect(report.pageLoads).toBeLessThan(40);
  });

  it('makes no more requests for a page its user left for a newer one, as a browser tab does', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.url ?? '');
      if (req.url === '/') return res.end('<html><script src="/assets/slow.js"></script></html>');
      // The first page's asset is still loading when the user's next page load starts.
      if (req.url === '/assets/slow.js') return void setTimeout(() => res.end('//'), seen.filter((u) => u === '/').length === 1 ? 1500 : 0);
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
    proxies.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const results: PageLoadResult[] = [];
    const report = await runSimulatedUsers({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pageLoadsPerSecond: 4, durationMs: 500, users: 1, apiCallsPerPage: 2,
      onResult: (r) => results.push(r),
    });
    expect(report.pageLoads).toBe(2);
    expect(report.leftPageLoads).toBe(1);
    expect(results.map((r) => r.left).sort()).toEqual([false, true]);
    // Only the second page made its API calls.
    expect(seen.filter((u) => u.startsWith('/api/'))).toHaveLength(2);
    expect(report.failedRequests).toBe(0);
  });

  it('rethrows an error thrown by onResult once the run is over', async () => {
    const baseUrl = await startProxy(() => ({ pair: v1 }));
    await expect(runSimulatedUsers({ baseUrl, pageLoadsPerSecond: 10, durationMs: 200, onResult: () => { throw new Error('boom'); } })).rejects.toThrow('boom');
  });

  it.each([
    [{ baseUrl: 'not a url', pageLoadsPerSecond: 1, durationMs: 1 }, 'baseUrl: "not a url" is not an absolute URL'],
    [{ baseUrl: 'http://x', pageLoadsPerSecond: 0, durationMs: 1 }, 'pageLoadsPerSecond: must be a number > 0, got 0'],
    [{ baseUrl: 'http://x', pageLoadsPerSecond: 1 }, 'durationMs or signal: one is required'],
    [{ baseUrl: 'http://x', pageLoadsPerSecond: 1, durationMs: 1, users: -2 }, 'users: must be a number > 0, got -2'],
    [{ baseUrl: 'http://x', pageLoadsPerSecond: 1, durationMs: 1, apiCallsPerPage: 1.5 }, 'apiCallsPerPage: must be an integer >= 0, got 1.5'],
  ])('refuses %j', async (options, message) => {
    await expect(runSimulatedUsers(options)).rejects.toThrow(message);
  });
});

describe('page parsing', () => {
  const html = '<meta name="app-version" content="v2"><meta content="x" name="api-requires"><link rel="stylesheet" href="/assets/a.1.css"><script src=\'/assets/a.1.js\'></script><a href="/about">';
  it('finds the assets, and the meta tags in any attribute order', () => {
    expect(parseAssetUrls(html)).toEqual(['/assets/a.1.css', '/assets/a.1.js']);
    expect(parseMeta(html, 'app-version')).toBe('v2');
    expect(parseMeta(html, 'api-requires')).toBe('x');
    expect(parseMeta(html, 'nope')).toBeUndefined();
  });
  it.each([
    [{ products: [{ price: { amount: 1, currency: 'eur' } }] }, ['price.currency'], []],
    [{ products: [{ price: { amount: 1 } }, { price: { amount: 2, currency: 'eur' } }] }, ['price.currency'], ['price.currency']],
    [{ products: [] }, ['price.currency'], []],
    [{ nothing: true }, ['price.currency'], ['products']],
    [null, [], []],
  ])('missingProductFields(%j, %j) → %j', (body, required, want) => {
    expect(missingProductFields(body, required)).toEqual(want);
  });
});
