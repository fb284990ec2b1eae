import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import {
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
import { expectAnsweredThenClosed } from '../../test/fixtures/router/raw-answer.js';
import { FRESH_CONNECTION_GRACE_MS } from './fresh-connections.js';
import type { RouterEvent } from './types.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const slowEcho = (ms: number): Handler => (req, res, u) => {
  req.resume();
  req.on('end', () => setTimeout(() => res.end(u.name), ms));
};

async function upstream(name: string, handler?: Handler): Promise<Upstream> {
  const u = await startUpstream(name, handler);
  cleanups.push(() => u.close());
  return u;
}

function connections(u: Upstream): Promise<number> {
  return new Promise((resolve, reject) => u.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

describe('draining', () => {
  it('removing an instance under keep-alive load loses no request, then closes its sockets', async () => {
    const a = await upstream('a', slowEcho(20));
    const b = await upstream('b', slowEcho(2));
    const events: RouterEvent[] = [];
    const r = await startRouter({ routes: serviceTable({ stable: [a, b] }), drainTimeoutMs: 10_000, onEvent: (e) => events.push(e) });
    cleanups.push(r.close);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
    cleanups.push(() => Promise.resolve(agent.destroy()));
    let sent = 0;
    const afterRemoval: string[] = [];
    const run = load(1500, 20, async () => {
      if (++sent === 400) r.router.setRouteTable(serviceTable({ stable: [b] }));
      const removed = sent >= 400;
      const reply = await send(`${r.url}/`, { agent });
      if (removed) afterRemoval.push(reply.body);
      return reply;
    });
    const { replies, errors } = await run;
    expect(errors).toEqual([]);
    expect(replies.filter((x) => x.status !== 200)).toEqual([]);
    expect(replies).toHaveLength(1500);
    expect(replies.filter((x) => x.body === 'a').length).toBeGreaterThan(0);
    // Requests sent after the removal never reach the removed instance.
    expect(afterRemoval.length).toBeGreaterThan(1000);
    expect(afterRemoval.filter((x) => x !== 'b')).toEqual([]);
    await until(() => events.some((e) => e.type === 'instance-drained' && e.instance === 'a'), 10_000, 'a drained');
    expect(events.find((e) => e.type === 'instance-draining')).toMatchObject({ service: 'web', revision: 'v1', instance: 'a', address: a.address });
    let open = await connections(a);
    for (let i = 0; i < 100 && open > 0; i++) {
      await sleep(20);
      open = await connections(a);
    }
    expect(open).toBe(0);
  });

  it('a connection accepted just before the router stops has its request answered, then closed, not reset', async () => {
    const a = await upstream('a');
    const r = await startRouter({ routes: serviceTable({ stable: [a] }) });
    cleanups.push(r.close);
    const port = Number(new URL(r.url).port);
    // Connected and accepted; its request is not read yet when the stop begins (a busy event loop).
    const socket = net.connect(port, '127.0.0.1');
    cleanups.push(() => Promise.resolve(void socket.destroy()));
    await new Promise((resolve) => socket.once('connect', resolve));
    await sleep(50);
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    const closed = new Promise<string | undefined>((resolve) => {
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
      socket.once('close', () => resolve(undefined));
    });
    const stopped = r.router.stop({ drainTimeoutMs: 5_000 });
    socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(await closed).toBeUndefined();
    expectAnsweredThenClosed(answer, 'a');
    const started = performance.now();
    await stopped;
    // Nothing fresh is left to wait for: the stop does not sit out the grace.
    expect(performance.now() - started).toBeLessThan(900);
  });

  it('an upgrade on an open connection while the router stops is 503 router-stopping with Retry-After, not a tunnel that would hold the stop', async () => {
    const a = await upstream('a');
    const r = await startRouter({ routes: serviceTable({ stable: [a] }) });
    cleanups.push(r.close);
    const socket = net.connect(Number(new URL(r.url).port), '127.0.0.1');
    cleanups.push(() => Promise.resolve(void socket.destroy()));
    await new Promise((resolve) => socket.once('connect', resolve));
    await sleep(50);
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    const stopped = r.router.stop({ drainTimeoutMs: 5_000 });
    socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer.toLowerCase()).toContain('x-graylane-error: router-stopping');
    expect(answer.toLowerCase()).toContain('retry-after: 1');
    expect(a.hits).toBe(0);
    await stopped;
  });

  it('a response begun after the stop says connection: close, so its keep-alive client does not send its next request on a connection about to close', async () => {
    const a = await upstream('a', slowEcho(300));
    const r = await startRouter({ routes: serviceTable({ stable: [a] }) });
    cleanups.push(r.close);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => Promise.resolve(agent.destroy()));
    const before = await send(`${r.url}/`, { agent });
    expect(before.headers.connection).toBe('keep-alive');
    // Sent on the kept-alive connection before the stop; the upstream answers after it began.
    const during = send(`${r.url}/`, { agent });
    await sleep(100);
    const stopped = r.router.stop({ drainTimeoutMs: 5_000 });
    const reply = await during;
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('a');
    expect(reply.headers.connection).toBe('close');
    await stopped;
  });

  it('a connection that connects and sends nothing holds a stopping router for at most the grace, not the drain deadline', async () => {
    const a = await upstream('a');
    const r = await startRouter({ routes: serviceTable({ stable: [a] }) });
    const socket = net.connect(Number(new URL(r.url).port), '127.0.0.1');
    cleanups.push(() => Promise.resolve(void socket.destroy()));
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    await sleep(50);
    const started = performance.now();
    await r.router.stop({ drainTimeoutMs: 20_000 });
    const ms = performance.now() - started;
    expect(ms).toBeGreaterThanOrEqual(FRESH_CONNECTION_GRACE_MS - 50);
    expect(ms).toBeLessThan(FRESH_CONNECTION_GRACE_MS + 5_000);
    await until(() => socket.destroyed || socket.readableEnded);
  });

  it('marking an instance draining in the table stops new requests to it, and undraining restores it', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    const r = await startRouter({ routes: serviceTable({ stable: [a, b] }) });
    cleanups.push(r.close);
    r.router.setRouteTable(serviceTable({ stable: [instance('a', a.address, { draining: true }), instance('b', b.address)] }));
    for (let i = 0; i < 20; i++) expect((await send(`${r.url}/`)).body).toBe('b');
    r.router.setRouteTable(serviceTable({ stable: [a, b] }));
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add((await send(`${r.url}/`)).body);
    expect(seen).toEqual(new Set(['a', 'b']));
  });

  it('a route-table swap storm under keep-alive load fails no request', async () => {
    const ups = await Promise.all(['a', 'b', 'c', 'd'].map((n) => upstream(n, slowEcho(1))));
    const [a, b, c, d] = ups as [Upstream, Upstream, Upstream, Upstream];
    const tables = [
      serviceTable({ stable: [a, b], canary: [c], weight: 10 }),
      serviceTable({ stable: [a, b], canary: [c, d], weight: 50 }),
      serviceTable({ stable: [b], canary: [c, d], weight: 90 }),
      serviceTable({ stable: [a, b], canary: [d], weight: 0 }),
    ];
    const r = await startRouter({ routes: tables[0]!, drainTimeoutMs: 10_000 });
    cleanups.push(r.close);
    let swaps = 0;
    const timer = setInterval(() => r.router.setRouteTable(tables[++swaps % tables.length]!), 3);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    cleanups.push(() => Promise.resolve(agent.destroy()));
    const { replies, errors } = await load(3000, 16, () => send(`${r.url}/`, { agent }));
    clearInterval(timer);
    expect(errors).toEqual([]);
    expect(replies.filter((x) => x.status !== 200)).toEqual([]);
    expect(swaps).toBeGreaterThan(20);
  });

  it('server-sent event streams end cleanly at the drain deadline', async () => {
    const a = await upstream('a', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const t = setInterval(() => res.write('data: tick\n\n'), 20);
      res.on('close', () => clearInterval(t));
    });
    const b = await upstream('b');
    const events: RouterEvent[] = [];
    const r = await startRouter({ routes: serviceTable({ stable: [a] }), drainTimeoutMs: 300, onEvent: (e) => events.push(e) });
    cleanups.push(r.close);
    const ended = new Promise<{ ticks: number; how: string }>((resolve) => {
      http.get(`${r.url}/events`, (res) => {
        let ticks = 0;
        res.on('data', () => ticks++);
        res.on('end', () => resolve({ ticks, how: 'end' }));
        res.on('error', () => resolve({ ticks, how: 'error' }));
      });
    });
    await sleep(100);
    r.router.setRouteTable(serviceTable({ stable: [b] }));
    const out = await ended;
    expect(out.how).toBe('end');
    expect(out.ticks).toBeGreaterThan(2);
    expect(events.find((e) => e.type === 'instance-drain-timeout')).toMatchObject({ instance: 'a', abandoned: 1 });
  });
});

