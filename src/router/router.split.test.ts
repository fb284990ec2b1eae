import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { load, send, serviceTable, startRouter, startUpstream, until, type Upstream } from '../../test/fixtures/router/support.js';
import { seededRandom } from '../../test/fixtures/seeded-random.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function upstreams(...names: string[]): Promise<Upstream[]> {
  const list = await Promise.all(names.map((n) => startUpstream(n)));
  cleanups.push(async () => void (await Promise.all(list.map((u) => u.close()))));
  return list;
}

describe('weighted split', () => {
  it('sends 10% of 10,000 keep-alive requests to the canary, within 3 sigma', async () => {
    const [a, b] = await upstreams('stable', 'canary');
    const r = await startRouter({ routes: serviceTable({ stable: [a!], canary: [b!], weight: 10 }), random: seededRandom(20261123) });
    cleanups.push(r.close);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    cleanups.push(() => Promise.resolve(agent.destroy()));
    const { replies, errors } = await load(10_000, 16, () => send(`${r.url}/x`, { agent }));
    expect(errors).toEqual([]);
    const canary = replies.filter((x) => x.body === 'canary').length;
    const sigma = Math.sqrt(10_000 * 0.1 * 0.9); // 30
    expect(Math.abs(canary - 1000)).toBeLessThanOrEqual(3 * sigma);
    expect(replies.filter((x) => x.body === 'stable').length).toBe(10_000 - canary);
    await until(() => r.router.stats({ service: 'web', revision: 'v2' }).responses['2xx'] === canary, 5000, 'responses counted');
    const stats = r.router.stats({ service: 'web', revision: 'v2', windowMs: 60_000 });
    expect(stats.requests).toBe(canary);
    expect(stats.latencyMs.p99).toBeGreaterThan(0);
  });

  it('weight 0 sends nothing to the canary and 100 sends everything', async () => {
    const [a, b] = await upstreams('stable', 'canary');
    const r = await startRouter({ routes: serviceTable({ stable: [a!], canary: [b!], weight: 0 }) });
    cleanups.push(r.close);
    for (let i = 0; i < 50; i++) expect((await send(`${r.url}/`)).body).toBe('stable');
    r.router.setRouteTable(serviceTable({ stable: [a!], canary: [b!], weight: 100 }));
    for (let i = 0; i < 50; i++) expect((await send(`${r.url}/`)).body).toBe('canary');
  });

  it('a keep-alive connection follows a table swap on its next request', async () => {
    const [a, b] = await upstreams('stable', 'canary');
    const r = await startRouter({ routes: serviceTable({ stable: [a!], canary: [b!], weight: 0 }) });
    cleanups.push(r.close);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => Promise.resolve(agent.destroy()));
    expect((await send(`${r.url}/`, { agent })).body).toBe('stable');
    r.router.setRouteTable(serviceTable({ stable: [a!], canary: [b!], weight: 100 }));
    const second = await send(`${r.url}/`, { agent });
    expect(second.body).toBe('canary');
  });
});

