/**
 * The router as the edge (issue 10, item 7): slow and stuck clients, tunnels, forwarding
 * headers, request targets and paths, transfer codings, and the admin API's body handling.
 */
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { rawRequest } from '../../test/fixtures/router/raw-client.js';
import { send, serviceTable, startRouter, startUpstream, until, type Handler, type Upstream } from '../../test/fixtures/router/support.js';
import type { RouteTable } from './types.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function upstream(name: string, handler?: Handler): Promise<Upstream> {
  const u = await startUpstream(name, handler);
  cleanups.push(() => u.close());
  return u;
}

/** Answers with its name, the path it saw and the forwarding headers it got. */
const reflect: Handler = (req, res, u) => {
  req.resume();
  res.end(JSON.stringify({ name: u.name, url: req.url, host: req.headers.host, xff: req.headers['x-forwarded-for'], proto: req.headers['x-forwarded-proto'], xhost: req.headers['x-forwarded-host'], forwarded: req.headers.forwarded }));
};

function bodyOf(text: string): Record<string, string> {
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, string>;
}

const TOKEN = 'edge-test-token-0123456789';

describe('slow and stuck clients', () => {
  it('a client that stops reading loses its connection after sendMs, freeing the upstream', async () => {
    let upstreamClosed = false;
    const u = await upstream('big', (_req, res) => {
      res.on('close', () => { upstreamClosed = true; });
      const chunk = Buffer.alloc(64 * 1024, 120);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      res.writeHead(200);
      pump();
    });
    const r = await startRouter({ routes: serviceTable({ stable: [u] }), timeouts: { sendMs: 300 } });
    cleanups.push(r.close);
    const { port } = new URL(r.url);
    const client = net.connect(Number(port), '127.0.0.1');
    let clientClosed = false;
    client.on('close', () => { clientClosed = true; });
    client.on('error', () => undefined);
    client.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    client.pause(); // never reads
    await until(() => upstreamClosed, 10_000, 'its upstream request closed');
    await until(() => r.router.totals({ service: 'web', revision: 'v1' }).clientErrors === 1, 5000, 'counted as the client’s');
    expect(r.router.totals({ service: 'web', revision: 'v1' }).failed).toBe(0);
    // What the client finally reads ends in the router's close.
    client.resume();
    await until(() => clientClosed, 10_000, 'the stuck client’s connection closed');
  });

  it('closes client connections beyond maxClientConnections', async () => {
    const u = await upstream('a');
    const r = await startRouter({ routes: serviceTable({ stable: [u] }), maxClientConnections: 2 });
    cleanups.push(r.close);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    cleanups.push(() => Promise.resolve(agent.destroy()));
    await Promise.all([send(`${r.url}/`, { agent }), send(`${r.url}/`, { agent })]);
    const third = await rawRequest(r.url, ['GET / HTTP/1.1\r\nHost: a\r\n\r\n'], { timeoutMs: 5000 });
    expect(third.status).toBe(0);
  });
});

/**
 * An upstream that accepts WebSocket-style upgrades and echoes bytes, and never closes its side
 * by itself; `closed` counts the tunnels the router let go of (FIN or close seen).
 */
async function tunnelUpstream(): Promise<{ address: string; sockets: Duplex[]; closed: () => number }> {
  const sockets: Duplex[] = [];
  let closed = 0;
  const server = http.createServer((_req, res) => res.end('plain'));
  server.on('upgrade', (_req, socket: Duplex) => {
    sockets.push(socket);
    let gone = false;
    const letGo = () => {
      if (!gone) closed++;
      gone = true;
    };
    socket.on('end', letGo);
    socket.on('close', letGo);
    socket.on('error', () => undefined);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(d));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }));
  return { address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, sockets, closed: () => closed };
}

function openTunnel(url: string): Promise<{ socket: net.Socket; status: number }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write('GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'));
    socket.once('data', (d: Buffer) => resolve({ socket, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(d.toString('latin1'))?.[1] ?? 0) }));
    socket.on('error', reject);
    cleanups.push(() => Promise.resolve(socket.destroy()).then(() => undefined));
  });
}

