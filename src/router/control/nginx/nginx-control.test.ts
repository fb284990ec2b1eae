import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request, Agent, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RouteTable, ServiceRoute } from '../../contract/index.js';
import { startNginxRouterControl, type NginxRouterControl } from './nginx-control.js';
import { NginxRenderError } from './errors.js';
import { freePort } from '../../../../test/fixtures/router/support.js';

interface Upstream { server: Server; port: number; hits: string[] }

async function upstream(name: string): Promise<Upstream> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.setHeader('content-type', 'text/plain');
    res.end(name);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

/**
 * A GET as a browser sends it: nginx's graceful reload closes the old workers' idle keep-alive
 * connections, and a request written onto one at that instant is reset unread. RFC 9112 §9.3.1 lets
 * a client retry an idempotent request then, and browsers do; Node's agent leaves it to the caller.
 * Only that case is retried, on a fresh connection (the agent's other idle connections were closed
 * by the same reload): any other error, or a reset on a fresh connection, is a failure.
 */
function get(port: number, path: string, headers: Record<string, string> = {}, retried = false): Promise<{ status: number; body: string; setCookie: string[]; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: retried ? false : agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, setCookie: res.headers['set-cookie'] ?? [], headers: res.headers }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!retried && req.reusedSocket && err.code === 'ECONNRESET') {
        get(port, path, headers, true).then(resolve, reject);
      } else reject(err);
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

function service(overrides: Partial<ServiceRoute> = {}): ServiceRoute {
  return {
    name: 'web',
    pathPrefix: '/',
    stable: 'v1',
    canary: 'v2',
    revisions: {
      v1: { instances: [{ id: 'v1-a', address: `127.0.0.1:${stable.port}`, ready: true }] },
      v2: { instances: [{ id: 'v2-a', address: `127.0.0.1:${canary.port}`, ready: true }] },
    },
    canaryWeight: 0,
    ...overrides,
  };
}

const waitFor = async (ok: () => boolean, timeoutMs: number) => {
  const end = Date.now() + timeoutMs;
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
};

let stable: Upstream;
let canary: Upstream;
let control: NginxRouterControl;
let port: number;

beforeAll(async () => {
  stable = await upstream('v1');
  canary = await upstream('v2');
  port = await freePort();
  control = await startNginxRouterControl({
    mode: { type: 'managed', prefixDir: mkdtempSync(join(tmpdir(), 'graylane-nginx-')), workers: 2 },
    listen: `127.0.0.1:${port}`,
    drainTimeoutMs: 5000,
  });
}, 20_000);

afterAll(async () => {
  await control?.stop({ timeoutMs: 2000 });
  agent.destroy();
  stable?.server.close();
  canary?.server.close();
});

