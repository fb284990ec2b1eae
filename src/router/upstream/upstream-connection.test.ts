/**
 * The router's own HTTP/1.1 client to one upstream instance, against real loopback servers: what
 * goes on the wire, what the handler hears and when, which failures it reports and how, and when a
 * socket is reused or closed. Every dispatch must end in exactly one `onComplete` or `onError`.
 */
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { KEEP_ALIVE_MARGIN_MS, UpstreamConnection, type UpstreamConnectionOptions, type UpstreamHandler, type UpstreamRequest } from './upstream-connection.js';
import { UpstreamError } from './upstream-error.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const cleanups: (() => void | Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Optional behaviour of a {@link Recorder}'s callbacks (they record in any case). */
interface Hooks {
  onWrite?(rec: Recorder): void;
  onHeaders?(rec: Recorder): boolean;
  onData?(rec: Recorder, chunk: Buffer): boolean;
  onComplete?(rec: Recorder): void;
  onError?(rec: Recorder, err: Error): void;
}

/** A handler that records every callback, in order. */
class Recorder implements UpstreamHandler {
  /** 'write', 'headers', 'data', 'complete', 'error:CODE'. */
  readonly events: string[] = [];
  abort: ((err: Error) => void) | undefined;
  resume: (() => void) | undefined;
  status = 0;
  statusText = '';
  headers: string[] = [];
  readonly chunks: Buffer[] = [];
  readonly errors: Error[] = [];
  readonly settled: Promise<void>;
  private settle!: () => void;

  constructor(private readonly hooks: Hooks = {}) {
    this.settled = new Promise((resolve) => (this.settle = resolve));
  }

  get writes(): number {
    return this.events.filter((e) => e === 'write').length;
  }

  /** onComplete and onError calls. */
  get terminals(): number {
    return this.events.filter((e) => e === 'complete' || e.startsWith('error')).length;
  }