describe('tunnels', () => {
  it('an upgrade before the first route table is 503 router-starting with Retry-After, and 404 once a table without its route is in force', async () => {
    const r = await startRouter({});
    cleanups.push(r.close);
    const { port } = new URL(r.url);
    const head = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write('GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'));
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(head).toMatch(/^HTTP\/1\.1 503 /);
    expect(head.toLowerCase()).toContain('x-graylane-error: router-starting');
    expect(head.toLowerCase()).toContain('retry-after: 1');
    expect(r.router.hasRouteTable()).toBe(false);
    r.router.setRouteTable({ services: [] });
    expect(r.router.hasRouteTable()).toBe(true);
    expect((await openTunnel(r.url)).status).toBe(404);
  });

  it('closes an idle tunnel after tunnelIdleMs', async () => {
    const up = await tunnelUpstream();
    const r = await startRouter({ routes: serviceTable({ stable: [{ id: 't', address: up.address, ready: true }] }), timeouts: { tunnelIdleMs: 300 } });
    cleanups.push(r.close);
    const t = await openTunnel(r.url);
    expect(t.status).toBe(101);
    let closed = false;
    t.socket.on('close', () => { closed = true; });
    await until(() => closed && up.closed() === 1, 10_000, 'idle tunnel closed on both sides');
  });

  it('counts a tunnel against the instance’s concurrency limit', async () => {
    const up = await tunnelUpstream();
    const r = await startRouter({ routes: serviceTable({ stable: [{ id: 't', address: up.address, ready: true }] }), circuitBreaker: { maxConcurrentRequests: 1, maxPendingRequests: 0 } });
    cleanups.push(r.close);
    const first = await openTunnel(r.url);
    expect(first.status).toBe(101);
    expect((await send(`${r.url}/`)).status).toBe(503);
    expect((await openTunnel(r.url)).status).toBe(503);
    first.socket.destroy();
    await until(() => up.closed() === 1, 5000, 'first tunnel closed');
    await until(() => r.router.totals({ service: 'web', revision: 'v1' }).rejected === 2, 5000, 'rejections counted');
    // The slot comes back once the router has let go of the tunnel (after a short grace for the upstream's last bytes).
    let status = 0;
    for (const end = Date.now() + 5000; status !== 200 && Date.now() < end;) status = (await send(`${r.url}/`)).status;
    expect(status).toBe(200);
  });

  it('closes a half-closed tunnel promptly instead of leaving it in CLOSE-WAIT', async () => {
    const up = await tunnelUpstream();
    const r = await startRouter({ routes: serviceTable({ stable: [{ id: 't', address: up.address, ready: true }] }), drainTimeoutMs: 60_000 });
    cleanups.push(r.close);
    const t = await openTunnel(r.url);
    let closed = false;
    t.socket.on('close', () => { closed = true; });
    t.socket.resume();
    t.socket.end(); // FIN from the client; the upstream never ends its side
    await until(() => closed && up.closed() === 1, 10_000, 'tunnel closed after the client’s FIN');
  });
});

