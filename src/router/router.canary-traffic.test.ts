/**
 * Requests on their way to a canary: mirroring never runs a request twice on the revision serving
 * it, mirrored copies stay out of the canary's own figures, and a canary without a ready instance
 * gets no traffic (its requests fall back to stable, counted).
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  instance,
  load,
  send,
  serviceTable,
  sleep,
  startRouter,
  startUpstream,
  until,
  type Upstream,
} from '../../test/fixtures/router/support.js';
import { seededRandom } from '../../test/fixtures/seeded-random.js';
import type { MirrorRoute, RouteMatch } from './types.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An upstream that records every delivery by request id, telling copies from real requests. */
async function recording(name: string, status: (mirrored: boolean) => number = () => 200): Promise<Upstream & { deliveries: Map<string, number>; copies: Set<string> }> {
  const deliveries = new Map<string, number>();
  const copies = new Set<string>();
  const u = await startUpstream(name, (req, res) => {
    const id = String(req.headers['x-request-id']);
    const mirrored = req.headers['x-graylane-mirror'] === '1';
    deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
    if (mirrored) copies.add(id);
    req.resume();
    req.on('end', () => {
      res.writeHead(status(mirrored), { 'content-type': 'text/plain' });
      res.end(name);
    });
  });
  cleanups.push(() => u.close());
  return Object.assign(u, { deliveries, copies });
}

const mirrorAll: MirrorRoute = { revision: 'v2', percentage: 100 };
const headerRoute: RouteMatch[] = [{ match: [{ headerName: 'x-canary', headerValue: { exact: 'yes' } }], revision: 'v2' }];

function post(url: string, id: string, headers: http.OutgoingHttpHeaders = {}) {
  return send(`${url}/orders`, { method: 'POST', body: `order ${id}`, headers: { 'x-request-id': id, ...headers } });
}