  get body(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  get error(): Error | undefined {
    return this.errors[0];
  }

  onWrite(abort: (err: Error) => void): void {
    this.events.push('write');
    this.abort = abort;
    this.hooks.onWrite?.(this);
  }

  onHeaders(status: number, headers: string[], resume: () => void, statusText: string): boolean {
    this.events.push('headers');
    this.status = status;
    this.headers = headers;
    this.resume = resume;
    this.statusText = statusText;
    return this.hooks.onHeaders?.(this) ?? true;
  }

  onData(chunk: Buffer): boolean {
    this.events.push('data');
    this.chunks.push(Buffer.from(chunk));
    return this.hooks.onData?.(this, chunk) ?? true;
  }

  onComplete(): void {
    this.events.push('complete');
    this.settle();
    this.hooks.onComplete?.(this);
  }

  onError(err: Error): void {
    this.events.push(`error:${code(err) ?? err.message}`);
    this.errors.push(err);
    this.settle();
    this.hooks.onError?.(this, err);
  }
}

function code(err: Error | undefined): string | undefined {
  return err === undefined ? undefined : (err as NodeJS.ErrnoException).code;
}

/** Waits for the first onComplete/onError (at most `ms`), then a little longer to catch a second one. */
async function outcome(rec: Recorder, ms = 2000): Promise<void> {
  await Promise.race([rec.settled, delay(ms)]);
  await delay(30);
}

/** Asserts that every recorder heard exactly one onComplete or onError. */
function expectOneEach(...recs: Recorder[]): void {
  for (const rec of recs) expect(rec.terminals, `onComplete/onError calls of a dispatch whose callbacks were [${rec.events.join(', ')}]`).toBe(1);
}

/** Polls until `pred` holds (true) or `ms` passed (false). */
async function waitFor(pred: () => boolean, ms = 2000): Promise<boolean> {
  const end = performance.now() + ms;
  while (!pred()) {
    if (performance.now() > end) return false;
    await delay(5);
  }
  return true;
}

function connection(port: number, options: Partial<UpstreamConnectionOptions> = {}): UpstreamConnection {
  const conn = new UpstreamConnection({ host: '127.0.0.1', port, connectMs: 1000, idleMs: 1000, keepAliveMs: 5000, keepAliveMaxMs: 60_000, ...options });
  cleanups.push(() => conn.discard());
  return conn;
}

function get(path = '/', headers: string[] = []): UpstreamRequest {
  return { method: 'GET', path, headers, body: null };
}

/** A complete keep-alive response with a Content-Length body. */
function ok(body: string, extraHeaders = ''): string {
  return `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body, 'latin1')}\r\n${extraHeaders}\r\n${body}`;
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** One connection a {@link rawServer} accepted. */
interface RawConnection {
  socket: net.Socket;
  /** Every byte received, latin1. */
  received: string;
  closed: boolean;
  closedAt: number;
}

interface RawServer {
  port: number;
  connections: RawConnection[];
  /** Bytes received over all connections. */
  bytes(): number;
}

/**
 * A TCP server that hands every request head (bodiless requests only) to `onRequest`, which
 * answers with whatever bytes it likes on `conn.socket`.
 */
async function rawServer(onRequest: (conn: RawConnection, head: string, index: number) => void): Promise<RawServer> {
  const connections: RawConnection[] = [];
  let index = 0;
  const server = net.createServer((socket) => {
    const conn: RawConnection = { socket, received: '', closed: false, closedAt: 0 };
    connections.push(conn);
    let pending = '';
    socket.on('data', (data: Buffer) => {
      conn.received += data.toString('latin1');
      pending += data.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        onRequest(conn, head, index++);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      conn.closed = true;
      conn.closedAt = performance.now();
    });
  });
  const port = await listen(server);
  cleanups.push(async () => {
    for (const c of connections) c.socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port, connections, bytes: () => connections.reduce((n, c) => n + c.received.length, 0) };
}

/** A node:http server; `connections` are the sockets it accepted. */
async function httpServer(listener: http.RequestListener): Promise<{ port: number; connections: net.Socket[] }> {
  const server = http.createServer(listener);
  const connections: net.Socket[] = [];
  server.on('connection', (socket: net.Socket) => connections.push(socket));
  const port = await listen(server);
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port, connections };
}

/** A port nobody listens on (one was just listening there). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A loopback port whose listener accepts nothing (its thread is blocked) and whose accept queue is
 * full, so that the kernel drops further SYNs: a connect there stays pending. `full` is false when
 * the queue could not be filled.
 */
async function unacceptingPort(): Promise<{ port: number; full: boolean }> {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const net = require('node:net');
     const { workerData, parentPort } = require('node:worker_threads');
     const flag = new Int32Array(workerData);
     const server = net.createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       setImmediate(() => Atomics.wait(flag, 0, 0, 10000));
     });`,
    { eval: true, workerData: flag.buffer },
  );
  const fillers: net.Socket[] = [];
  cleanups.push(async () => {
    for (const s of fillers) s.destroy();
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    await worker.terminate();
  });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', (p: number) => resolve(p));
    worker.once('error', reject);
  });
  await delay(20);
  for (let i = 0; i < 10; i++) {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    fillers.push(s);
    const connected = await Promise.race([new Promise<boolean>((resolve) => s.once('connect', () => resolve(true))), delay(150).then(() => false)]);
    if (!connected) {
      s.destroy();
      return { port, full: true };
    }
  }
  return { port, full: false };
}

const STALE_CODES = ['UPSTREAM_CLOSED', 'ECONNRESET', 'EPIPE'];

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('UpstreamConnection: requests and keep-alive', () => {
  it('answers a GET with its body, and sends the next request on the same socket', async () => {
    const paths: string[] = [];
    const srv = await httpServer((req, res) => {
      paths.push(req.url ?? '');
      res.setHeader('x-reply', 'yes');
      res.end(req.url === '/one' ? 'first body' : 'second body');
    });
    const conn = connection(srv.port);
    expect(conn.connected).toBe(false);

    const first = new Recorder();
    conn.dispatch(get('/one'), first);
    await outcome(first);
    expectOneEach(first);
    expect(first.events[0]).toBe('write');
    expect(first.events.at(-1)).toBe('complete');
    expect(first.status).toBe(200);
    expect(first.statusText).toBe('OK');
    expect(first.headers).toContain('x-reply');
    expect(first.body).toBe('first body');
    expect(conn.connected).toBe(true);

    await delay(50);
    expect(conn.connected).toBe(true);
    const second = new Recorder();
    conn.dispatch(get('/two'), second);
    await outcome(second);
    expectOneEach(second);
    expect(second.events[0]).toBe('write');
    expect(second.body).toBe('second body');
    expect(conn.connected).toBe(true);
    expect(paths).toEqual(['/one', '/two']);
    expect(srv.connections).toHaveLength(1);
  });

  it('adds host when absent and keeps a given one, asks for keep-alive, and sends headers in order with their case', async () => {
    const seen: { rawHeaders: string[]; connection: string | undefined }[] = [];
    const srv = await httpServer((req, res) => {
      seen.push({ rawHeaders: req.rawHeaders, connection: req.headers.connection });
      res.end('ok');
    });
    const conn = connection(srv.port);
    const given = ['X-First', '1', 'accept', 'text/plain', 'X-Mixed-Case', 'Yes', 'x-dup', 'a', 'x-dup', 'b'];
    const first = new Recorder();
    conn.dispatch(get('/h', given), first);
    await outcome(first);
    const withHost = new Recorder();
    conn.dispatch(get('/h', ['Host', 'example.test:8080', 'X-After', 'z']), withHost);
    await outcome(withHost);
    expectOneEach(first, withHost);

    const pairs = (raw: string[]): [string, string][] => raw.flatMap((v, i) => (i % 2 === 0 ? [[v, raw[i + 1]!] as [string, string]] : []));
    const firstPairs = pairs(seen[0]!.rawHeaders);
    expect(firstPairs.filter(([n]) => n.toLowerCase() !== 'host' && n.toLowerCase() !== 'connection')).toEqual(pairs(given));
    expect(firstPairs.filter(([n]) => n.toLowerCase() === 'host').map(([, v]) => v)).toEqual([`127.0.0.1:${srv.port}`]);
    expect(seen[0]!.connection).toBe('keep-alive');

    const secondPairs = pairs(seen[1]!.rawHeaders);
    expect(secondPairs.filter(([n]) => n.toLowerCase() === 'host')).toEqual([['Host', 'example.test:8080']]);
    expect(secondPairs.filter(([n]) => n === 'X-After')).toEqual([['X-After', 'z']]);
    expect(seen[1]!.connection).toBe('keep-alive');
  });

  it('sends a streamed body without a length chunked and whole, and one with a content-length as it is', async () => {
    const seen: { te: string | undefined; cl: string | undefined; body: string }[] = [];
    const srv = await httpServer((req, res) => {
      let body = '';
      req.setEncoding('latin1');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        seen.push({ te: req.headers['transfer-encoding'], cl: req.headers['content-length'], body });
        res.end(`got ${body.length}`);
      });
    });
    const conn = connection(srv.port);

    const chunkedBody = new PassThrough();
    const chunked = new Recorder();
    conn.dispatch({ method: 'POST', path: '/upload', headers: ['content-type', 'text/plain'], body: chunkedBody }, chunked);
    chunkedBody.write('first,');
    await delay(20);
    chunkedBody.write('second,');
    await delay(20);
    chunkedBody.end('third');
    await outcome(chunked);
    expect(chunked.body).toBe('got 18');

    const lengthBody = new PassThrough();
    const withLength = new Recorder();
    conn.dispatch({ method: 'POST', path: '/upload', headers: ['content-length', '18'], body: lengthBody }, withLength);
    lengthBody.write('first,');
    await delay(20);
    lengthBody.write('second,');
    await delay(20);
    lengthBody.end('third');
    await outcome(withLength);
    expectOneEach(chunked, withLength);
    expect(withLength.body).toBe('got 18');

    expect(seen).toEqual([
      { te: 'chunked', cl: undefined, body: 'first,second,third' },
      { te: undefined, cl: '18', body: 'first,second,third' },
    ]);
    // Both bodies ended properly: the socket stayed usable.
    expect(srv.connections).toHaveLength(1);
  });

  it('closes the connection after a response with Connection: close, and connects anew for the next request', async () => {
    const srv = await rawServer((c) => c.socket.write(ok('bye', 'connection: close\r\n')));
    const conn = connection(srv.port);
    let connectedAtComplete: boolean | undefined;
    const first = new Recorder({ onComplete: () => (connectedAtComplete = conn.connected) });
    conn.dispatch(get(), first);
    await outcome(first);
    expect(first.body).toBe('bye');
    expect(connectedAtComplete).toBe(false);
    expect(conn.connected).toBe(false);
    // The client closed it (the server never did).
    expect(await waitFor(() => srv.connections[0]!.closed)).toBe(true);

    const second = new Recorder();
    conn.dispatch(get(), second);
    await outcome(second);
    expectOneEach(first, second);
    expect(second.events).toEqual(['write', 'headers', 'data', 'complete']);
    expect(srv.connections).toHaveLength(2);
  });

  it('closes an idle socket KEEP_ALIVE_MARGIN_MS before the upstream’s Keep-Alive timeout', async () => {
    const srv = await rawServer((c) => c.socket.write(ok('hi', 'keep-alive: timeout=3\r\n')));
    const conn = connection(srv.port, { keepAliveMs: 60_000 });
    let completedAt = 0;
    const rec = new Recorder({ onComplete: () => (completedAt = performance.now()) });
    conn.dispatch(get(), rec);
    await outcome(rec);
    expectOneEach(rec);
    expect(conn.connected).toBe(true);

    const expected = 3000 - KEEP_ALIVE_MARGIN_MS;
    expect(await waitFor(() => srv.connections[0]!.closed, expected + 600)).toBe(true);
    const after = srv.connections[0]!.closedAt - completedAt;
    expect(after).toBeGreaterThanOrEqual(expected - 50);
    expect(after).toBeLessThan(expected + 600);
    expect(conn.connected).toBe(false);

    const next = new Recorder();
    conn.dispatch(get(), next);
    await outcome(next);
    expectOneEach(next);
    expect(next.body).toBe('hi');
    expect(srv.connections).toHaveLength(2);
  });

  it('keeps an idle socket keepAliveMs when the upstream names no timeout', async () => {
    const srv = await rawServer((c) => c.socket.write(ok('hi')));
    const conn = connection(srv.port, { keepAliveMs: 200 });
    let completedAt = 0;
    const rec = new Recorder({ onComplete: () => (completedAt = performance.now()) });
    conn.dispatch(get(), rec);
    await outcome(rec);
    expectOneEach(rec);
    expect(await waitFor(() => srv.connections[0]!.closed, 1000)).toBe(true);
    const after = srv.connections[0]!.closedAt - completedAt;
    expect(after).toBeGreaterThanOrEqual(150);
    expect(after).toBeLessThan(600);
    expect(conn.connected).toBe(false);
  });

  it('keeps an idle socket no longer than keepAliveMaxMs, whatever the upstream names', async () => {
    const srv = await rawServer((c) => c.socket.write(ok('hi', 'keep-alive: timeout=60\r\n')));
    const conn = connection(srv.port, { keepAliveMs: 60_000, keepAliveMaxMs: 250 });
    let completedAt = 0;
    const rec = new Recorder({ onComplete: () => (completedAt = performance.now()) });
    conn.dispatch(get(), rec);
    await outcome(rec);
    expectOneEach(rec);
    expect(await waitFor(() => srv.connections[0]!.closed, 1000)).toBe(true);
    const after = srv.connections[0]!.closedAt - completedAt;
    expect(after).toBeGreaterThanOrEqual(200);
    expect(after).toBeLessThan(700);
  });
});

describe('UpstreamConnection: connecting and timeouts', () => {
  it('reports ECONNREFUSED when nobody listens, before writing anything', async () => {
    const conn = connection(await closedPort());
    const rec = new Recorder();
    conn.dispatch(get(), rec);
    expect(rec.events).toEqual([]);
    await outcome(rec);
    expectOneEach(rec);
    expect(code(rec.error)).toBe('ECONNREFUSED');
    expect(rec.writes).toBe(0);
    expect(conn.connected).toBe(false);
  });

  it('reports UPSTREAM_CONNECT_TIMEOUT when the connection is not established within connectMs', async (ctx) => {
    // A listener that accepts nothing and has a full accept queue: the kernel drops the SYN, so
    // the connect stays pending (on Linux; elsewhere the queue may not fill).
    const { port, full } = await unacceptingPort();
    if (!full) ctx.skip('the accept queue of a blocked loopback listener did not fill here: a connect cannot be kept pending');
    const conn = connection(port, { connectMs: 100 });
    const rec = new Recorder();
    const start = performance.now();
    conn.dispatch(get(), rec);
    await outcome(rec);
    const elapsed = performance.now() - start;
    expectOneEach(rec);
    expect(rec.error).toBeInstanceOf(UpstreamError);
    expect(code(rec.error)).toBe('UPSTREAM_CONNECT_TIMEOUT');
    expect(rec.writes).toBe(0);
    expect(elapsed).toBeGreaterThanOrEqual(90);
    expect(elapsed).toBeLessThan(1000);
    expect(conn.connected).toBe(false);
  });

  it('reports UPSTREAM_HEADERS_TIMEOUT when the upstream never answers within idleMs', async () => {
    const srv = await rawServer(() => {});
    const conn = connection(srv.port, { idleMs: 150 });
    const rec = new Recorder();
    const start = performance.now();
    conn.dispatch(get(), rec);
    await outcome(rec);
    const elapsed = performance.now() - start;
    expectOneEach(rec);
    expect(rec.events).toEqual(['write', 'error:UPSTREAM_HEADERS_TIMEOUT']);
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1000);
    expect(conn.connected).toBe(false);
    expect(await waitFor(() => srv.connections[0]!.closed)).toBe(true);
  });

  it('reports UPSTREAM_BODY_TIMEOUT when the body stops for idleMs', async () => {
    const srv = await rawServer((c) => c.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'));
    const conn = connection(srv.port, { idleMs: 150 });
    const rec = new Recorder();
    conn.dispatch(get(), rec);
    await outcome(rec);
    expectOneEach(rec);
    expect(rec.events).toEqual(['write', 'headers', 'data', 'error:UPSTREAM_BODY_TIMEOUT']);
    expect(rec.body).toBe('abc');
    expect(conn.connected).toBe(false);
    expect(await waitFor(() => srv.connections[0]!.closed)).toBe(true);
  });

  it('does not cut off a body that keeps coming, however long it takes in all', async () => {
    const srv = await rawServer((c) => {
      c.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n');
      let sent = 0;
      const timer = setInterval(() => {
        if (c.socket.destroyed) return clearInterval(timer);
        c.socket.write(String(sent));
        if (++sent === 6) clearInterval(timer);
      }, 80);
    });
    const conn = connection(srv.port, { idleMs: 150 });
    const rec = new Recorder();
    conn.dispatch(get(), rec);
    await outcome(rec);
    expectOneEach(rec);
    expect(rec.events.at(-1)).toBe('complete');
    expect(rec.body).toBe('012345');
  });
});

describe('UpstreamConnection: pausing the response', () => {
  it('delivers no more data after onData returns false until resume, and no timeout fires while paused', async () => {
    const piece = 16 * 1024;
    const srv = await rawServer((c) => {
      c.socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${4 * piece}\r\n\r\n`);
      c.socket.write('a'.repeat(piece));
      let n = 1;
      const timer = setInterval(() => {
        if (c.socket.destroyed) return clearInterval(timer);
        c.socket.write('bcd'[n - 1]!.repeat(piece));
        if (++n === 4) clearInterval(timer);
      }, 20);
    });
    const conn = connection(srv.port, { idleMs: 150 });
    let calls = 0;
    const rec = new Recorder({ onData: () => ++calls > 1 });
    conn.dispatch(get(), rec);
    expect(await waitFor(() => rec.chunks.length > 0)).toBe(true);
    // Paused longer than idleMs, while the rest of the body reached the socket.
    await delay(400);
    expect(rec.events).toEqual(['write', 'headers', 'data']);
    rec.resume!();
    await outcome(rec);
    expectOneEach(rec);
    expect(rec.events.at(-1)).toBe('complete');
    expect(rec.body).toBe('a'.repeat(piece) + 'b'.repeat(piece) + 'c'.repeat(piece) + 'd'.repeat(piece));
    expect(conn.connected).toBe(true);
  });

  it('holds back the rest of a chunked body that came in the same read when onData returns false', async () => {
    const srv = await rawServer((c) => c.socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n6\r\nsecond\r\n5\r\nthird\r\n0\r\n\r\n'));
    const conn = connection(srv.port, { idleMs: 150 });
    let calls = 0;
    const rec = new Recorder({ onData: () => ++calls > 1 });
    conn.dispatch(get(), rec);
    expect(await waitFor(() => rec.chunks.length > 0)).toBe(true);
    await delay(200);
    // The contract: "returning false pauses the rest until resume".
    expect(rec.events).toEqual(['write', 'headers', 'data']);
    rec.resume!();
    await outcome(rec);
    expectOneEach(rec);
    expect(rec.body).toBe('firstsecondthird');
  });

  it('holds back a body that came with the head when onHeaders returns false', async () => {
    const srv = await rawServer((c) => c.socket.write(ok('hello')));
    const conn = connection(srv.port, { idleMs: 150 });
    const rec = new Recorder({ onHeaders: () => false });
    conn.dispatch(get(), rec);
    expect(await waitFor(() => rec.events.includes('headers'))).toBe(true);
    await delay(200);
    // The contract: "returning false pauses the body until resume".
    expect(rec.events).toEqual(['write', 'headers']);
    rec.resume!();
    await outcome(rec);
    expectOneEach(rec);
    expect(rec.body).toBe('hello');
  });
});