describe('nginx as the data plane', () => {
  it('splits 80/20 by weight within statistical tolerance over 500 requests', async () => {
    await control.applyTable({ services: [service({ canaryWeight: 20 })] });
    let toCanary = 0;
    for (let i = 0; i < 500; i++) if ((await get(port, '/split')).body === 'v2') toCanary++;
    // Binomial(500, 0.2): sd ≈ 8.9; ±5 sd.
    expect(toCanary).toBeGreaterThan(100 - 45);
    expect(toCanary).toBeLessThan(100 + 45);
  }, 60_000);

  it('sends a header route and a cookie route to the canary, everyone else to stable', async () => {
    await control.applyTable({
      services: [service({
        matches: [
          { match: [{ headerName: 'X-Canary', headerValue: { exact: 'yes' } }], revision: 'v2' },
          { match: [{ cookieName: 'beta-user', cookieValue: { prefix: 'on' } }], revision: 'v2' },
        ],
      })],
    });
    expect((await get(port, '/h', { 'x-canary': 'yes' })).body).toBe('v2');
    expect((await get(port, '/h', { 'x-canary': 'YES' })).body).toBe('v1');
    expect((await get(port, '/c', { cookie: 'a=1; beta-user=on-please' })).body).toBe('v2');
    expect((await get(port, '/c', { cookie: 'beta-user=off' })).body).toBe('v1');
    expect((await get(port, '/plain')).body).toBe('v1');
  }, 30_000);

  it('copies requests to the canary by mirror while stable answers', async () => {
    await control.applyTable({ services: [service({ mirror: { revision: 'v2', percentage: 100, match: [{ path: { prefix: '/mirrored' } }] } })] });
    canary.hits.length = 0;
    const r = await get(port, '/mirrored/1?q=2');
    expect(r.body).toBe('v1');
    await waitFor(() => canary.hits.length > 0, 5000);
    expect(canary.hits).toEqual(['GET /mirrored/1?q=2']);
    // The copy is counted apart from the canary's own traffic, as the router counts it.
    await waitFor(() => control.totals({ service: 'web', revision: 'v2' }).mirrored.requests === 1, 3000);
    expect(control.totals({ service: 'web', revision: 'v2' }).mirrored).toEqual({ requests: 1, failures: 0 });
    await get(port, '/other');
    await new Promise((res) => setTimeout(res, 300));
    expect(canary.hits).toEqual(['GET /mirrored/1?q=2']);
  }, 30_000);

  it('puts an abort (100/0) in force for new requests after the reload, with no failed request under keep-alive load', async () => {
    await control.applyTable({ services: [service({ canaryWeight: 50 })] });
    let failed = 0;
    let running = true;
    const load = (async () => {
      while (running) {
        try {
          const r = await get(port, '/load');
          if (r.status !== 200) failed++;
        } catch {
          failed++;
        }
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    const after: string[] = [];
    try {
      await new Promise((res) => setTimeout(res, 300));
      await control.applyTable({ services: [service({ canaryWeight: 0 })] });
      for (let i = 0; i < 50; i++) after.push((await get(port, '/after')).body);
    } finally {
      // A load left running would be counted by every test after this one.
      running = false;
      await load;
    }
    expect(after.filter((b) => b !== 'v1')).toEqual([]);
    expect(failed).toBe(0);
  }, 60_000);

  it('keeps a client on the side its sticky cookie names, and assigns one by weight to a client without', async () => {
    await control.applyTable({ services: [service({ canaryWeight: 50, stickyCookie: 'graylane-side-web' })] });
    const first = await get(port, '/sticky');
    expect(first.setCookie).toEqual([`graylane-side-web=${first.body}; Path=/; HttpOnly; SameSite=Lax`]);
    for (let i = 0; i < 20; i++) {
      const r = await get(port, '/sticky', { cookie: `graylane-side-web=${first.body}` });
      expect(r.body).toBe(first.body);
      expect(r.setCookie).toEqual([]);
    }
  }, 30_000);

  it('falls back to stable when the canary has no ready instance, counting the fallback on the canary', async () => {
    await control.applyTable({ services: [service({ name: 'fb', canaryWeight: 100, revisions: { v1: { instances: [{ id: 'v1-a', address: `127.0.0.1:${stable.port}`, ready: true }] }, v2: { instances: [{ id: 'v2-a', address: `127.0.0.1:${canary.port}`, ready: false }] } } })] });
    for (let i = 0; i < 5; i++) expect((await get(port, '/fb')).body).toBe('v1');
    await waitFor(() => control.totals({ service: 'fb', revision: 'v2' }).fallbacks === 5, 3000);
    expect(control.totals({ service: 'fb', revision: 'v2' }).fallbacks).toBe(5);
    expect(control.totals({ service: 'fb', revision: 'v1' }).requests).toBe(5);
  }, 30_000);

  it('routes by host and path prefix on segment boundaries, 404 elsewhere', async () => {
    await control.applyTable({
      services: [
        service({ name: 'api', pathPrefix: '/api', canary: undefined, revisions: { v2: { instances: [{ id: 'v2-a', address: `127.0.0.1:${canary.port}`, ready: true }] } }, stable: 'v2' }),
        service({ name: 'admin', host: 'admin.example', canary: undefined, revisions: { v2: { instances: [{ id: 'v2-a', address: `127.0.0.1:${canary.port}`, ready: true }] } }, stable: 'v2', pathPrefix: '/admin' }),
        service({ name: 'site', pathPrefix: '/shop', canaryWeight: 0 }),
      ],
    });
    expect((await get(port, '/api')).body).toBe('v2');
    expect((await get(port, '/api/x')).body).toBe('v2');
    expect(await get(port, '/apix')).toMatchObject({ status: 404, headers: { 'x-graylane-error': 'no-route' } });
    expect((await get(port, '/shop/a')).body).toBe('v1');
    expect((await get(port, '/admin', { host: 'admin.example' })).body).toBe('v2');
    expect((await get(port, '/admin', { host: 'other.example' })).status).toBe(404);
    expect((await get(port, '/shop/a', { host: 'admin.example' })).body).toBe('v1');
  }, 30_000);

  it('refuses a table whose regular expression nginx rejects, keeping the table in force', async () => {
    await control.applyTable({ services: [service()] });
    const before = control.currentTable();
    // Valid in JavaScript, not in PCRE (a lookbehind of variable length).
    const bad = { services: [service({ matches: [{ match: [{ headerName: 'x-a', headerValue: { regex: '(?<=a+)b' } }], revision: 'v2' }] })] };
    await expect(control.applyTable(bad)).rejects.toMatchObject({ code: 'InvalidConfig', message: expect.stringContaining('nginx refused the rendered configuration') });
    expect(control.currentTable()).toEqual(before);
    expect((await get(port, '/still')).body).toBe('v1');
  }, 30_000);

  it('counts every request from the access log file, by revision and status', async () => {
    const fresh = { services: [service({ name: 'counted', canaryWeight: 0 })] };
    await control.applyTable(fresh);
    for (let i = 0; i < 37; i++) await get(port, '/count');
    await waitFor(() => control.totals({ service: 'counted', revision: 'v1' }).requests >= 37, 3000);
    await new Promise((res) => setTimeout(res, 200)); // a late datagram would make the count exceed
    const t = control.totals({ service: 'counted', revision: 'v1' });
    expect(t.requests).toBe(37);
    expect(t.responses['2xx']).toBe(37);
    expect(t.latency.counts.reduce((a, b) => a + b, 0)).toBe(37);
    expect(control.stats({ service: 'counted', revision: 'v1', windowMs: 60_000 }).requests).toBe(37);
    const snap = await control.snapshot();
    expect(snap.revisions.find((r) => r.service === 'counted' && r.revision === 'v1')?.totals.requests).toBe(37);
  }, 30_000);

  // Weight 0 renders a location with everything fixed; 50 one that decides per request.
  it.each([0, 50])('answers 503 and counts it when neither side has a ready instance (canary weight %i)', async (canaryWeight) => {
    const name = `down${canaryWeight}`;
    await control.applyTable({ services: [service({ name, canaryWeight, revisions: { v1: { instances: [] }, v2: { instances: [] } } })] });
    const down = await get(port, '/x');
    expect(down).toMatchObject({ status: 503, headers: { 'x-graylane-error': 'no-ready-instance', 'retry-after': '1', 'cache-control': 'no-store' } });
    await waitFor(() => control.totals({ service: name, revision: 'v1' }).rejected + control.totals({ service: name, revision: 'v2' }).rejected === 1, 3000);
    const both = [control.totals({ service: name, revision: 'v1' }), control.totals({ service: name, revision: 'v2' })];
    expect(both.reduce((n, t) => n + t.failed, 0)).toBe(1);
    if (canaryWeight === 0) expect(both[0]!.rejected).toBe(1);
  }, 30_000);

  it('waits for the old workers when an instance is removed, and knows nothing of one never drained', async () => {
    await control.applyTable({ services: [service()] });
    await control.applyTable({ services: [service({ revisions: { v1: { instances: [{ id: 'v1-a', address: `127.0.0.1:${stable.port}`, ready: true }] }, v2: { instances: [] } } })] });
    expect(await control.awaitDrained('v2-a', Date.now() + 10_000)).toBe('drained');
    expect(await control.awaitDrained('nobody', Date.now() + 10)).toBe('unknown');
  }, 30_000);

  it('refuses a table with a release, keeping the table in force', async () => {
    const before = control.currentTable();
    const table: RouteTable = {
      services: [service()],
      releases: [{ name: 'r', services: ['web'], generation: 'g1', canaryWeight: 10, phase: 'progressing', cookie: 'graylane-release', header: 'x-graylane-release', secret: 'abcdefghijklmnopqrstuvwxyz' }],
    };
    await expect(control.applyTable(table)).rejects.toThrow(NginxRenderError);
    await expect(control.applyTable(table)).rejects.toThrow(/signed version tokens/);
    expect(control.currentTable()).toEqual(before);
  });
});

describe('the access log file', () => {
  it('is rotated past its size under load with no request lost or counted twice, and is read to the end at stop, in a directory only its owner may enter', async () => {
    // As a state dir under /root (mode 0700): started by root, nginx's workers (nobody by default)
    // could not reopen the log there, and went on writing the rotated file.
    const parent = mkdtempSync(join(tmpdir(), 'graylane-private-'));
    chmodSync(parent, 0o700);
    const prefixDir = join(parent, 'nginx');
    mkdirSync(prefixDir);
    const p = await freePort();
    // About 50 lines a file: 400 requests rotate it several times while requests keep coming.
    const c = await startNginxRouterControl({ mode: { type: 'managed', prefixDir, workers: 2 }, listen: `127.0.0.1:${p}`, drainTimeoutMs: 2000, accessLogMaxBytes: 2000, accessLogPollMs: 20 });
    try {
      await c.applyTable({ services: [service({ name: 'rot', canaryWeight: 0 })] });
      let sent = 0;
      await Promise.all([0, 1, 2, 3].map(async () => {
        for (let i = 0; i < 100; i++) {
          expect((await get(p, '/r')).status).toBe(200);
          sent++;
        }
      }));
      await waitFor(() => c.totals({ service: 'rot', revision: 'v1' }).requests >= sent, 5000);
      await new Promise((res) => setTimeout(res, 400)); // one more flush and poll: a line counted twice would show now
      expect(c.totals({ service: 'rot', revision: 'v1' }).requests).toBe(400);
      // A rotation the last lines started ends once nginx's master and workers reopened; then only
      // the live file is left. That took over 5 s once on a loaded CI machine; the reader itself
      // gives up waiting on them at 30 s.
      const logs = () => readdirSync(prefixDir).filter((f) => f.startsWith('access.log'));
      await waitFor(() => logs().length === 1, 30_000);
      expect(logs()).toEqual(['access.log']);
      expect(statSync(join(prefixDir, 'access.log')).size).toBeLessThan(2000 + 64 * 1024);
      for (let i = 0; i < 3; i++) await get(p, '/last');
    } finally {
      await c.stop({ timeoutMs: 2000 });
    }
    // Those three sat in a worker's buffer (flushed every 200 ms): the stop read them.
    expect(c.totals({ service: 'rot', revision: 'v1' }).requests).toBe(403);
  }, 60_000);
});

describe('a managed nginx before its first table', () => {
  it('answers 503 router-starting with Retry-After, as the built-in router does; an empty first table is rendered, and then a miss is 404', async () => {
    const p = await freePort();
    const c = await startNginxRouterControl({ mode: { type: 'managed', prefixDir: mkdtempSync(join(tmpdir(), 'graylane-nginx-')), workers: 1 }, listen: `127.0.0.1:${p}` });
    try {
      const head = (path: string) => new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: p, path, agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on('error', reject);
        req.end();
      });
      const early = await head('/anything');
      expect(early).toMatchObject({ status: 503, headers: { 'retry-after': '1', 'x-graylane-error': 'router-starting' } });
      expect(early.body).toContain('no route table yet');
      expect(await c.applyTable({ services: [] })).toEqual({ version: 1, changed: true });
      const miss = await head('/anything');
      expect(miss).toMatchObject({ status: 404, headers: { 'x-graylane-error': 'no-route' } });
      expect(miss.body).toContain('no service routes');
    } finally {
      await c.stop({ timeoutMs: 2000 });
    }
  }, 30_000);
});

describe('nginx that cannot run', () => {
  it('reports nginx failing at start (its port taken) with nginx\'s words', async () => {
    const busy = createNetServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const taken = (busy.address() as AddressInfo).port;
    try {
      await expect(startNginxRouterControl({ mode: { type: 'managed', prefixDir: mkdtempSync(join(tmpdir(), 'graylane-nginx-')), workers: 1 }, listen: `127.0.0.1:${taken}` }))
        .rejects.toMatchObject({ code: 'StartFailed', message: expect.stringContaining('Address already in use') });
    } finally {
      busy.close();
    }
  }, 30_000);

  it('reports a missing nginx binary, and refuses to apply once stopped', async () => {
    await expect(startNginxRouterControl({ mode: { type: 'managed', prefixDir: mkdtempSync(join(tmpdir(), 'graylane-nginx-')), binary: '/nonexistent/nginx' }, listen: '127.0.0.1:1' }))
      .rejects.toMatchObject({ code: 'StartFailed', message: expect.stringContaining('cannot run /nonexistent/nginx') });
    const c = await startNginxRouterControl({ mode: { type: 'managed', prefixDir: mkdtempSync(join(tmpdir(), 'graylane-nginx-')), workers: 1 }, listen: `127.0.0.1:${await freePort()}` });
    await c.stop();
    await expect(c.applyTable({ services: [service()] })).rejects.toMatchObject({ code: 'NotStarted' });
  }, 30_000);
});

describe('nginx include-file mode', () => {
  it('writes the http-level include file and runs the reload command', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graylane-nginx-include-'));
    const include = join(dir, 'graylane.conf');
    const record = join(dir, 'calls');
    const script = join(dir, 'reload.sh');
    writeFileSync(script, `#!/bin/sh\necho "$@" >> ${record}\n`);
    chmodSync(script, 0o755);
    const c = await startNginxRouterControl({ mode: { type: 'include', includeFile: include, reloadCommand: [script, '-s', 'reload'] }, listen: '127.0.0.1:8099' });
    try {
      await c.applyTable({ services: [service({ canaryWeight: 30 })] });
      const conf = readFileSync(include, 'utf8');
      expect(conf).toContain('split_clients');
      expect(conf).toContain('30%');
      expect(conf).not.toContain('http {');
      expect(readFileSync(record, 'utf8')).toBe('-s reload\n');
      expect((await c.applyTable({ services: [service({ canaryWeight: 30 })] })).changed).toBe(false);
      expect(readFileSync(record, 'utf8')).toBe('-s reload\n');
    } finally {
      await c.stop();
    }
  });

  it('reports a failing reload command with its output', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graylane-nginx-include-'));
    const script = join(dir, 'reload.sh');
    writeFileSync(script, '#!/bin/sh\necho "nginx: [emerg] bad" >&2\nexit 1\n');
    chmodSync(script, 0o755);
    const c = await startNginxRouterControl({ mode: { type: 'include', includeFile: join(dir, 'g.conf'), reloadCommand: [script] }, listen: '127.0.0.1:8099' });
    try {
      await expect(c.applyTable({ services: [service()] })).rejects.toThrow(/reload command .* failed \(exit 1\): nginx: \[emerg\] bad/);
      expect(c.currentTable().version).toBe(0);
      expect(existsSync(join(dir, 'g.conf'))).toBe(true);
    } finally {
      await c.stop();
    }
  });

  it('reports a reload command that cannot run, and drains by the deadline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graylane-nginx-include-'));
    const c = await startNginxRouterControl({ mode: { type: 'include', includeFile: join(dir, 'g.conf'), reloadCommand: ['/nonexistent/reload'] }, listen: '127.0.0.1:8099' });
    try {
      await expect(c.applyTable({ services: [service()] })).rejects.toMatchObject({ code: 'ReloadFailed', message: expect.stringContaining('cannot run the reload command /nonexistent/reload') });
    } finally {
      await c.stop();
    }
    const ok = join(dir, 'ok.sh');
    writeFileSync(ok, '#!/bin/sh\nexit 0\n');
    chmodSync(ok, 0o755);
    const d = await startNginxRouterControl({ mode: { type: 'include', includeFile: join(dir, 'g.conf'), reloadCommand: [ok] }, listen: '127.0.0.1:8099' });
    try {
      await d.applyTable({ services: [service()] });
      await d.applyTable({ services: [service({ revisions: { v1: { instances: [{ id: 'v1-a', address: '127.0.0.1:1', ready: true }] }, v2: { instances: [] } } })] });
      const start = Date.now();
      // The user's workers are not graylane's to watch: the drain lasts until its deadline.
      expect(await d.awaitDrained('v2-a', Date.now() + 200)).toBe('timeout');
      expect(Date.now() - start).toBeGreaterThanOrEqual(150);
    } finally {
      await d.stop();
    }
  });
});