describe('mirroring never doubles a request on the revision serving it', () => {
  it('a POST routed to the canary by header reaches it exactly once while a mirror to it is active', async () => {
    const stable = await recording('stable');
    const canary = await recording('canary');
    const r = await startRouter({ routes: serviceTable({ stable: [stable], canary: [canary], weight: 0, extra: { matches: headerRoute, mirror: mirrorAll } }) });
    cleanups.push(r.close);
    for (let i = 0; i < 5; i++) expect((await post(r.url, `h${i}`, { 'x-canary': 'yes' })).body).toBe('canary');
    for (let i = 0; i < 5; i++) expect((await post(r.url, `s${i}`)).body).toBe('stable');
    // Stable's requests are copied to the canary; wait for the copies, then count.
    await until(() => canary.copies.size === 5, 5000, 'mirrored copies of stable requests');
    for (let i = 0; i < 5; i++) {
      expect(canary.deliveries.get(`h${i}`)).toBe(1);
      expect(stable.deliveries.get(`h${i}`)).toBeUndefined();
      expect(canary.deliveries.get(`s${i}`)).toBe(1);
      expect(stable.deliveries.get(`s${i}`)).toBe(1);
    }
    expect([...canary.copies].sort()).toEqual(['s0', 's1', 's2', 's3', 's4']);
  });

  it('at 50% with a mirror, no canary-served request is delivered twice and stable-served ones are copied once', async () => {
    const stable = await recording('stable');
    const canary = await recording('canary');
    const r = await startRouter({ routes: serviceTable({ stable: [stable], canary: [canary], weight: 50, extra: { mirror: mirrorAll } }), random: seededRandom(7) });
    cleanups.push(r.close);
    const { replies, errors } = await load(200, 8, (i) => post(r.url, `r${i}`));
    expect(errors).toEqual([]);
    const servedByStable = replies.filter((x) => x.body === 'stable').length;
    expect(servedByStable).toBeGreaterThan(50);
    expect(200 - servedByStable).toBeGreaterThan(50);
    await until(() => canary.copies.size === servedByStable, 5000, 'copies of stable-served requests');
    for (let i = 0; i < 200; i++) {
      const id = `r${i}`;
      expect(canary.deliveries.get(id)).toBe(1);
      expect(stable.deliveries.get(id) ?? 0).toBe(canary.copies.has(id) ? 1 : 0);
    }
  });

  it('mirrored copies leave the canary\'s own request and error counts alone; they are counted as mirror traffic', async () => {
    const stable = await recording('stable');
    // The canary fails every copy but serves its own users well.
    const canary = await recording('canary', (mirrored) => (mirrored ? 500 : 200));
    const r = await startRouter({
      routes: serviceTable({ stable: [stable], canary: [canary], weight: 50, extra: { mirror: mirrorAll } }),
      random: seededRandom(11),
      admin: { host: '127.0.0.1', port: 0, token: 'a-token-of-16-chars-or-more', metricsWithoutToken: true },
    });
    cleanups.push(r.close);
    const { replies } = await load(100, 4, (i) => post(r.url, `m${i}`));
    expect(replies.every((x) => x.status === 200)).toBe(true);
    const canaryServed = replies.filter((x) => x.body === 'canary').length;
    const copies = 100 - canaryServed;
    await until(() => r.router.totals({ service: 'web', revision: 'v2' }).mirrored.failures === copies, 5000, 'mirror failures counted');
    await until(() => r.router.totals({ service: 'web', revision: 'v2' }).responses['2xx'] === canaryServed, 5000, 'canary responses counted');
    const totals = r.router.totals({ service: 'web', revision: 'v2' });
    expect(totals).toMatchObject({ requests: canaryServed, responses: { '5xx': 0 }, upstreamErrors: 0, timeouts: 0, mirrored: { requests: copies, failures: copies } });
    const stats = r.router.stats({ service: 'web', revision: 'v2' });
    expect(stats).toMatchObject({ requests: canaryServed, responses: { '2xx': canaryServed, '5xx': 0 }, upstreamErrors: 0 });
    const metrics = (await send(`${r.adminUrl}/metrics`)).body;
    expect(metrics).toContain(`graylane_router_requests_total{service="web",revision="v2"} ${canaryServed}`);
    expect(metrics).toContain(`graylane_router_mirror_requests_total{service="web",revision="v2"} ${copies}`);
    expect(metrics).toContain(`graylane_router_mirror_failures_total{service="web",revision="v2"} ${copies}`);
  });
});

