import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeFloor, type Started } from '../../bench/lib-router-processes.js';

// The router bench's "node floor" row must be a working proxy, or its figures say nothing.
let upstream: http.Server;
let address: string;
const started: Started[] = [];
beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'text/plain', 'x-seen-path': req.url ?? '', 'x-seen-header': String(req.headers['x-probe'] ?? '') });
      res.end(`${req.method} ${Buffer.concat(chunks).toString()}`);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  address = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of started) await s.stop();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
});

describe('the node floor proxy of the router bench', () => {
  it('forwards method, path, headers and body, and passes the upstream status back', async () => {
    const floor = await startNodeFloor(address);
    started.push(floor);
    const get = await fetch(`${floor.url}/a/b?c=1`, { headers: { 'x-probe': 'yes' } });
    expect(get.status).toBe(200);
    expect(get.headers.get('x-seen-path')).toBe('/a/b?c=1');
    expect(get.headers.get('x-seen-header')).toBe('yes');
    expect(await get.text()).toBe('GET ');
    const post = await fetch(`${floor.url}/p`, { method: 'POST', body: 'payload' });
    expect(await post.text()).toBe('POST payload');
    expect((await fetch(`${floor.url}/missing`)).status).toBe(404);
  });

  it('answers 502 when the upstream does not answer', async () => {
    const gone = http.createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const port = (gone.address() as AddressInfo).port;
    await new Promise((r) => gone.close(r));
    const floor = await startNodeFloor(`127.0.0.1:${port}`);
    started.push(floor);
    expect((await fetch(`${floor.url}/`)).status).toBe(502);
  });
});