describe('UpstreamConnection: an answer before the whole body', () => {
  it('completes, closes the connection, and lets the rest of a body held back for the socket run out', async () => {
    // The upstream answers at the request's head and reads no more: the body backs up in the socket.
    const srv = await rawServer((c) => {
      c.socket.pause();
      c.socket.write(ok('early'));
    });
    const conn = connection(srv.port);
    const body = new PassThrough();
    const rec = new Recorder();
    conn.dispatch({ method: 'POST', path: '/upload', headers: [], body }, rec);
    const piece = Buffer.alloc(64 * 1024, 120);
    let written = 0;
    const feeding = (async () => {
      for (let i = 0; i < 256; i++) {
        written += piece.length;
        if (!body.write(piece)) await once(body, 'drain');
      }
      body.end();
      await once(body, 'end');
    })();
    await outcome(rec);
    expectOneEach(rec);
    expect([rec.events.at(-1), rec.status, rec.body]).toEqual(['complete', 200, 'early']);
    expect(await Promise.race([feeding.then(() => 'ran out'), delay(5000).then(() => 'stuck')])).toBe('ran out');
    expect(written).toBe(16 * 1024 * 1024);
    expect(conn.connected).toBe(false);
  });
});

describe('UpstreamConnection: the upstream closing', () => {
  it('reports UPSTREAM_CLOSED when the upstream closes in the middle of the body', async () => {
    const srv = await rawServer((c) => c.socket.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'));
    const conn = connection(srv.port);
    const rec = new Recorder();
    conn.dispatch(get(), rec);
    await outcome(rec);
    expectOneEach(rec);
    expect(rec.events).toEqual(['write', 'headers', 'data', 'error:UPSTREAM_CLOSED']);
    expect(conn.connected).toBe(false);
  });

  it('reports UPSTREAM_CLOSED or ECONNRESET when the upstream closes before answering', async () => {
    const srv = await rawServer((c) => c.socket.end());
    const conn = connection(srv.port);
    const rec = new Recorder();
    conn.dispatch(get(), rec);
    await outcome(rec);
    expectOneEach(rec);
    expect(rec.writes).toBe(1);
    expect(['UPSTREAM_CLOSED', 'ECONNRESET']).toContain(code(rec.error));
    expect(conn.connected).toBe(false);
  });

  it('reconnects transparently once it saw the upstream close its idle socket', async () => {
    const srv = await rawServer((c) => c.socket.write(ok('pooled')));
    const conn = connection(srv.port);
    const first = new Recorder();
    conn.dispatch(get(), first);
    await outcome(first);
    expect(conn.connected).toBe(true);
    srv.connections[0]!.socket.destroy();
    expect(await waitFor(() => !conn.connected)).toBe(true);

    const second = new Recorder();
    conn.dispatch(get(), second);
    await outcome(second);
    expectOneEach(first, second);
    expect(second.events).toEqual(['write', 'headers', 'data', 'complete']);
    expect(second.body).toBe('pooled');
    expect(srv.connections).toHaveLength(2);
  });

  it('reports a stale code after onWrite, exactly once, for a request sent on a socket the upstream had just closed', async () => {
    // The upstream closes right after its response; the next request goes out before the client
    // saw the close (dispatched from onComplete, as a pool handing the connection to a waiter does).
    const srv = await rawServer((c) => c.socket.end(ok('last')));
    const conn = connection(srv.port);
    const second = new Recorder();
    let connectedAtDispatch: boolean | undefined;
    const first = new Recorder({
      onComplete: () => {
        connectedAtDispatch = conn.connected;
        conn.dispatch(get('/second'), second);
      },
    });
    conn.dispatch(get('/first'), first);
    await outcome(first);
    await outcome(second);
    expectOneEach(first, second);
    expect(first.body).toBe('last');
    if (connectedAtDispatch) {
      // Sent on the stale socket: the request may have reached the upstream, so onWrite came first.
      expect(second.writes).toBe(1);
      expect(STALE_CODES).toContain(code(second.error));
    } else {
      expect(second.events.at(-1)).toBe('complete');
    }
  });

  it('answers a retry dispatched from onError after the upstream closed the connection before answering', async () => {
    // The first connection is closed without an answer; later ones answer.
    const srv = await rawServer((c, _head, index) => {
      if (index === 0) c.socket.end();
      else c.socket.write(ok('retried'));
    });
    const conn = connection(srv.port, { idleMs: 500 });
    const retry = new Recorder();
    const first = new Recorder({ onError: () => conn.dispatch(get('/retry'), retry) });
    conn.dispatch(get('/first'), first);
    await outcome(first);
    await outcome(retry, 1500);
    expect(STALE_CODES).toContain(code(first.error));
    expectOneEach(first, retry);
    expect(retry.events).toEqual(['write', 'headers', 'data', 'complete']);
    expect(retry.body).toBe('retried');
  });

  it('answers a request dispatched from onComplete of a response delimited by the close', async () => {
    // A body with neither Content-Length nor chunked coding ends when the upstream closes.
    const srv = await rawServer((c, _head, index) => {
      if (index === 0) c.socket.end('HTTP/1.1 200 OK\r\n\r\nuntil close');
      else c.socket.write(ok('next'));
    });
    const conn = connection(srv.port, { idleMs: 500 });
    const next = new Recorder();
    const first = new Recorder({ onComplete: () => conn.dispatch(get('/next'), next) });
    conn.dispatch(get('/first'), first);
    await outcome(first);
    await outcome(next, 1500);
    expect(first.events.at(-1)).toBe('complete');
    expect(first.body).toBe('until close');
    expectOneEach(first, next);
    expect(next.events).toEqual(['write', 'headers', 'data', 'complete']);
    expect(next.body).toBe('next');
  });
});

describe('UpstreamConnection: refusals', () => {
  it('refuses a request target or header the wire cannot carry, asynchronously, writing nothing', async () => {
    const srv = await rawServer((c) => c.socket.write(ok('fine')));
    const conn = connection(srv.port);
    const warmUp = new Recorder();
    conn.dispatch(get(), warmUp);
    await outcome(warmUp);
    expectOneEach(warmUp);
    const bytesBefore = srv.bytes();

    const bad: UpstreamRequest[] = [
      get('no-slash'),
      get('/with space'),
      get('/control\x01char'),
      get('/tab\there'),
      get('/', ['x-injected', 'a\r\nX-Evil: 1']),
      get('/', ['x-lf', 'a\nb']),
      get('/', ['x-nul', 'a\0b']),
      get('/', ['bad name', 'v']),
      { method: 'GE T', path: '/', headers: [], body: null },
    ];
    for (const request of bad) {
      const rec = new Recorder();
      expect(() => conn.dispatch(request, rec)).not.toThrow();
      expect(rec.events, `synchronous callbacks for ${JSON.stringify(request)}`).toEqual([]);
      await outcome(rec);
      expectOneEach(rec);
      expect(rec.error).toBeInstanceOf(UpstreamError);
      expect(code(rec.error), JSON.stringify(request)).toBe('UPSTREAM_INVALID_REQUEST');
      expect(rec.writes).toBe(0);
    }
    await delay(50);
    expect(srv.bytes()).toBe(bytesBefore);

    // Nothing was written: the pooled connection stays open and carries the next valid request.
    expect(conn.connected).toBe(true);
    const after = new Recorder();
    conn.dispatch(get('/ok'), after);
    await outcome(after);
    expectOneEach(after);
    expect(after.body).toBe('fine');
    expect(srv.connections).toHaveLength(1);
  });

  it('reports UPSTREAM_BAD_RESPONSE for a response it refuses, and never reuses that socket', async () => {
    const srv = await rawServer((c, _head, index) => {
      if (index === 0) c.socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
      else c.socket.write(ok('good'));
    });
    const conn = connection(srv.port);
    const rec = new Recorder();
    conn.dispatch(get(), rec);
    await outcome(rec);
    expectOneEach(rec);
    expect(rec.error).toBeInstanceOf(UpstreamError);
    expect(code(rec.error)).toBe('UPSTREAM_BAD_RESPONSE');
    expect(rec.writes).toBe(1);
    expect(conn.connected).toBe(false);
    expect(await waitFor(() => srv.connections[0]!.closed)).toBe(true);

    const next = new Recorder();
    conn.dispatch(get(), next);
    await outcome(next);
    expectOneEach(next);
    expect(next.body).toBe('good');
    expect(srv.connections).toHaveLength(2);
  });
});

describe('UpstreamConnection: giving a request up', () => {
  it('fails the request with the error given to abort and closes the socket', async () => {
    const srv = await rawServer((c) => c.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial'));
    const conn = connection(srv.port);
    const rec = new Recorder();
    conn.dispatch(get(), rec);
    expect(await waitFor(() => rec.chunks.length > 0)).toBe(true);
    const why = new Error('the client went away');
    rec.abort!(why);
    await outcome(rec);
    expectOneEach(rec);
    expect(rec.events).toEqual(['write', 'headers', 'data', 'error:the client went away']);
    expect(rec.error).toBe(why);
    expect(conn.connected).toBe(false);
    expect(await waitFor(() => srv.connections[0]!.closed)).toBe(true);
  });

  it('writes nothing when abort is called from onWrite', async () => {
    const srv = await rawServer((c) => c.socket.write(ok('never')));
    const conn = connection(srv.port);
    const why = new Error('given up');
    const rec = new Recorder({ onWrite: (r) => r.abort!(why) });
    conn.dispatch(get(), rec);
    await outcome(rec);
    expectOneEach(rec);
    expect(rec.events).toEqual(['write', 'error:given up']);
    expect(rec.error).toBe(why);
    expect(conn.connected).toBe(false);
    await delay(50);
    expect(srv.bytes()).toBe(0);
  });

  it('ignores the abort of a request that already completed: the next request on the socket is not failed', async () => {
    const srv = await rawServer((c, _head, index) => {
      if (index === 0) c.socket.write(ok('one'));
      else setTimeout(() => c.socket.write(ok('two')), 50);
    });
    const conn = connection(srv.port);
    const first = new Recorder();
    conn.dispatch(get('/one'), first);
    await outcome(first);
    const second = new Recorder();
    conn.dispatch(get('/two'), second);
    expect(second.writes).toBe(1);
    // The first request's sender gives up late (its client went away after the response ended).
    first.abort!(new Error('late abort of the first request'));
    await outcome(second);
    expectOneEach(first, second);
    expect(second.events).toEqual(['write', 'headers', 'data', 'complete']);
    expect(second.body).toBe('two');
  });

  it('fails a request with onError when discarded while connecting, and calls nothing after', async () => {
    const srv = await rawServer((c) => c.socket.write(ok('never')));
    const conn = connection(srv.port);
    const rec = new Recorder();
    conn.dispatch(get(), rec);
    conn.discard();
    await outcome(rec);
    await delay(100);
    expectOneEach(rec);
    expect(rec.events).toEqual(['error:UPSTREAM_ABORTED']);
    expect(conn.discarded).toBe(true);
    expect(conn.connected).toBe(false);
    expect(srv.bytes()).toBe(0);

    // A discarded connection refuses further requests, asynchronously.
    const later = new Recorder();
    conn.dispatch(get(), later);
    expect(later.events).toEqual([]);
    await outcome(later);
    expectOneEach(later);
    expect(code(later.error)).toBe('UPSTREAM_ABORTED');
  });

  it('fails a request with the error given to discard', async () => {
    const { port, full } = await unacceptingPort();
    // Without a full queue the connect may succeed before the discard: still a discard mid-request.
    const conn = connection(port, { connectMs: 1000 });
    const rec = new Recorder();
    conn.dispatch(get(), rec);
    await delay(50);
    const why = new Error('instance removed');
    conn.discard(why);
    await outcome(rec);
    await delay(50);
    expectOneEach(rec);
    expect(rec.error).toBe(why);
    if (full) expect(rec.writes).toBe(0);
  });
});