describe('WebSocket', () => {
  it('passes messages both ways and gets a 1001 close at the drain deadline', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.on('message', (m, isBinary) => ws.send(isBinary ? m : `echo:${(m as Buffer).toString()}`, { binary: isBinary })));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = `127.0.0.1:${(server.address() as { port: number }).port}`;
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          wss.close();
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    const other = await upstream('other');
    const r = await startRouter({ routes: serviceTable({ stable: [instance('ws', address)] }), drainTimeoutMs: 400 });
    cleanups.push(r.close);
    const ws = new WebSocket(`${r.url.replace('http', 'ws')}/socket`);
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const replies: string[] = [];
    ws.on('message', (m) => replies.push((m as Buffer).toString()));
    ws.send('hello');
    ws.send(Buffer.alloc(70_000, 7), { binary: true });
    await until(() => replies.length === 2, 5000, 'echoes');
    expect(replies[0]).toBe('echo:hello');
    expect(replies[1]).toHaveLength(70_000);
    const removedAt = Date.now();
    r.router.setRouteTable(serviceTable({ stable: [other] }));
    // Still open before the deadline.
    ws.send('still there?');
    await until(() => replies.length === 3, 5000, 'echo during drain');
    expect(await closed).toBe(1001);
    expect(Date.now() - removedAt).toBeGreaterThanOrEqual(350);
  });

  it('refuses an upgrade with 503 when no instance is ready', async () => {
    const r = await startRouter({ routes: serviceTable({ stable: [instance('x', '127.0.0.1:9', { ready: false })] }) });
    cleanups.push(r.close);
    const ws = new WebSocket(`${r.url.replace('http', 'ws')}/`);
    ws.on('error', () => undefined);
    const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    ws.terminate();
    expect(status).toBe(503);
  });
});