describe('a canary with no ready instance gets no traffic', () => {
  it('its only instance dies at 25% under load: users get no 503, and the fallback is counted per revision', async () => {
    const stable = [await recording('stable-1'), await recording('stable-2')];
    const canary = await recording('canary');
    const table = (canaryReady: boolean) =>
      serviceTable({ stable, canary: [instance('canary', canary.address, { ready: canaryReady })], weight: 25 });
    const r = await startRouter({
      routes: table(true),
      random: seededRandom(3),
      admin: { host: '127.0.0.1', port: 0, token: 'a-token-of-16-chars-or-more', metricsWithoutToken: true },
    });
    cleanups.push(r.close);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    cleanups.push(() => Promise.resolve(agent.destroy()));
    let sent = 0;
    const running = load(600, 8, async (i) => {
      sent++;
      const reply = await send(`${r.url}/x`, { headers: { 'x-request-id': `l${i}` }, agent });
      await sleep(1);
      return reply;
    });
    await until(() => sent >= 150, 10_000, 'load under way');
    // The canary stops being ready (its probe fails, or the runtime saw it die) and the controller
    // writes that into the table; once its last requests are answered, the process is gone.
    r.router.setRouteTable(table(false));
    const settled = () => {
      const t = r.router.totals({ service: 'web', revision: 'v2' });
      const n = t.responses;
      return t.requests === n['1xx'] + n['2xx'] + n['3xx'] + n['4xx'] + n['5xx'];
    };
    await until(settled, 5000, 'requests in flight on the canary answered');
    canary.server.close();
    canary.server.closeAllConnections();
    const { replies, errors } = await running;
    expect(errors).toEqual([]);
    expect(replies.filter((x) => x.status !== 200).map((x) => `${x.status} ${x.headers['x-graylane-error'] as string}`)).toEqual([]);
    expect(replies.filter((x) => x.body === 'canary').length).toBeGreaterThan(0);
    const totals = r.router.totals({ service: 'web', revision: 'v2' });
    expect(totals.rejected).toBe(0);
    expect(totals.fallbacks).toBeGreaterThan(0);
    expect(r.router.stats({ service: 'web', revision: 'v2' }).fallbacks).toBe(totals.fallbacks);
    expect(r.router.totals({ service: 'web', revision: 'v1' }).fallbacks).toBe(0);
    const metrics = (await send(`${r.adminUrl}/metrics`)).body;
    expect(metrics).toContain(`graylane_router_fallbacks_total{service="web",revision="v2"} ${totals.fallbacks}`);
  });

  it('header routes and sticky canary clients fall back to stable too, and come back once it is ready', async () => {
    const stable = await recording('stable');
    const canary = await recording('canary');
    const table = (canaryReady: boolean) =>
      serviceTable({
        stable: [stable],
        canary: [instance('canary', canary.address, { ready: canaryReady })],
        weight: 50,
        extra: { matches: headerRoute, stickyCookie: 'gl-web' },
      });
    // Every new client is assigned to the canary by weight.
    const r = await startRouter({ routes: table(false), random: () => 0 });
    cleanups.push(r.close);
    const byHeader = await send(`${r.url}/`, { headers: { 'x-canary': 'yes', 'x-request-id': 'a' } });
    expect(`${byHeader.status} ${byHeader.body}`).toBe('200 stable');
    const byCookie = await send(`${r.url}/`, { headers: { cookie: 'gl-web=v2', 'x-request-id': 'b' } });
    expect(`${byCookie.status} ${byCookie.body}`).toBe('200 stable');
    // A new client is assigned the side it actually got.
    const fresh = await send(`${r.url}/`, { headers: { 'x-request-id': 'c' } });
    expect(`${fresh.status} ${fresh.body}`).toBe('200 stable');
    expect(fresh.headers['set-cookie']?.[0]).toMatch(/^gl-web=v1;/);
    expect(r.router.totals({ service: 'web', revision: 'v2' }).fallbacks).toBe(3);
    r.router.setRouteTable(table(true));
    expect((await send(`${r.url}/`, { headers: { 'x-canary': 'yes', 'x-request-id': 'd' } })).body).toBe('canary');
  });

  it('with neither side ready the chosen side answers 503 and nothing counts as a fallback; a 0% canary never takes stable\'s users', async () => {
    const stable = await recording('stable');
    const canary = await recording('canary');
    const r = await startRouter({
      routes: serviceTable({ stable: [instance('s', stable.address, { ready: false })], canary: [instance('c', canary.address, { ready: false })], weight: 25 }),
    });
    cleanups.push(r.close);
    const none = await send(`${r.url}/`);
    expect(none.status).toBe(503);
    expect(none.headers['x-graylane-error']).toBe('no-ready-instance');
    expect(r.router.totals({ service: 'web', revision: 'v1' }).fallbacks + r.router.totals({ service: 'web', revision: 'v2' }).fallbacks).toBe(0);
    // A preview (or an aborted canary) at 0% has not been judged fit for users.
    r.router.setRouteTable(serviceTable({ stable: [instance('s', stable.address, { ready: false })], canary: [canary], weight: 0 }));
    expect((await send(`${r.url}/`)).status).toBe(503);
    // At a weight above 0 the canary serves users, so stable's fall back to it.
    r.router.setRouteTable(serviceTable({ stable: [instance('s', stable.address, { ready: false })], canary: [canary], weight: 10 }));
    for (let i = 0; i < 10; i++) expect((await send(`${r.url}/`)).body).toBe('canary');
    expect(r.router.totals({ service: 'web', revision: 'v1' }).fallbacks).toBeGreaterThan(0);
  });
});