describe('forwarding headers', () => {
  it('replaces client-sent X-Forwarded-* and Forwarded with what the router saw', async () => {
    const u = await upstream('a', reflect);
    const r = await startRouter({ routes: serviceTable({ stable: [u] }) });
    cleanups.push(r.close);
    const reply = await send(`${r.url}/`, { headers: { host: 'real.example', 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'bank.example', forwarded: 'for=6.6.6.6;proto=https' } });
    const seen = JSON.parse(reply.body) as Record<string, string>;
    expect(seen).toMatchObject({ xff: '127.0.0.1', proto: 'http', xhost: 'real.example', forwarded: 'for=127.0.0.1;host="real.example";proto=http' });
  });

  it('keeps a trusted proxy’s X-Forwarded-Proto and -Host (CIDR) and appends to its chain', async () => {
    const u = await upstream('a', reflect);
    const r = await startRouter({ routes: serviceTable({ stable: [u] }), trustedProxies: ['127.0.0.0/8', '::1'] });
    cleanups.push(r.close);
    const reply = await send(`${r.url}/`, { headers: { host: 'real.example', 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example' } });
    expect(JSON.parse(reply.body)).toMatchObject({ xff: '203.0.113.9, 127.0.0.1', proto: 'https', xhost: 'public.example' });
  });

  it('refuses an invalid trusted proxy entry', async () => {
    await expect(startRouter({ routes: { services: [] }, trustedProxies: ['10.0.0.0/33'] })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(startRouter({ routes: { services: [] }, trustedProxies: ['not-an-ip'] })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });
});

describe('request targets and paths', () => {
  async function threeServices(): Promise<string> {
    const api = await upstream('api', reflect);
    const admin = await upstream('admin', reflect);
    const site = await upstream('site', reflect);
    const svc = (name: string, u: Upstream, pathPrefix: string, host?: string) => ({
      name, pathPrefix, stable: 'v1', canaryWeight: 0, revisions: { v1: { instances: [{ id: name, address: u.address, ready: true }] } }, ...(host ? { host } : {}),
    });
    const table: RouteTable = { services: [svc('api', api, '/api'), svc('admin', admin, '/admin'), svc('site', site, '/'), svc('hosted', site, '/hosted', 'app.example')] };
    const r = await startRouter({ routes: table });
    cleanups.push(r.close);
    return r.url;
  }

  const get = (url: string, target: string, host = 'a') => rawRequest(url, [`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`]);

  it.each([
    ['/api/../admin/x', 'admin', '/admin/x'],
    ['//api/x', 'api', '/api/x'],
    ['/%61pi/x?q=%61', 'api', '/api/x?q=%61'],
    ['/api/./x/%2e%2e/y', 'api', '/api/y'],
    ['/api/%2Fx', 'api', '/api/%2Fx'],
  ])('routes %s to %s and forwards %s', async (target, service, forwarded) => {
    const url = await threeServices();
    const reply = await get(url, target);
    expect(reply.status).toBe(200);
    expect(bodyOf(reply.text)).toMatchObject({ name: service, url: forwarded });
  });

  it('answers 400 to a path that climbs above the root', async () => {
    const url = await threeServices();
    const reply = await get(url, '/api/../../etc/passwd');
    expect(reply.status).toBe(400);
    expect(reply.text).toContain('x-graylane-error: path-escapes-root');
  });

  it('accepts an absolute-form target, whose authority replaces Host', async () => {
    const url = await threeServices();
    const reply = await get(url, 'http://app.example/hosted/x?y=1', 'other.example');
    expect(reply.status).toBe(200);
    expect(bodyOf(reply.text)).toMatchObject({ name: 'site', url: '/hosted/x?y=1', host: 'app.example' });
    expect((await get(url, 'ftp://app.example/x')).status).toBe(400);
  });

  it('matches a host route for a Host with a trailing dot', async () => {
    const url = await threeServices();
    const reply = await get(url, '/hosted/x', 'APP.example.:8080');
    expect(reply.status).toBe(200);
    expect(bodyOf(reply.text)).toMatchObject({ name: 'site', url: '/hosted/x' });
    // Without the host route the path would not match any prefix but /.
    expect((await get(url, '/hosted/x', 'other.example')).status).toBe(200);
  });

  it('answers 501 to a transfer coding other than chunked', async () => {
    const url = await threeServices();
    const reply = await rawRequest(url, ['POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n']);
    expect(reply.status).toBe(501);
    expect(reply.text).toContain('x-graylane-error: unsupported-transfer-coding');
  });
});

describe('admin API bodies', () => {
  async function admin(): Promise<string> {
    const u = await upstream('a');
    const r = await startRouter({ routes: serviceTable({ stable: [u] }), admin: { host: '127.0.0.1', port: 0, token: TOKEN } });
    cleanups.push(r.close);
    return r.adminUrl!;
  }
  const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

  it('answers 413 with a JSON error to a route table over 8 MiB', async () => {
    const url = await admin();
    const reply = await send(`${url}/routes`, { method: 'PUT', headers: auth, body: Buffer.alloc(9 << 20, 32) });
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body)).toMatchObject({ code: 'BODY_TOO_LARGE' });
  });

  it('answers 413 to an oversized chunked body too', async () => {
    const url = await admin();
    const { port } = new URL(url);
    const chunk = Buffer.alloc(1 << 20, 32);
    const reply = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: Number(port), path: '/routes', method: 'PUT', headers: { ...auth, 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      let sent = 0;
      const pump = () => {
        while (sent < 9 && req.write(chunk)) sent++;
        if (sent < 9) req.once('drain', () => { sent++; pump(); });
        else req.end();
      };
      pump();
    });
    expect(reply).toBe(413);
  });

  it.each(['null', '[]', '42', '"table"'])('answers 400 to a JSON body %s that is not an object', async (body) => {
    const url = await admin();
    const reply = await send(`${url}/routes`, { method: 'PUT', headers: auth, body });
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body)).toMatchObject({ code: 'INVALID_ROUTE_TABLE' });
  });
});

describe('a router without per-second stats (a supervisor\'s worker)', () => {
  it('serves and counts its cumulative totals, and refuses windowed reads with NO_PER_SECOND_STATS', async () => {
    const a = await upstream('a');
    const r = await startRouter({ routes: serviceTable({ stable: [a] }), perSecondStats: false });
    cleanups.push(r.close);
    const replies = await Promise.all(Array.from({ length: 20 }, () => send(`${r.url}/`)));
    expect(replies.map((x) => x.body)).toEqual(Array(20).fill('a'));
    const totals = r.router.totals({ service: 'web', revision: 'v1' });
    expect(totals.requests).toBe(20);
    expect(totals.responses['2xx']).toBe(20);
    expect(totals.latency.counts.reduce((n, c) => n + c, 0)).toBe(20);
    expect(() => r.router.stats({ service: 'web', revision: 'v1' })).toThrow(expect.objectContaining({ code: 'NO_PER_SECOND_STATS' }));
    expect(() => r.router.recentLatency({ service: 'web', revision: 'v1' })).toThrow(expect.objectContaining({ code: 'NO_PER_SECOND_STATS' }));
  });
});
