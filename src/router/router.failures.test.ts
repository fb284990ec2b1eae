import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  deadAddress,
  instance,
  load,
  send,
  serviceTable,
  sleep,
  startRouter,
  startUpstream,
  until,
  type Handler,
  type Upstream,
} from '../../test/fixtures/router/support.js';
import type { RouterEvent } from './types.js';
import { signalChild } from '../lib/signal-child.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function upstream(name: string, handler?: Handler): Promise<Upstream> {
  const u = await startUpstream(name, handler);
  cleanups.push(() => u.close());
  return u;
}

/**
 * A raw HTTP/1.1 server that answers the first request on each connection with keep-alive and
 * resets the connection when a second one arrives: a stale pooled socket, every time.
 */
async function resettingServer(): Promise<{ address: string; resets: number; answered: number }> {
  const state = { address: '', resets: 0, answered: 0 };
  const server = net.createServer((socket) => {
    let served = false;
    socket.on('data', () => {
      if (served) {
        state.resets++;
        socket.resetAndDestroy();
        return;
      }
      served = true;
      state.answered++;
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: keep-alive\r\nkeep-alive: timeout=60\r\n\r\nfresh');
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return state;
}

describe('retries', () => {
  it('retries a request whose reused upstream socket was reset before any response', async () => {
    const s = await resettingServer();
    const r = await startRouter({ routes: serviceTable({ stable: [instance('r', s.address)] }) });
    cleanups.push(r.close);
    for (let i = 0; i < 5; i++) {
      const reply = await send(`${r.url}/`);
      expect(reply.status).toBe(200);
      expect(reply.body).toBe('fresh');
    }
    expect(s.resets).toBeGreaterThanOrEqual(4);
    await until(() => r.router.stats({ service: 'web', revision: 'v1' }).responses['2xx'] === 5, 5000, '5 responses counted');
  });

  it('retries a refused connection on another ready instance of the same revision', async () => {
    const good = await upstream('good');
    const dead = await deadAddress();
    const r = await startRouter({ routes: serviceTable({ stable: [instance('dead', dead), instance('good', good.address)] }) });
    cleanups.push(r.close);
    const { replies, errors } = await load(40, 4, () => send(`${r.url}/`, { method: 'POST', body: 'payload' }));
    expect(errors).toEqual([]);
    expect(replies.map((x) => `${x.status} ${x.body}`)).toEqual(Array(40).fill('200 good'));
    expect(r.router.stats({ service: 'web', revision: 'v1' }).upstreamErrors).toBeGreaterThan(0);
  });

  it('answers 502 when the only instance refuses connections', async () => {
    const r = await startRouter({ routes: serviceTable({ stable: [instance('dead', await deadAddress())] }) });
    cleanups.push(r.close);
    const reply = await send(`${r.url}/`);
    expect(reply.status).toBe(502);
    expect(reply.headers['x-graylane-error']).toBe('upstream-connect-error');
    expect(reply.body).toMatch(/cannot connect to 127\.0\.0\.1:[0-9]+ \(ECONNREFUSED\)/);
    await until(() => r.router.stats({ service: 'web', revision: 'v1' }).responses['5xx'] === 1, 5000, '502 counted');
    expect(r.router.stats({ service: 'web', revision: 'v1' }).upstreamErrors).toBe(1);
  });
});

describe('no ready instance', () => {
  it('answers 503 with Retry-After at once, for unready, draining or missing instances', async () => {
    const u = await upstream('u');
    const r = await startRouter({ routes: serviceTable({ stable: [instance('u', u.address, { ready: false })] }) });
    cleanups.push(r.close);
    const reply = await send(`${r.url}/`);
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('1');
    expect(reply.headers['x-graylane-error']).toBe('no-ready-instance');
    r.router.setRouteTable(serviceTable({ stable: [instance('u', u.address, { draining: true })] }));
    expect((await send(`${r.url}/`)).status).toBe(503);
    r.router.setRouteTable(serviceTable({ stable: [] }));
    expect((await send(`${r.url}/`, { method: 'POST', body: 'x'.repeat(100_000) })).status).toBe(503);
    expect(u.hits).toBe(0);
    expect(r.router.stats({ service: 'web', revision: 'v1' }).rejected).toBe(3);
  });
});

describe('timeouts', () => {
  it('answers 504 when response headers do not come in time', async () => {
    const u = await upstream('mute', () => undefined);
    const r = await startRouter({ routes: serviceTable({ stable: [u] }), timeouts: { responseHeaderMs: 200 } });
    cleanups.push(r.close);
    const reply = await send(`${r.url}/`);
    expect(reply.status).toBe(504);
    expect(reply.headers['x-graylane-error']).toBe('upstream-response-timeout');
    expect(r.router.stats({ service: 'web', revision: 'v1' }).timeouts).toBe(1);
  });

  it('cuts a response whose upstream goes idle mid-body', async () => {
    const u = await upstream('stall', (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
    });
    const r = await startRouter({ routes: serviceTable({ stable: [u] }), timeouts: { idleMs: 200 } });
    cleanups.push(r.close);
    await expect(send(`${r.url}/`)).rejects.toThrow(/aborted|socket hang up|ECONNRESET/);
    await until(() => r.router.stats({ service: 'web', revision: 'v1' }).timeouts === 1, 5000, 'timeout counted');
  });

  it('answers 504 when connecting takes too long', async (ctx) => {
    // A listener that never accepts, its backlog already full: further SYNs go unanswered.
    const child = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const port = await new Promise<number | undefined>((resolve) => {
      child.on('error', () => resolve(undefined));
      child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    });
    cleanups.push(() => Promise.resolve(void signalChild(child, 'SIGTERM')));
    if (port === undefined) return ctx.skip('python3 is needed for a listener that never accepts');
    const fillers = Array.from({ length: 4 }, () => net.connect(port, '127.0.0.1').on('error', () => undefined));
    cleanups.push(() => Promise.resolve(fillers.forEach((f) => f.destroy())));
    await sleep(200);
    const r = await startRouter({ routes: serviceTable({ stable: [instance('slow', `127.0.0.1:${port}`)] }), timeouts: { connectMs: 200 } });
    cleanups.push(r.close);
    const reply = await send(`${r.url}/`);
    expect(reply.status).toBe(504);
    expect(reply.headers['x-graylane-error']).toBe('upstream-connect-timeout');
    expect(r.router.stats({ service: 'web', revision: 'v1' }).timeouts).toBeGreaterThanOrEqual(1);
  });

  it('a client that gives up cancels the upstream request', async () => {
    let closed = false;
    const u = await upstream('slow', (req) => req.socket.on('close', () => (closed = true)));
    const r = await startRouter({ routes: serviceTable({ stable: [u] }) });
    cleanups.push(r.close);
    const req = http.get(`${r.url}/`);
    req.on('error', () => undefined);
    await until(() => u.hits === 1, 5000, 'request upstream');
    req.destroy();
    await until(() => closed, 5000, 'upstream request cancelled');
    await until(() => r.router.stats({ service: 'web', revision: 'v1' }).responses['4xx'] === 1, 5000, '499 counted');
  });
});

describe('circuit breaking', () => {
  it('queues up to the limit, then answers 503 and counts the rejections', async () => {
    const release: (() => void)[] = [];
    const u = await upstream('busy', (_req, res) => release.push(() => res.end('done')));
    const r = await startRouter({ routes: serviceTable({ stable: [u] }), circuitBreaker: { maxConcurrentRequests: 1, maxPendingRequests: 1 } });
    cleanups.push(r.close);
    const pending = Array.from({ length: 5 }, () => send(`${r.url}/`));
    await until(() => release.length === 1, 5000, 'first request upstream');
    await until(() => r.router.stats({ service: 'web', revision: 'v1' }).rejected === 3, 5000, 'rejections');
    release.shift()!();
    await until(() => release.length === 1, 5000, 'queued request dispatched');
    release.shift()!();
    const replies = await Promise.all(pending);
    expect(replies.map((x) => x.status).sort()).toEqual([200, 200, 503, 503, 503]);
    expect(replies.find((x) => x.status === 503)!.headers['x-graylane-error']).toBe('overloaded');
  });
});

describe('outlier ejection', () => {
  it('ejects an instance after consecutive 5xx, probes it, and readmits it when healthy', async () => {
    let healthy = false;
    const bad = await upstream('bad', (req, res) => {
      res.statusCode = healthy ? 200 : 500;
      res.end(req.url === '/healthz' ? 'probe' : 'bad');
    });
    const good = await upstream('good');
    const events: RouterEvent[] = [];
    const r = await startRouter({
      routes: serviceTable({ stable: [bad, good], extra: { balancer: 'round-robin' } }),
      circuitBreaker: { consecutiveErrors: 3, baseEjectionMs: 200, probePath: '/healthz' },
      onEvent: (e) => events.push(e),
    });
    r.router.on('event', () => undefined);
    cleanups.push(r.close);
    for (let i = 0; i < 10; i++) await send(`${r.url}/`);
    expect(events.find((e) => e.type === 'instance-ejected')).toMatchObject({ instance: 'bad', ejectionMs: 200, reason: '3 consecutive failures (last: status 500)' });
    const hitsAfterEjection = bad.hits;
    for (let i = 0; i < 10; i++) expect((await send(`${r.url}/`)).body).toBe('good');
    // Probes failed meanwhile: the backoff grows.
    await until(() => events.filter((e) => e.type === 'instance-ejected').length >= 2, 5000, 'second ejection');
    expect(events.filter((e) => e.type === 'instance-ejected')[1]!.ejectionMs).toBe(400);
    healthy = true;
    await until(() => events.some((e) => e.type === 'instance-readmitted'), 5000, 'readmission');
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add((await send(`${r.url}/`)).body);
    expect(seen).toEqual(new Set(['bad', 'good']));
    expect(bad.hits).toBeGreaterThan(hitsAfterEjection);
  });

  it('never ejects the last usable instance of a revision', async () => {
    const bad = await upstream('bad', (_req, res) => {
      res.statusCode = 500;
      res.end('bad');
    });
    const events: RouterEvent[] = [];
    const r = await startRouter({ routes: serviceTable({ stable: [bad] }), circuitBreaker: { consecutiveErrors: 2 }, onEvent: (e) => events.push(e) });
    cleanups.push(r.close);
    for (let i = 0; i < 6; i++) expect((await send(`${r.url}/`)).status).toBe(500);
    expect(events).toEqual([]);
    expect(bad.hits).toBe(6);
  });
});

describe('an ejection by another worker of the same supervisor', () => {
  it('keeps the instance out with no probe and no event until that worker readmits it, or until the hold lapses', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    const events: RouterEvent[] = [];
    // The hold lasts the ejection, the probe (connect + response header timeouts) and a second.
    const r = await startRouter({
      routes: serviceTable({ stable: [a, b], extra: { balancer: 'round-robin' } }),
      timeouts: { connectMs: 100, responseHeaderMs: 100 },
      onEvent: (e) => events.push(e),
    });
    cleanups.push(r.close);
    const bodies = async (n: number) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push((await send(`${r.url}/`)).body);
      return new Set(out);
    };
    r.router.followPeerEjection({ instance: 'b', address: b.address, ejectionMs: 60_000 });
    expect(await bodies(8)).toEqual(new Set(['a']));
    r.router.followPeerEjection({ instance: 'b', address: b.address });
    expect(await bodies(8)).toEqual(new Set(['a', 'b']));
    r.router.followPeerEjection({ instance: 'b', address: b.address, ejectionMs: 100 });
    expect(await bodies(8)).toEqual(new Set(['a']));
    await sleep(1500);
    expect(await bodies(8)).toEqual(new Set(['a', 'b']));
    expect(b.hits).toBe(8);
    expect(events).toEqual([]);
    // Unknown instances are ignored.
    r.router.followPeerEjection({ instance: 'zz', address: '127.0.0.1:1', ejectionMs: 100 });
  });
});

describe('mirroring', () => {
  it('a mirror target that is down changes nothing for the client', async () => {
    const a = await upstream('a');
    const r = await startRouter({
      routes: serviceTable({ stable: [a], canary: [instance('dead', await deadAddress())], extra: { mirror: { revision: 'v2', percentage: 100 } } }),
    });
    cleanups.push(r.close);
    const { replies, errors } = await load(50, 5, () => send(`${r.url}/`, { method: 'POST', body: 'body' }));
    expect(errors).toEqual([]);
    expect(replies.map((x) => `${x.status} ${x.body}`)).toEqual(Array(50).fill('200 a'));
    // Counted as mirror traffic, apart from the revision's own figures.
    await until(() => r.router.totals({ service: 'web', revision: 'v2' }).mirrored.failures === 50, 5000, 'mirror errors counted');
    expect(r.router.stats({ service: 'web', revision: 'v2' })).toMatchObject({ requests: 0, upstreamErrors: 0 });
  });

  it('a slow mirror target never delays the client, gets the same body, and copies are bounded', async () => {
    const held: { body: string; mirror: string | undefined; release: () => void }[] = [];
    const slow = await upstream('slow', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => held.push({ body: Buffer.concat(chunks).toString(), mirror: req.headers['x-graylane-mirror'] as string | undefined, release: () => res.end('late') }));
    });
    const a = await upstream('a');
    const r = await startRouter({
      routes: serviceTable({ stable: [a], canary: [slow], extra: { mirror: { revision: 'v2', percentage: 100, match: [{ method: { exact: 'POST' } }] } } }),
      mirrorMaxConcurrent: 3,
    });
    cleanups.push(r.close);
    const replies = [];
    for (let i = 0; i < 6; i++) replies.push(await send(`${r.url}/m`, { method: 'POST', body: `payload-${i}` }));
    expect(replies.map((x) => x.body)).toEqual(Array(6).fill('a'));
    expect((await send(`${r.url}/m`)).body).toBe('a'); // GET: not mirrored (match)
    await until(() => held.length === 3, 5000, 'mirrored copies');
    // All client requests completed while the copies are still held upstream.
    expect(held.map((h) => h.body)).toEqual(['payload-0', 'payload-1', 'payload-2']);
    expect(held[0]!.mirror).toBe('1');
    await sleep(100);
    expect(held).toHaveLength(3);
    for (const h of held) h.release();
  });
});

