/**
 * What clients get when an upstream answers with bytes the router's own upstream client reads
 * (upstream/response-parser.ts): valid framings forwarded whole, a response it refuses answered
 * 502 and its connection never reused, so no client is served bytes meant for no request.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { instance, send, serviceTable, startRouter, until } from '../../test/fixtures/router/support.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A raw upstream: `answer(n)` gives the bytes written for the n-th request (counted over all
 * connections, from 0), one answer per request received.
 */
async function rawUpstream(answer: (n: number) => string): Promise<{ address: string; connections: number; requests: number }> {
  const state = { address: '', connections: 0, requests: 0 };
  const server = net.createServer((socket) => {
    state.connections++;
    let pending = '';
    socket.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      let end: number;
      while ((end = pending.indexOf('\r\n\r\n')) >= 0) {
        pending = pending.slice(end + 4);
        socket.write(answer(state.requests++), 'latin1');
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return state;
}

describe('upstream responses through the router', () => {
  it('forwards a chunked response with a trailer and a HEAD answer whole, on one kept-alive connection', async () => {
    const u = await rawUpstream((n) =>
      n === 0
        ? 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/plain\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: t\r\n\r\n'
        : 'HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n',
    );
    const r = await startRouter({ routes: serviceTable({ stable: [instance('u', u.address)] }) });
    cleanups.push(r.close);
    const chunked = await send(`${r.url}/`);
    expect([chunked.status, chunked.body, chunked.headers['content-type']]).toEqual([200, 'hello, world', 'text/plain']);
    const head = await send(`${r.url}/`, { method: 'HEAD' });
    expect([head.status, head.body, head.headers['content-length']]).toEqual([200, '', '11']);
    expect(u.connections).toBe(1);
  });

  it('answers 502 upstream-bad-response to a response framed two ways, counts it, and opens a new connection for the next request', async () => {
    const u = await rawUpstream((n) =>
      n === 0 ? 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n' : 'HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ngood',
    );
    const r = await startRouter({ routes: serviceTable({ stable: [instance('u', u.address)] }) });
    cleanups.push(r.close);
    const bad = await send(`${r.url}/`);
    expect(bad.status).toBe(502);
    expect(bad.headers['x-graylane-error']).toBe('upstream-bad-response');
    expect(bad.body).toMatch(/^graylane: 127\.0\.0\.1:\d+: the upstream's response is not valid HTTP\/1\.1: both Transfer-Encoding and Content-Length/);
    const good = await send(`${r.url}/`);
    expect([good.status, good.body]).toEqual([200, 'good']);
    expect(u.connections).toBe(2);
    await until(() => r.router.stats({ service: 'web', revision: 'v1' }).upstreamErrors === 1, 5000, 'the bad response counted as an upstream error');
  });

  it('never serves a second response smuggled behind the first to the next client', async () => {
    const u = await rawUpstream((n) =>
      n === 0 ? 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nsecret' : 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfresh',
    );
    const r = await startRouter({ routes: serviceTable({ stable: [instance('u', u.address)] }) });
    cleanups.push(r.close);
    const first = await send(`${r.url}/`);
    expect([first.status, first.body]).toEqual([200, 'hello']);
    const second = await send(`${r.url}/`);
    expect([second.status, second.body]).toEqual([200, 'fresh']);
    expect(u.connections).toBe(2);
  });

  it('answers an upload the upstream answered before reading it all, and serves the next request', async () => {
    let connections = 0;
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => {
      connections++;
      sockets.push(socket);
      socket.once('data', () => {
        if (connections === 1) {
          // Answered at the head; the rest of the 8 MB body is never read.
          socket.pause();
          socket.write('HTTP/1.1 401 Unauthorized\r\ncontent-length: 6\r\n\r\ndenied');
        } else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    // A paused socket never reads its end: closed by hand.
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          server.close(() => r());
          for (const socket of sockets) socket.destroy();
        }),
    );
    const r = await startRouter({ routes: serviceTable({ stable: [instance('u', `127.0.0.1:${(server.address() as net.AddressInfo).port}`)] }) });
    cleanups.push(r.close);
    const upload = await send(`${r.url}/upload`, { method: 'POST', body: Buffer.alloc(8 * 1024 * 1024, 120) });
    expect([upload.status, upload.body]).toEqual([401, 'denied']);
    const next = await send(`${r.url}/`);
    expect([next.status, next.body]).toEqual([200, 'ok']);
  });

  it('cuts the client\'s response when the upstream closes in the middle of a chunked body, and counts it', async () => {
    const server = await closingUpstream('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel');
    const r = await startRouter({ routes: serviceTable({ stable: [instance('u', server)] }) });
    cleanups.push(r.close);
    await expect(send(`${r.url}/`)).rejects.toThrow();
    await until(() => r.router.totals({ service: 'web', revision: 'v1' }).failed === 1, 5000, 'the cut response counted as failed');
    expect(r.router.stats({ service: 'web', revision: 'v1' }).upstreamErrors).toBe(1);
  });
});

/** An upstream that writes `bytes` to the first request on each connection, then closes its side. */
async function closingUpstream(bytes: string): Promise<string> {
  const server = net.createServer((socket) => {
    socket.once('data', () => socket.end(bytes, 'latin1'));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}
