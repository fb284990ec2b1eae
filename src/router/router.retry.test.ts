/**
 * Retries only what is safe to repeat (issue 10, item 2): an instance that dies with POSTs in
 * flight on kept-alive connections must not get them run again on another instance.
 */
import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { load, send, serviceTable, startRouter, startUpstream, until, type Upstream } from '../../test/fixtures/router/support.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Deliveries per request id, over every instance. */
type Deliveries = Map<string, string[]>;

/** An instance that records each request's id; `hold` keeps POSTs unanswered (it is about to die). */
async function recording(name: string, deliveries: Deliveries, hold: boolean): Promise<Upstream> {
  const u = await startUpstream(name, (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const id = req.headers['x-request-id'];
      if (typeof id === 'string') deliveries.set(id, [...(deliveries.get(id) ?? []), name]);
      if (req.method === 'POST' && hold) return;
      // Warm-up requests overlap, so each instance ends up with several kept-alive connections.
      setTimeout(() => res.end(name), 30);
    });
  });
  cleanups.push(() => u.close());
  return u;
}

describe('retries', () => {
  it('never delivers a POST twice when its instance dies with it in flight on a reused connection', async () => {
    const deliveries: Deliveries = new Map();
    const dying = await recording('dying', deliveries, true);
    const healthy = await recording('healthy', deliveries, false);
    const r = await startRouter({ routes: serviceTable({ stable: [dying, healthy] }) });
    cleanups.push(r.close);
    // Open several kept-alive upstream connections to each instance.
    const warm = await load(16, 8, () => send(`${r.url}/`));
    expect(warm.replies.every((x) => x.status === 200)).toBe(true);
    expect(dying.hits).toBeGreaterThan(0);

    const posts = load(8, 8, (i) => send(`${r.url}/orders`, { method: 'POST', headers: { 'x-request-id': `post-${i}` }, body: `order ${i}` }));
    await until(() => [...deliveries.keys()].filter((k) => k.startsWith('post-')).length === 8, 5000, 'every POST delivered once');
    const onDying = [...deliveries].filter(([k, v]) => k.startsWith('post-') && v.includes('dying')).map(([k]) => k);
    expect(onDying.length).toBeGreaterThan(0);
    // The instance dies: its connections close under the requests it holds.
    dying.server.closeAllConnections();
    const { replies, errors } = await posts;
    expect(errors).toEqual([]);

    const twice = [...deliveries].filter(([k, v]) => k.startsWith('post-') && v.length > 1);
    expect(twice).toEqual([]);
    // Those the dying instance may have acted on are reported as failed, not silently re-run.
    const failed = replies.filter((x) => x.status === 502);
    expect(failed.length).toBe(onDying.length);
    expect(failed.every((x) => x.headers['x-graylane-error'] === 'upstream-reset')).toBe(true);
    expect(replies.filter((x) => x.status === 200).length).toBe(8 - onDying.length);
  });

  it('still retries an idempotent PUT whose reused connection failed', async () => {
    const deliveries: Deliveries = new Map();
    const dying = await recording('dying', deliveries, false);
    const healthy = await recording('healthy', deliveries, false);
    const r = await startRouter({ routes: serviceTable({ stable: [dying, healthy] }) });
    cleanups.push(r.close);
    await load(16, 8, () => send(`${r.url}/`));
    // The dying instance now resets whatever arrives on its kept-alive connections.
    dying.server.removeAllListeners('request');
    dying.server.on('request', (req: http.IncomingMessage) => req.socket.destroy());
    const { replies } = await load(8, 8, (i) => send(`${r.url}/items/${i}`, { method: 'PUT', headers: { 'x-request-id': `put-${i}` }, body: 'v' }));
    expect(replies.map((x) => x.status)).toEqual(Array(8).fill(200));
  });
});
