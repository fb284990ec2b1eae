/**
 * The router's fast path (fast-front.ts) against node:http's server side: the same bytes sent to
 * a router with and without it get the same bytes back (Date aside), request by request, on one
 * connection: GET, HEAD, a chunked upstream response, 204, 404 without a route, pipelining, a
 * request the fast path leaves to node:http in the middle of a kept-alive connection. Then what
 * only the fast path does: its timeouts and its share of a router's stop.
 */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { rawRequest } from '../../../test/fixtures/router/raw-client.js';
import { serviceTable, startRouter, startUpstream, until, type Handler, type Upstream } from '../../../test/fixtures/router/support.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Answers by path: a length-framed body, a chunked one, 204, or a body echoing the request. */
const answer: Handler = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.url === '/chunked') {
      res.writeHead(200, { 'content-type': 'text/plain', date: 'Thu, 01 Jan 2026 00:00:00 GMT' });
      res.write('first;');
      setTimeout(() => res.end('second'), 5);
      return;
    }
    if (req.url?.startsWith('/big/') === true) {
      // Bodies either side of the size up to which the fast path writes head and body as one buffer.
      const size = Number(req.url.slice(5));
      const big = Buffer.alloc(size, 'abcdefghij');
      const chunked = req.url.endsWith('0');
      res.writeHead(200, { 'content-type': 'application/octet-stream', date: 'Thu, 01 Jan 2026 00:00:00 GMT', ...(chunked ? {} : { 'content-length': size }) });
      res.end(big);
      return;
    }
    if (req.url === '/none') {
      res.writeHead(204, { date: 'Thu, 01 Jan 2026 00:00:00 GMT' });
      res.end();
      return;
    }
    const body = `${req.method} ${req.url} ${Buffer.concat(chunks).toString()} xff=${String(req.headers['x-forwarded-for'])}`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'x-seen-cookie': String(req.headers.cookie ?? '') });
    res.end(body);
  });
};

async function routers(handler: Handler = answer): Promise<{ node: string; fast: string; upstream: Upstream }> {
  const upstream = await startUpstream('app', handler);
  cleanups.push(() => upstream.close());
  const [node, fast] = await Promise.all([startRouter({ routes: serviceTable({ stable: [upstream] }), fastPath: false }), startRouter({ routes: serviceTable({ stable: [upstream] }), fastPath: true })]);
  cleanups.push(node.close, fast.close);
  return { node: node.url, fast: fast.url, upstream };
}

/** The whole exchange on one connection, every Date value replaced (node's and ours tick apart). */
async function exchange(url: string, parts: string[]): Promise<string> {
  const reply = await rawRequest(url, parts, { gapMs: 30, timeoutMs: 5000 });
  return reply.text.replace(/^Date: .*$/gim, 'Date: (now)');
}

describe('the fast path answers as node:http does', () => {
  it.each([
    ['a GET and a HEAD, then Connection: close', ['GET /a?x=1 HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n', 'HEAD /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n']],
    ['a chunked upstream response and a 204', ['GET /chunked HTTP/1.1\r\nHost: h\r\n\r\n', 'GET /none HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n']],
    ['three pipelined requests in one write', ['GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n']],
    ['a POST after a GET: the rest of the connection is node:http\'s', ['GET /before HTTP/1.1\r\nHost: h\r\n\r\n', 'POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody', 'GET /after HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n']],
    ['a malformed request after a GET: node:http refuses it', ['GET /ok HTTP/1.1\r\nHost: h\r\n\r\n', 'GET /bad HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n']],
    ['bodies below, at and above the one-write size, length-framed and chunked', ['GET /big/16000 HTTP/1.1\r\nHost: h\r\n\r\n', 'GET /big/16383 HTTP/1.1\r\nHost: h\r\n\r\n', 'GET /big/70001 HTTP/1.1\r\nHost: h\r\n\r\n', 'GET /big/70000 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n']],
    ['a head split across writes', ['GET /sp', 'lit HTTP/1.1\r\nHo', 'st: h\r\nConnection: close\r\n\r\n']],
    ['a target the router normalises', ['GET /a/./b/../c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n']],
  ])('%s', async (_what, parts) => {
    const { node, fast } = await routers();
    const viaNode = await exchange(node, parts);
    expect(viaNode).toMatch(/^HTTP\/1\.1 /);
    expect(await exchange(fast, parts)).toBe(viaNode);
  });

  it('404 for a host no service routes, and 503 before the first table, with the router\'s words', async () => {
    const upstream = await startUpstream('app', answer);
    cleanups.push(() => upstream.close());
    const hosted = serviceTable({ stable: [upstream] });
    hosted.services[0]!.host = 'shop.test';
    for (const routes of [hosted, undefined]) {
      const [node, fast] = await Promise.all([startRouter({ routes, fastPath: false }), startRouter({ routes, fastPath: true })]);
      cleanups.push(node.close, fast.close);
      const parts = ['GET /x HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n'];
      const viaNode = await exchange(node.url, parts);
      expect(viaNode).toMatch(/^HTTP\/1\.1 (404|503) /);
      expect(await exchange(fast.url, parts)).toBe(viaNode);
    }
  });
});

