/**
 * Requests the router cannot or should not forward are refused as nginx does and charged to
 * nobody: no revision error, no instance failure, no guard input (issue 10, item 1).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { rawRequest } from '../../test/fixtures/router/raw-client.js';
import {
  deadAddress,
  instance,
  load,
  send,
  serviceTable,
  startRouter,
  startUpstream,
  until,
  type Handler,
  type Upstream,
} from '../../test/fixtures/router/support.js';
import type { RouterEvent } from './types.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function upstream(name: string, handler?: Handler): Promise<Upstream> {
  const u = await startUpstream(name, handler);
  cleanups.push(() => u.close());
  return u;
}

const V1 = { service: 'web', revision: 'v1' };

describe('refused for the client’s fault', () => {
  it('a duplicate Host under honest load gets 400 and charges neither the revision nor an instance', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    const events: RouterEvent[] = [];
    const r = await startRouter({ routes: serviceTable({ stable: [a, b] }), onEvent: (e) => events.push(e) });
    cleanups.push(r.close);
    const attack = load(40, 4, async () => {
      const reply = await rawRequest(r.url, ['GET / HTTP/1.1\r\nHost: one.example\r\nHost: two.example\r\nConnection: close\r\n\r\n']);
      return { status: reply.status, headers: {}, body: reply.text };
    });
    const honest = load(200, 4, () => send(`${r.url}/`));
    const [bad, good] = await Promise.all([attack, honest]);
    expect(bad.errors).toEqual([]);
    expect(bad.replies.map((x) => x.status)).toEqual(Array(40).fill(400));
    expect(bad.replies[0]!.body).toContain('x-graylane-error: duplicate-host');
    expect(good.errors).toEqual([]);
    expect(good.replies.every((x) => x.status === 200)).toBe(true);
    await until(() => r.router.totals(V1).responses['2xx'] === 200, 5000, 'honest responses counted');
    const t = r.router.totals(V1);
    expect({ failed: t.failed, fiveXx: t.responses['5xx'], upstreamErrors: t.upstreamErrors, requests: t.requests }).toEqual({ failed: 0, fiveXx: 0, upstreamErrors: 0, requests: 200 });
    expect(events.filter((e) => e.type === 'instance-ejected')).toEqual([]);
    expect(a.hits + b.hits).toBe(200);
  });

  it('counts refusals before routing in graylane_router_refused_total', async () => {
    const a = await upstream('a');
    const r = await startRouter({ routes: serviceTable({ stable: [a] }), admin: { host: '127.0.0.1', port: 0, token: 'x'.repeat(16) } });
    cleanups.push(r.close);
    await rawRequest(r.url, ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n']);
    const metrics = await send(`${r.adminUrl!}/metrics`, { headers: { authorization: `Bearer ${'x'.repeat(16)}` } });
    expect(metrics.body).toContain('graylane_router_refused_total{reason="duplicate-host"} 1');
  });

  it('a body that stops arriving gets 408, charged to the client only', async () => {
    const a = await upstream('a');
    const events: RouterEvent[] = [];
    const r = await startRouter({ routes: serviceTable({ stable: [a] }), timeouts: { clientBodyMs: 300 }, onEvent: (e) => events.push(e) });
    cleanups.push(r.close);
    const reply = await rawRequest(r.url, ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n', 'only ten b']);
    expect(reply.status).toBe(408);
    expect(reply.text).toContain('x-graylane-error: client-body-timeout');
    await until(() => r.router.totals(V1).clientErrors === 1, 5000, 'client error counted');
    const t = r.router.totals(V1);
    expect({ failed: t.failed, timeouts: t.timeouts, fiveXx: t.responses['5xx'] }).toEqual({ failed: 0, timeouts: 0, fiveXx: 0 });
    // The instance still serves, and nothing ejected it.
    expect((await send(`${r.url}/`)).status).toBe(200);
    expect(events).toEqual([]);
  });

  it('a body trickled slower than the response-header timeout (but steadily) is not a 504', async () => {
    const a = await upstream('a');
    const r = await startRouter({ routes: serviceTable({ stable: [a] }), timeouts: { responseHeaderMs: 300, clientBodyMs: 2000 } });
    cleanups.push(r.close);
    const parts = ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 8\r\nConnection: close\r\n\r\n', ...'12345678'.split('')];
    const reply = await rawRequest(r.url, parts, { gapMs: 100 });
    expect(reply.status).toBe(200);
    expect(r.router.totals(V1).timeouts).toBe(0);
  });

  it('a declared body over maxRequestBodyBytes gets 413 before routing', async () => {
    const a = await upstream('a');
    const r = await startRouter({ routes: serviceTable({ stable: [a] }), maxRequestBodyBytes: 1000 });
    cleanups.push(r.close);
    const reply = await send(`${r.url}/`, { method: 'POST', body: Buffer.alloc(1001, 120) });
    expect(reply.status).toBe(413);
    expect(reply.headers['x-graylane-error']).toBe('body-too-large');
    expect(a.hits).toBe(0);
    expect((await send(`${r.url}/`, { method: 'POST', body: Buffer.alloc(1000, 120) })).status).toBe(200);
  });

  it('a chunked body that grows over maxRequestBodyBytes gets 413 and is not charged', async () => {
    const a = await upstream('a');
    const r = await startRouter({ routes: serviceTable({ stable: [a] }), maxRequestBodyBytes: 1000 });
    cleanups.push(r.close);
    const chunk = (n: number) => `${n.toString(16)}\r\n${'x'.repeat(n)}\r\n`;
    const reply = await rawRequest(r.url, ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n', chunk(600), chunk(600)], { gapMs: 50 });
    expect(reply.status).toBe(413);
    await until(() => r.router.totals(V1).clientErrors === 1, 5000, 'client error counted');
    expect(r.router.totals(V1).failed).toBe(0);
  });

  it('maxRequestBodyBytes 0 means no limit', async () => {
    const a = await upstream('a');
    const r = await startRouter({ routes: serviceTable({ stable: [a] }), maxRequestBodyBytes: 0 });
    cleanups.push(r.close);
    const reply = await send(`${r.url}/`, { method: 'POST', body: Buffer.alloc(4 << 20, 120) });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-body-bytes']).toBe(String(4 << 20));
  });

  it('headers that do not arrive within clientHeaderMs get 408', async () => {
    const a = await upstream('a');
    const r = await startRouter({ routes: serviceTable({ stable: [a] }), timeouts: { clientHeaderMs: 400 } });
    cleanups.push(r.close);
    const reply = await rawRequest(r.url, ['GET / HTTP/1.1\r\nHost: a\r\n']);
    expect(reply.status).toBe(408);
    expect(reply.text.toLowerCase()).toContain('x-graylane-error: header-timeout');
    expect(a.hits).toBe(0);
  });

  it('a request that is not HTTP gets 400 and headers too large get 431, both marked malformed-request', async () => {
    const a = await upstream('a');
    const r = await startRouter({ routes: serviceTable({ stable: [a] }) });
    cleanups.push(r.close);
    const garbage = await rawRequest(r.url, ['GET / HTTP/1.1\r\nHost a\r\n\r\n']);
    expect(garbage.status).toBe(400);
    expect(garbage.text.toLowerCase()).toContain('x-graylane-error: malformed-request');
    const huge = await rawRequest(r.url, [`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`]);
    expect(huge.status).toBe(431);
    expect(huge.text.toLowerCase()).toContain('x-graylane-error: malformed-request');
    expect(a.hits).toBe(0);
  });
});

describe('accounting', () => {
  it('counts a 502 once: the error rate of a revision that fails everything is 100%, not more', async () => {
    const dead = await deadAddress();
    const r = await startRouter({ routes: serviceTable({ stable: [instance('dead', dead)] }) });
    cleanups.push(r.close);
    const { replies } = await load(10, 2, () => send(`${r.url}/`));
    expect(replies.map((x) => x.status)).toEqual(Array(10).fill(502));
    await until(() => r.router.stats(V1).responses['5xx'] === 10, 5000, 'responses counted');
    const s = r.router.stats(V1);
    expect(s.upstreamErrors).toBeGreaterThan(0);
    expect(s.failed).toBe(10);
    expect(s.failed / s.requests).toBe(1);
    expect(r.router.totals(V1).failed).toBe(10);
  });

  it('counts a response the upstream cuts off mid-body as a failure', async () => {
    const u = await upstream('cut', (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 50);
    });
    const r = await startRouter({ routes: serviceTable({ stable: [u] }) });
    cleanups.push(r.close);
    await send(`${r.url}/`).catch(() => undefined);
    await until(() => r.router.totals(V1).failed === 1, 5000, 'cut response counted');
    expect(r.router.totals(V1).responses['5xx']).toBe(0);
  });
});