describe('sticky cookie', () => {
  it('assigns a side once and keeps the client there; cookie-less clients are split per request', async () => {
    const [a, b] = await upstreams('stable', 'canary');
    const r = await startRouter({ routes: serviceTable({ stable: [a!], canary: [b!], weight: 50, extra: { stickyCookie: 'gl-web' } }) });
    cleanups.push(r.close);
    const first = await send(`${r.url}/`);
    const cookie = first.headers['set-cookie']?.[0];
    expect(cookie).toMatch(/^gl-web=(v1|v2); Path=\/; HttpOnly; SameSite=Lax$/);
    const pair = cookie!.split(';')[0]!;
    const side = pair.endsWith('v2') ? 'canary' : 'stable';
    expect(first.body).toBe(side);
    for (let i = 0; i < 40; i++) {
      const again = await send(`${r.url}/`, { headers: { cookie: `other=1; ${pair}` } });
      expect(again.body).toBe(side);
      expect(again.headers['set-cookie']).toBeUndefined();
    }
    const sides = new Set<string>();
    for (let i = 0; i < 60; i++) sides.add((await send(`${r.url}/`)).body);
    expect(sides).toEqual(new Set(['stable', 'canary']));
  });

  it('a canary cookie goes back to stable once the canary weight is 0 (abort)', async () => {
    const [a, b] = await upstreams('stable', 'canary');
    const r = await startRouter({ routes: serviceTable({ stable: [a!], canary: [b!], weight: 0, extra: { stickyCookie: 'gl-web' } }) });
    cleanups.push(r.close);
    expect((await send(`${r.url}/`, { headers: { cookie: 'gl-web=v2' } })).body).toBe('stable');
  });

  it('keeps the upstream’s own Set-Cookie headers next to the sticky one', async () => {
    const a = await startUpstream('stable', (_req, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.end('stable');
    });
    const [b] = await upstreams('canary');
    cleanups.push(() => a.close());
    const r = await startRouter({ routes: serviceTable({ stable: [a], canary: [b!], weight: 1, extra: { stickyCookie: 'gl' } }) });
    cleanups.push(r.close);
    const reply = await send(`${r.url}/`, { headers: { cookie: 'gl=v1' } });
    expect(reply.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    const fresh = await send(`${r.url}/`);
    if (fresh.body === 'stable') expect(fresh.headers['set-cookie']).toEqual(['a=1', 'b=2', 'gl=v1; Path=/; HttpOnly; SameSite=Lax']);
  });
});

describe('header and cookie matches', () => {
  it('routes on header exact, prefix and regex, and on cookie values, before weights', async () => {
    const [a, b] = await upstreams('stable', 'canary');
    const r = await startRouter({
      routes: serviceTable({
        stable: [a!],
        canary: [b!],
        weight: 0,
        extra: {
          matches: [
            { match: [{ headerName: 'X-Canary', headerValue: { exact: 'yes' } }], revision: 'v2' },
            { match: [{ headerName: 'user-agent', headerValue: { prefix: 'beta-' } }], revision: 'v2' },
            { match: [{ headerName: 'x-tenant', headerValue: { regex: '^t[0-9]+$' } }, { cookieName: 'plan', cookieValue: { exact: 'pro' } }], revision: 'v2' },
            { match: [{ cookieName: 'release', cookieValue: { prefix: 'r2' } }], revision: 'v2' },
            { match: [{ headerName: 'x-force-stable' }], revision: 'v1' },
          ],
        },
      }),
    });
    cleanups.push(r.close);
    const via = async (headers: Record<string, string>) => (await send(`${r.url}/`, { headers })).body;
    expect(await via({ 'x-canary': 'yes' })).toBe('canary');
    expect(await via({ 'x-canary': 'yes please' })).toBe('stable');
    expect(await via({ 'user-agent': 'beta-client/1' })).toBe('canary');
    expect(await via({ 'x-tenant': 't42', cookie: 'plan=pro' })).toBe('canary');
    expect(await via({ 'x-tenant': 't42', cookie: 'plan=free' })).toBe('stable');
    expect(await via({ 'x-tenant': 't42x', cookie: 'plan=pro' })).toBe('stable');
    expect(await via({ cookie: 'a=b; release=r2-abc' })).toBe('canary');
    expect(await via({ cookie: 'xrelease=r2-abc' })).toBe('stable');
    expect(await via({})).toBe('stable');
    // Matches win over weights.
    r.router.setRouteTable({
      services: [{ ...r.router.getRouteTable().services[0]!, canaryWeight: 100 }],
    });
    expect(await via({ 'x-force-stable': '' })).toBe('stable');
    expect(await via({})).toBe('canary');
  });
});

describe('service matching', () => {
  it('picks the longest path prefix on segment boundaries, host-specific first; 404 otherwise', async () => {
    const [root, api, apiV2, admin] = await upstreams('root', 'api', 'api-v2', 'admin-host');
    const svc = (name: string, pathPrefix: string, u: Upstream, host?: string) => ({
      name,
      pathPrefix,
      ...(host ? { host } : {}),
      stable: 'v1',
      canaryWeight: 0,
      revisions: { v1: { instances: [{ id: u.name, address: u.address, ready: true }] } },
    });
    const r = await startRouter({
      routes: { services: [svc('root', '/', root!), svc('api', '/api', api!), svc('api2', '/api/v2', apiV2!), svc('adm', '/', admin!, 'Admin.Example')] },
    });
    cleanups.push(r.close);
    expect((await send(`${r.url}/api/v2/x`)).body).toBe('api-v2');
    expect((await send(`${r.url}/api/v2`)).body).toBe('api-v2');
    expect((await send(`${r.url}/api/v20`)).body).toBe('api');
    expect((await send(`${r.url}/api?q=1`)).body).toBe('api');
    expect((await send(`${r.url}/apix`)).body).toBe('root');
    expect((await send(`${r.url}/x`, { headers: { host: 'admin.example:8080' } })).body).toBe('admin-host');
    // A host's own services win over host-agnostic ones, whatever their prefix lengths.
    expect((await send(`${r.url}/api/x`, { headers: { host: 'admin.example' } })).body).toBe('admin-host');
    expect((await send(`${r.url}/api/x`, { headers: { host: 'other.example' } })).body).toBe('api');
    r.router.setRouteTable({ services: [svc('api', '/api', api!)] });
    const miss = await send(`${r.url}/other`);
    expect(miss.status).toBe(404);
    expect(miss.headers['x-graylane-error']).toBe('no-route');
  });
});