describe('what only the fast path does', () => {
  it('a head that stops arriving gets 408 after clientHeaderMs, counted as a refusal', async () => {
    const upstream = await startUpstream('app', answer);
    cleanups.push(() => upstream.close());
    const r = await startRouter({ routes: serviceTable({ stable: [upstream] }), fastPath: true, timeouts: { clientHeaderMs: 200 } });
    cleanups.push(r.close);
    const reply = await rawRequest(r.url, ['GET / HTTP/1.1\r\nHo'], { timeoutMs: 3000 });
    expect(reply.status).toBe(408);
    expect(reply.text).toContain('x-graylane-error: header-timeout');
  });

  it('a kept-alive connection left idle is closed after idleMs', async () => {
    const upstream = await startUpstream('app', answer);
    cleanups.push(() => upstream.close());
    const r = await startRouter({ routes: serviceTable({ stable: [upstream] }), fastPath: true, timeouts: { idleMs: 300 } });
    cleanups.push(r.close);
    const started = Date.now();
    const reply = await rawRequest(r.url, ['GET / HTTP/1.1\r\nHost: h\r\n\r\n'], { timeoutMs: 5000 });
    expect(reply.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('a client that ends its side mid-request cancels the upstream request, counted as 499', async () => {
    let upstreamClosed = false;
    const upstream = await startUpstream('slow', (_req, res) => {
      res.on('close', () => { upstreamClosed = true; });
    });
    cleanups.push(() => upstream.close());
    const r = await startRouter({ routes: serviceTable({ stable: [upstream] }), fastPath: true });
    cleanups.push(r.close);
    const { port } = new URL(r.url);
    const client = net.connect(Number(port), '127.0.0.1', () => client.end('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
    client.on('error', () => undefined);
    await until(() => upstreamClosed, 5000, 'the upstream request closed');
    await until(() => r.router.stats({ service: 'web', revision: 'v1' }).responses['4xx'] === 1, 5000, '499 counted');
  });

  it('a stopping router closes the idle connections the fast path holds and serves the one in flight', async () => {
    let release: (() => void) | undefined;
    const upstream = await startUpstream('held', (_req, res) => {
      release = () => res.end('late');
    });
    cleanups.push(() => upstream.close());
    const r = await startRouter({ routes: serviceTable({ stable: [upstream] }), fastPath: true });
    const agent = new http.Agent({ keepAlive: true });
    cleanups.push(() => Promise.resolve(agent.destroy()));
    const inFlight = new Promise<string>((resolve, reject) => {
      http.get(r.url, { agent }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${res.headers.connection} ${text}`));
      }).on('error', reject);
    });
    await until(() => release !== undefined, 5000, 'the request upstream');
    const stopped = r.router.stop({ drainTimeoutMs: 5000 });
    setTimeout(() => release!(), 100);
    expect(await inFlight).toBe('200 close late');
    await stopped;
  });

  it('a stopping router closes a kept-alive connection the fast path holds idle at once, not at the drain deadline', async () => {
    const upstream = await startUpstream('app', answer);
    cleanups.push(() => upstream.close());
    const r = await startRouter({ routes: serviceTable({ stable: [upstream] }), fastPath: true });
    const { port } = new URL(r.url);
    const client = net.connect(Number(port), '127.0.0.1', () => client.write('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
    let closed = false;
    client.on('close', () => (closed = true));
    client.on('error', () => undefined);
    await new Promise((resolve) => client.once('data', resolve));
    const started = Date.now();
    await r.router.stop({ drainTimeoutMs: 10_000 });
    expect(Date.now() - started).toBeLessThan(5000);
    await until(() => closed, 2000, 'the idle connection closed');
  });
});
