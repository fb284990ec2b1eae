import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRawNode, type Started } from '../../bench/lib-router-processes.js';

// The router bench's "raw node" row is a ceiling only while it really forwards what wrk sends.
let upstream: http.Server;
let address: string;
const started: Started[] = [];
beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    req.resume();
    if (req.url === '/chunked') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('no length');
      return;
    }
    const body = `${req.method} ${String(req.headers['x-probe'] ?? '')}`;
    res.writeHead(req.url === '/missing' ? 404 : 200, {
      'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'x-seen-path': req.url ?? '', 'x-seen-for': String(req.headers['x-forwarded-for'] ?? ''),
    });
    res.end(body);
  });
  upstream.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  address = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of started) await s.stop();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
});

/** Sends `raw` on one connection and resolves with everything read once `done` says so (or the connection ends). */
function exchange(url: string, raw: string, done: (text: string) => boolean): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(raw));
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (done(text)) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('the raw node proxy of the router bench', () => {
  it('forwards GETs with their path and headers, adds X-Forwarded-For, and passes status and body back, request after request on one connection', async () => {
    const raw = await startRawNode(address);
    started.push(raw);
    const get = await fetch(`${raw.url}/a/b?c=1`, { headers: { 'x-probe': 'yes' } });
    expect([get.status, get.headers.get('x-seen-path'), get.headers.get('x-seen-for'), await get.text()]).toEqual([200, '/a/b?c=1', '127.0.0.1', 'GET yes']);
    expect((await fetch(`${raw.url}/missing`)).status).toBe(404);
    // Pipelined, as a keep-alive client may: both answered, in order.
    const two = await exchange(raw.url, 'GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n', (t) => (t.match(/GET /g) ?? []).length === 2);
    expect([...two.matchAll(/x-seen-path: (\S+)/g)].map((m) => m[1])).toEqual(['/one', '/two']);
  });

  it('refuses with 501 and closes what it cannot frame: a request body, a response without Content-Length', async () => {
    const raw = await startRawNode(address);
    started.push(raw);
    const post = await exchange(raw.url, 'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc', () => false);
    expect(post).toMatch(/^HTTP\/1\.1 501 /);
    const chunked = await exchange(raw.url, 'GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n', () => false);
    expect(chunked).toMatch(/^HTTP\/1\.1 501 /);
  });
});