describe('forwarding', () => {
  it('sets X-Forwarded-* and Forwarded, drops hop-by-hop headers, keeps Host', async () => {
    let seen: http.IncomingHttpHeaders = {};
    const u = await upstream('h', (req, res) => {
      seen = req.headers;
      res.setHeader('connection', 'x-secret');
      res.setHeader('x-secret', 'no');
      res.end('ok');
    });
    // The client is a trusted proxy here, so its X-Forwarded-For is appended to (see router.edges.test.ts for the edge).
    const r = await startRouter({ routes: serviceTable({ stable: [u] }), trustedProxies: ['127.0.0.1'] });
    cleanups.push(r.close);
    const reply = await send(`${r.url}/path?q=1`, { headers: { host: 'app.example', 'x-forwarded-for': '203.0.113.7', connection: 'x-private', 'x-private': 'drop me', te: 'trailers' } });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-secret']).toBeUndefined();
    expect(seen.host).toBe('app.example');
    expect(seen['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe('app.example');
    expect(seen.forwarded).toBe('for=127.0.0.1;host="app.example";proto=http');
    expect(seen['x-private']).toBeUndefined();
    expect(seen.te).toBeUndefined();
  });

  it('streams large request and response bodies, chunked or not', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 97);
    const u = await upstream('big', (req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => {
        res.setHeader('x-received', String(n));
        res.write(big.subarray(0, 1024 * 1024));
        res.end(big.subarray(1024 * 1024));
      });
    });
    const r = await startRouter({ routes: serviceTable({ stable: [u] }) });
    cleanups.push(r.close);
    const fixed = await send(`${r.url}/`, { method: 'PUT', body: big });
    expect(fixed.headers['x-received']).toBe(String(big.length));
    expect(fixed.body.length).toBe(big.length);
    const chunked = await new Promise<{ received: string; length: number }>((resolve, reject) => {
      const req = http.request(`${r.url}/`, { method: 'POST' }, (res) => {
        let length = 0;
        res.on('data', (c: Buffer) => (length += c.length));
        res.on('end', () => resolve({ received: String(res.headers['x-received']), length }));
      });
      req.on('error', reject);
      for (let i = 0; i < 5; i++) req.write(big.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024));
      req.end();
    });
    expect(chunked).toEqual({ received: String(big.length), length: big.length });
  });
});
