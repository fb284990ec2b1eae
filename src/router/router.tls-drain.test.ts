/**
 * A stopping router's HTTPS listener: what a client connected over TLS sees. As on the plain
 * listener (router.drain.test.ts), a connection accepted before the stop has its first request
 * answered, and one that is idle is closed, not cut, so its client reconnects (to another worker,
 * when a supervisor replaces this one) without a failed request.
 */
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { hasOpenssl, makeCertificate, tempDir } from '../../test/fixtures/router/certificates.js';
import { serviceTable, sleep, startRouter, startUpstream, type Upstream } from '../../test/fixtures/router/support.js';
import { expectAnsweredThenClosed } from '../../test/fixtures/router/raw-answer.js';
import { FRESH_CONNECTION_GRACE_MS } from './fresh-connections.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An upstream that answers its name, after `delayMs` for paths under /slow. */
async function upstream(name: string): Promise<Upstream> {
  const u = await startUpstream(name, (req, res) => {
    req.resume();
    const answer = () => res.end(name);
    if (req.url?.startsWith('/slow')) setTimeout(answer, 800);
    else answer();
  });
  cleanups.push(() => u.close());
  return u;
}

async function tlsRouter(): Promise<{ stop: (drainTimeoutMs: number) => Promise<void>; port: number }> {
  const d = tempDir();
  cleanups.push(d.remove);
  const cert = makeCertificate(d.dir, 'shop', 'shop-cert', ['shop.example.com']);
  const a = await upstream('a');
  const r = await startRouter({ routes: serviceTable({ stable: [a] }), tls: { listen: { host: '127.0.0.1', port: 0 }, certificates: [{ hosts: ['shop.example.com'], ...cert }] } });
  cleanups.push(r.close);
  return { stop: (drainTimeoutMs) => r.router.stop({ drainTimeoutMs }), port: Number(new URL(r.httpsUrl!).port) };
}

/** What the client saw on `socket` until it closed: the bytes, and the error code if it was cut. */
function outcome(socket: net.Socket): Promise<{ answer: string; error: string | undefined }> {
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString()));
  return new Promise((resolve) => {
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ answer, error: err.code ?? err.message }));
    socket.once('close', () => resolve({ answer, error: undefined }));
  });
}

function secure(socket: tls.TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => socket.once('secureConnect', () => resolve()).once('error', reject));
}

const tlsOptions = { servername: 'shop.example.com', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] };

describe.skipIf(!hasOpenssl())('a stopping router, over TLS', () => {
  it('answers, then closes, an HTTP/1.1 connection whose handshake was done before the stop and whose request comes after it', async () => {
    const r = await tlsRouter();
    const socket = tls.connect({ port: r.port, host: '127.0.0.1', ...tlsOptions });
    cleanups.push(() => void socket.destroy());
    await secure(socket);
    await sleep(50);
    const seen = outcome(socket);
    const stopped = r.stop(5_000);
    socket.write('GET / HTTP/1.1\r\nhost: shop.example.com\r\n\r\n');
    const { answer, error } = await seen;
    expect(error).toBeUndefined();
    expectAnsweredThenClosed(answer, 'a');
    const started = performance.now();
    await stopped;
    expect(performance.now() - started).toBeLessThan(900);
  });

  it('completes the handshake of a connection accepted before the stop, and answers its request', async () => {
    const r = await tlsRouter();
    const raw = net.connect(r.port, '127.0.0.1');
    cleanups.push(() => void raw.destroy());
    await new Promise((resolve) => raw.once('connect', resolve));
    await sleep(50);
    const stopped = r.stop(5_000);
    const socket = tls.connect({ socket: raw, ...tlsOptions });
    const seen = outcome(socket);
    await secure(socket);
    socket.write('GET / HTTP/1.1\r\nhost: shop.example.com\r\n\r\n');
    const { answer, error } = await seen;
    expect(error).toBeUndefined();
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    await stopped;
  });

  it('closes an idle HTTP/1.1 keep-alive connection when the stop begins, while a request on another one is still answered', async () => {
    const r = await tlsRouter();
    const idle = tls.connect({ port: r.port, host: '127.0.0.1', ...tlsOptions });
    const busy = tls.connect({ port: r.port, host: '127.0.0.1', ...tlsOptions });
    cleanups.push(() => void idle.destroy(), () => void busy.destroy());
    await Promise.all([secure(idle), secure(busy)]);
    let first = '';
    idle.on('data', (d: Buffer) => (first += d.toString()));
    idle.write('GET / HTTP/1.1\r\nhost: shop.example.com\r\n\r\n');
    for (let i = 0; i < 100 && !first.endsWith('a'); i++) await sleep(10);
    expect(first).toMatch(/keep-alive/i);
    const idleEnded = new Promise<number>((resolve) => idle.once('end', () => resolve(performance.now())));
    const busySeen = outcome(busy);
    busy.write('GET /slow HTTP/1.1\r\nhost: shop.example.com\r\n\r\n');
    await sleep(100);
    const started = performance.now();
    const stopped = r.stop(5_000);
    // Ended by the router (a TLS close and a FIN) well before the slow request is done.
    expect((await idleEnded) - started).toBeLessThan(500);
    const { answer, error } = await busySeen;
    expect(error).toBeUndefined();
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    await stopped;
  });

  it('answers an HTTP/2 request sent on a session opened before the stop, with no stream yet', async () => {
    const r = await tlsRouter();
    const session = http2.connect(`https://127.0.0.1:${r.port}`, { servername: 'shop.example.com', rejectUnauthorized: false });
    cleanups.push(() => void session.destroy());
    session.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => session.once('connect', () => resolve()).once('error', reject));
    await sleep(50);
    const stopped = r.stop(5_000);
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const stream = session.request({ ':path': '/', ':authority': 'shop.example.com' });
      let status = 0;
      let body = '';
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.on('data', (c: Buffer) => (body += c.toString()));
      stream.on('end', () => resolve({ status, body }));
      stream.on('error', reject);
      stream.end();
    });
    expect(reply).toEqual({ status: 200, body: 'a' });
    await stopped;
  });

  it('a TLS connection that sends nothing holds the stop for at most the grace', async () => {
    const r = await tlsRouter();
    const socket = tls.connect({ port: r.port, host: '127.0.0.1', ...tlsOptions });
    cleanups.push(() => void socket.destroy());
    socket.on('error', () => undefined);
    await secure(socket);
    const started = performance.now();
    await r.stop(20_000);
    const ms = performance.now() - started;
    expect(ms).toBeGreaterThanOrEqual(FRESH_CONNECTION_GRACE_MS - 50);
    expect(ms).toBeLessThan(FRESH_CONNECTION_GRACE_MS + 5_000);
  });

  it('a client that connects and never starts its TLS handshake holds the stop for at most the grace (the listener waited for it to leave)', async () => {
    const r = await tlsRouter();
    const raw = net.connect(r.port, '127.0.0.1');
    cleanups.push(() => void raw.destroy());
    raw.on('error', () => undefined);
    await new Promise((resolve) => raw.once('connect', resolve));
    const started = performance.now();
    await r.stop(20_000);
    expect(performance.now() - started).toBeLessThan(FRESH_CONNECTION_GRACE_MS + 5_000);
  });
});
