import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUNDLES, CookieClient, pinnedSide, releaseTable, startReleaseUpstreams, token, type ReleaseUpstreams } from '../../test/fixtures/router/release.js';
import { load, send, startRouter, until } from '../../test/fixtures/router/support.js';
import { seededRandom } from '../../test/fixtures/seeded-random.js';
import type { ReleaseRoute, RouteTable } from './types.js';

const cleanups: (() => Promise<void>)[] = [];
let u: ReleaseUpstreams;

beforeEach(async () => {
  u = await startReleaseUpstreams();
  cleanups.push(u.close);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function routerWith(table: RouteTable, admin = false) {
  // Seeded: the statistical cases must not fail one run in a few hundred.
  const r = await startRouter({ routes: table, random: seededRandom(20261123), ...(admin ? { admin: { host: '127.0.0.1', port: 0, token: 'admin-token-0123456789', metricsWithoutToken: true } } : {}) });
  cleanups.push(r.close);
  return r;
}

const sideOf = (body: string) => (body.endsWith('-v2') ? 'canary' : body.endsWith('-v1') ? 'stable' : `?${body}`);

describe('release assignment', () => {
  it('assigns 30% of 10,000 unpinned requests (no cookies) to the canary side, within 3 sigma, and hands each its token', async () => {
    const r = await routerWith(releaseTable(u, { release: { canaryWeight: 30 } }));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    cleanups.push(() => Promise.resolve(agent.destroy()));
    const { replies, errors } = await load(10_000, 16, (i) => send(`${r.url}${i % 2 === 0 ? '/page' : '/api/cart'}`, { agent }));
    expect(errors).toEqual([]);
    let canary = 0;
    for (const x of replies) {
      const side = sideOf(x.body);
      if (side === 'canary') canary++;
      // The token names the side the client got, in the cookie and in the header alike.
      expect(pinnedSide(x)).toBe(side);
    }
    const sigma = Math.sqrt(10_000 * 0.3 * 0.7); // ≈ 45.8
    expect(Math.abs(canary - 3000)).toBeLessThanOrEqual(3 * sigma);
    const stats = r.router.releaseStats('shop');
    expect(stats.assigned).toEqual({ stable: 10_000 - canary, canary });
    expect(stats.pinned).toEqual({ stable: 0, canary: 0 });
    expect(stats.fallbacks).toBe(0);
  });

  it('keeps a client that keeps its cookie on one side for web and api across 200 requests while weights change', async () => {
    const r = await routerWith(releaseTable(u, { release: { canaryWeight: 100 } }));
    const early = new CookieClient(r.url);
    expect(sideOf((await early.get('/')).body)).toBe('canary');
    r.router.setRouteTable(releaseTable(u, { release: { canaryWeight: 0 } }));
    const late = new CookieClient(r.url);
    expect(sideOf((await late.get('/api/x')).body)).toBe('stable');
    const weights = [0, 10, 50, 90, 100];
    for (let i = 0; i < 200; i++) {
      if (i % 40 === 0) r.router.setRouteTable(releaseTable(u, { release: { canaryWeight: weights[i / 40]! } }));
      const path = i % 2 === 0 ? `/page/${i}` : `/api/item/${i}`;
      const a = await early.get(path);
      const b = await late.get(path);
      expect([sideOf(a.body), sideOf(b.body)]).toEqual(['canary', 'stable']);
      expect(a.body.startsWith(i % 2 === 0 ? 'web' : 'api')).toBe(true);
      // A valid token is echoed in the header, never rewritten in the cookie.
      expect(a.headers['set-cookie']).toBeUndefined();
      expect(a.headers['x-graylane-release']).toBe(early.jar.get('graylane-release'));
    }
    const stats = r.router.releaseStats('shop');
    expect(stats.pinned).toEqual({ stable: 200, canary: 200 });
    expect(stats.assigned).toEqual({ stable: 1, canary: 1 });
    expect(stats.lastPinnedMs.canary).toBeGreaterThan(0);
  });

  it('honours a token in the header without any cookie, and prefers it to the cookie', async () => {
    const r = await routerWith(releaseTable(u));
    for (const path of ['/', '/api/x']) {
      const reply = await send(`${r.url}${path}`, { headers: { 'x-graylane-release': token('canary') } });
      expect(sideOf(reply.body)).toBe('canary');
      expect(reply.headers['set-cookie']).toBeUndefined();
      expect(reply.headers['x-graylane-release']).toBe(token('canary'));
    }
    const both = await send(`${r.url}/`, { headers: { 'x-graylane-release': token('canary'), cookie: `graylane-release=${token('stable')}` } });
    expect(sideOf(both.body)).toBe('canary');
    expect(r.router.releaseStats('shop').pinned).toEqual({ stable: 0, canary: 3 });
  });
});

describe('release tokens', () => {
  const [payload, mac] = [token('canary').split('.').slice(0, 3).join('.'), token('canary').split('.')[3]!];
  it.each([
    ['signed with another secret', token('canary', { secret: 'another-secret-of-enough-length' })],
    ['with its side changed', `shop.g1.canary.${token('stable').split('.')[3]!}`],
    ['with a flipped mac character', `${payload}.${mac.startsWith('A') ? 'B' : 'A'}${mac.slice(1)}`],
    ['with a truncated mac', `${payload}.${mac.slice(0, 21)}`],
    ['of another release', token('canary', { release: 'blog' })],
    ['of an unknown side', token('beta')],
    ['of another generation signed with another secret', token('canary', { generation: 'g0', secret: 'another-secret-of-enough-length' })],
    ['that is garbage', 'canary'],
  ])('ignores and counts a token %s, in the header or the cookie', async (_what, bad) => {
    const r = await routerWith(releaseTable(u));
    const viaHeader = await send(`${r.url}/`, { headers: { 'x-graylane-release': bad } });
    const viaCookie = await send(`${r.url}/api/x`, { headers: { cookie: `graylane-release=${bad}` } });
    for (const reply of [viaHeader, viaCookie]) {
      expect(sideOf(reply.body)).toBe('stable');
      // Treated as a new client: assigned (weight 0 → stable) and given a genuine token.
      expect(pinnedSide(reply)).toBe('stable');
    }
    const stats = r.router.releaseStats('shop');
    expect(stats.forgedTokens).toBe(2);
    expect(stats.assigned.stable).toBe(2);
    expect(stats.pinned).toEqual({ stable: 0, canary: 0 });
  });

  it('keeps a genuine token of an earlier generation on stable until its next page load, which is assigned afresh', async () => {
    const r = await routerWith(releaseTable(u, { release: { canaryWeight: 100 } }));
    const client = new CookieClient(r.url);
    expect(sideOf((await client.get('/')).body)).toBe('canary');
    // A new attempt: the client runs what is stable now, so its API calls stay there...
    r.router.setRouteTable(releaseTable(u, { release: { generation: 'g2', canaryWeight: 100 } }));
    const call = await client.get('/api/x');
    expect(sideOf(call.body)).toBe('stable');
    expect(call.headers['set-cookie']).toBeUndefined();
    // ...and its next page load (a navigation) is assigned by the new attempt's weights.
    const page = await send(`${r.url}/`, { headers: { cookie: `graylane-release=${token('canary')}`, 'sec-fetch-mode': 'navigate' } });
    expect(sideOf(page.body)).toBe('canary');
    expect(pinnedSide(page, { generation: 'g2' })).toBe('canary');
    expect(r.router.releaseStats('shop').forgedTokens).toBe(0);
  });

  it('lets the header force a side only where the release allows it', async () => {
    const r = await routerWith(releaseTable(u));
    const refused = await send(`${r.url}/`, { headers: { 'x-graylane-release': 'canary' } });
    expect(sideOf(refused.body)).toBe('stable');
    expect(r.router.releaseStats('shop').forgedTokens).toBe(1);
    r.router.setRouteTable(releaseTable(u, { release: { allowForceHeader: true } }));
    for (const [value, side] of [['canary', 'canary'], ['stable', 'stable'], ['Canary', 'stable']] as const) {
      const reply = await send(`${r.url}/api/x`, { headers: { 'x-graylane-release': value } });
      expect(sideOf(reply.body)).toBe(side);
      if (value !== 'Canary') expect(reply.headers['set-cookie']).toBeUndefined();
    }
    const stats = r.router.releaseStats('shop');
    expect(stats.pinned).toEqual({ stable: 1, canary: 1 });
    expect(stats.forgedTokens).toBe(2);
  });
});

describe('release phases', () => {
  it('after an abort, sends canary-pinned clients to stable at once and re-pins them', async () => {
    const r = await routerWith(releaseTable(u, { release: { canaryWeight: 50 } }));
    r.router.setRouteTable(releaseTable(u, { release: { canaryWeight: 50, phase: 'aborted' } }));
    for (const path of ['/', '/api/x']) {
      const reply = await send(`${r.url}${path}`, { headers: { cookie: `graylane-release=${token('canary')}` } });
      expect(sideOf(reply.body)).toBe('stable');
      expect(pinnedSide(reply)).toBe('stable');
    }
    for (let i = 0; i < 20; i++) expect(sideOf((await send(`${r.url}/`)).body)).toBe('stable');
    const stats = r.router.releaseStats('shop');
    expect(stats.pinned).toEqual({ stable: 2, canary: 0 });
    expect(stats.assigned).toEqual({ stable: 20, canary: 0 });
    expect(stats.lastPinnedMs.canary).toBeUndefined();
  });

  it('after a promotion, a stable-pinned client\'s API calls stay on stable but its next page load moves it to the canary', async () => {
    const r = await routerWith(releaseTable(u, { release: { canaryWeight: 10, phase: 'promoted', skewUntilMs: Date.now() + 60_000 } }));
    const cookie = `graylane-release=${token('stable')}`;
    const call = await send(`${r.url}/api/x`, { headers: { cookie } });
    expect(sideOf(call.body)).toBe('stable');
    const page = await send(`${r.url}/`, { headers: { cookie, 'sec-fetch-mode': 'navigate' } });
    expect(sideOf(page.body)).toBe('canary');
    expect(pinnedSide(page)).toBe('canary');
  });

  it('after a promotion, keeps stable-pinned clients on stable until skewUntilMs, then moves them; new clients get the canary', async () => {
    const promoted = (skewUntilMs: number) => releaseTable(u, { release: { canaryWeight: 10, phase: 'promoted', skewUntilMs } });
    const r = await routerWith(promoted(Date.now() + 600_000));
    const old = { cookie: `graylane-release=${token('stable')}` };
    for (const path of ['/', '/api/x']) {
      const reply = await send(`${r.url}${path}`, { headers: old });
      expect(sideOf(reply.body)).toBe('stable');
      expect(reply.headers['set-cookie']).toBeUndefined();
      expect(sideOf((await send(`${r.url}${path}`, { headers: { cookie: `graylane-release=${token('canary')}` } })).body)).toBe('canary');
    }
    for (let i = 0; i < 20; i++) expect(sideOf((await send(`${r.url}/api/x`)).body)).toBe('canary');
    const during = r.router.releaseStats('shop');
    expect(during.lastPinnedMs.stable).toBeGreaterThan(0);
    expect(during.assigned).toEqual({ stable: 0, canary: 20 });
    r.router.setRouteTable(promoted(Date.now() - 1));
    const after = await send(`${r.url}/`, { headers: old });
    expect(sideOf(after.body)).toBe('canary');
    expect(pinnedSide(after)).toBe('canary');
    expect(r.router.releaseStats('shop').lastPinnedMs.stable).toBe(during.lastPinnedMs.stable);
  });

  it('with no skew window, moves stable-pinned clients to the canary as soon as it is promoted', async () => {
    const r = await routerWith(releaseTable(u, { release: { phase: 'promoted' } }));
    expect(sideOf((await send(`${r.url}/api/x`, { headers: { 'x-graylane-release': token('stable') } })).body)).toBe('canary');
  });
});

describe('a release that ended, while router workers swap tables one after the other', () => {
  // Worker A still has the table of the skew window (old revisions up, stable pages kept on them);
  // worker B has the table after it: each member on v2 alone, and the route the daemon gives an
  // ended release. A client's page and its API call may reach either.
  const during = () => releaseTable(u, { release: { canaryWeight: 100, phase: 'promoted', skewUntilMs: Date.now() + 600_000 } });
  const onlyV2 = { stable: 'v2', canary: undefined, canaryWeight: 0 };
  const ended = (release: Partial<ReleaseRoute>) => {
    const table = releaseTable(u, { release, web: onlyV2, api: onlyV2 });
    for (const s of table.services) delete s.revisions.v1;
    return table;
  };

  it.each([
    ["'promoted' without a skew window: the page re-pins to the canary and its API call gets v2 from either table", { phase: 'promoted', canaryWeight: 100 } as const, 'api-v2'],
    ["'progressing' at 0 (before): the page stays pinned to stable, and the old table answers its API call from v1", { phase: 'progressing', canaryWeight: 0 } as const, 'api-v1'],
  ])('%s', async (_what, endedRoute, apiAnswer) => {
    const a = await routerWith(during());
    const b = await routerWith(ended(endedRoute));
    const page = await send(`${b.url}/`, { headers: { 'x-graylane-release': token('stable', { position: 7000 }), 'sec-fetch-mode': 'navigate' } });
    expect(page.body).toBe('web-v2');
    const pinned = (page.headers['x-graylane-release'] as string | undefined) ?? token('stable', { position: 7000 });
    const call = await send(`${a.url}/api/x`, { headers: { 'x-graylane-release': pinned } });
    expect(call.body).toBe(apiAnswer);
  });
});

describe('release fallbacks', () => {
  it('falls back to the other side when the chosen side has no ready instance or no revision, and counts it', async () => {
    const api = releaseTable(u).services[1]!;
    const notReady = { revisions: { v1: api.revisions.v1!, v2: { instances: [{ id: 'api-v2', address: u.api.canary.address, ready: false }] } } };
    const r = await routerWith(releaseTable(u, { api: notReady }));
    const pinned = { cookie: `graylane-release=${token('canary')}` };
    expect(sideOf((await send(`${r.url}/`, { headers: pinned })).body)).toBe('canary');
    const fallen = await send(`${r.url}/api/x`, { headers: pinned });
    expect(fallen.status).toBe(200);
    expect(fallen.body).toBe('api-v1');
    // The client stays pinned to the canary: its next web request still goes there.
    expect(fallen.headers['set-cookie']).toBeUndefined();
    expect(r.router.releaseStats('shop').fallbacks).toBe(1);
    // A new client assigned to the canary on a member that cannot serve it is pinned to stable.
    r.router.setRouteTable(releaseTable(u, { release: { canaryWeight: 100 }, api: notReady }));
    const fresh = await send(`${r.url}/api/x`);
    expect(fresh.body).toBe('api-v1');
    expect(pinnedSide(fresh)).toBe('stable');
    // A member unchanged in this release (no canary revision) serves both sides with its one
    // version: not a fallback, and a new client keeps the side it was assigned for the others.
    r.router.setRouteTable(releaseTable(u, { release: { canaryWeight: 100 }, api: { canary: undefined } }));
    expect((await send(`${r.url}/api/x`, { headers: pinned })).body).toBe('api-v1');
    const newcomer = await send(`${r.url}/api/x`);
    expect(newcomer.body).toBe('api-v1');
    expect(pinnedSide(newcomer)).toBe('canary');
    const stats = r.router.releaseStats('shop');
    expect(stats.fallbacks).toBe(2);
    expect(stats.assigned).toEqual({ stable: 1, canary: 1 });
  });

  it('serves a within-page request pinned to a side with no ready instance from its running unready instance, not the other version; a page load still falls back', async () => {
    const t = releaseTable(u);
    const unready = (svc: 0 | 1) => {
      const v2 = t.services[svc]!.revisions.v2!.instances[0]!;
      return { revisions: { v1: t.services[svc]!.revisions.v1!, v2: { instances: [{ ...v2, ready: false, lastResort: true }] } } };
    };
    const r = await routerWith(releaseTable(u, { api: unready(1) }));
    const pinned = { 'x-graylane-release': token('canary', { position: 10 }) };
    // The page's API call: v2 answers, as the page that made it expects; the token stands.
    const call = await send(`${r.url}/api/cart`, { headers: pinned });
    expect([call.status, call.body]).toEqual([200, 'api-v2']);
    expect(call.headers['set-cookie']).toBeUndefined();
    expect(r.router.releaseStats('shop')).toMatchObject({ unreadyServed: 1, fallbacks: 0 });
    // Counted on the revision too (what `status` shows), and not as a fallback of it.
    expect(r.router.stats({ service: 'api', revision: 'v2', windowMs: 10_000 })).toMatchObject({ requests: 1, unreadyServed: 1, fallbacks: 0 });
    expect(r.router.totals({ service: 'api', revision: 'v2' })).toMatchObject({ unreadyServed: 1 });
    // A new client's first request has no page to fit: it goes to a side that is ready.
    r.router.setRouteTable(releaseTable(u, { release: { canaryWeight: 100 }, api: unready(1) }));
    const fresh = await send(`${r.url}/api/x`);
    expect([fresh.body, pinnedSide(fresh)]).toEqual(['api-v1', 'stable']);
    // A page load decides its side afresh: with web v2 unready it gets v1, and its token says so.
    r.router.setRouteTable(releaseTable(u, { release: { canaryWeight: 100 }, web: unready(0) }));
    const page = await send(`${r.url}/`, { headers: { ...pinned, 'sec-fetch-mode': 'navigate' } });
    expect([page.body, pinnedSide(page)]).toEqual(['web-v1', 'stable']);
    expect(r.router.releaseStats('shop')).toMatchObject({ unreadyServed: 1, fallbacks: 2 });
    // An instance that is not ready and not running (starting, crashed) is never a last resort.
    const starting = releaseTable(u).services[1]!.revisions.v2!.instances[0]!;
    r.router.setRouteTable(releaseTable(u, { api: { revisions: { v1: t.services[1]!.revisions.v1!, v2: { instances: [{ ...starting, ready: false }] } } } }));
    expect((await send(`${r.url}/api/cart`, { headers: pinned })).body).toBe('api-v1');
  });

  it('stops sending pinned requests to an unready instance once it sees it fail, and falls back', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const dead = `127.0.0.1:${(closed.address() as import('node:net').AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const api = releaseTable(u).services[1]!;
    const r = await routerWith(releaseTable(u, { api: { revisions: { v1: api.revisions.v1!, v2: { instances: [{ id: 'api-v2', address: dead, ready: false, lastResort: true }] } } } }));
    const pinned = { 'x-graylane-release': token('canary', { position: 10 }) };
    // Five failures (the breaker's consecutiveErrors) end its use as a last resort.
    for (let i = 0; i < 5; i++) expect((await send(`${r.url}/api/x`, { headers: pinned })).status).toBe(502);
    const after = await send(`${r.url}/api/x`, { headers: pinned });
    expect([after.status, after.body]).toEqual([200, 'api-v1']);
    expect(r.router.releaseStats('shop')).toMatchObject({ unreadyServed: 5, fallbacks: 1 });
  });

  it('answers 503 from the chosen side when neither side has a ready instance', async () => {
    const down = (name: string) => ({ instances: [{ id: name, address: u.api.stable.address, ready: false }] });
    const r = await routerWith(releaseTable(u, { api: { revisions: { v1: down('a1'), v2: down('a2') } } }));
    const reply = await send(`${r.url}/api/x`, { headers: { 'x-graylane-release': token('canary') } });
    expect(reply.status).toBe(503);
    expect(r.router.stats({ service: 'api', revision: 'v2' }).rejected).toBe(1);
    expect(r.router.releaseStats('shop').fallbacks).toBe(0);
  });
});

describe('skew errors', () => {
  it('counts a 404 to a GET of a hashed asset per release and revision, and exposes the release counters on /metrics', async () => {
    const r = await routerWith(releaseTable(u), true);
    const stablePinned = { cookie: `graylane-release=${token('stable')}` };
    // A v2 page's bundle asked of v1: skew. Its own bundle, a plain 404, a POST: not skew.
    expect((await send(`${r.url}${BUNDLES['web-v2']!}?v=1`, { headers: stablePinned })).status).toBe(404);
    expect((await send(`${r.url}${BUNDLES['web-v1']!}`, { headers: stablePinned })).status).toBe(200);
    expect((await send(`${r.url}/assets/missing.css`, { headers: stablePinned })).status).toBe(404);
    expect((await send(`${r.url}${BUNDLES['web-v2']!}`, { method: 'POST', headers: stablePinned })).status).toBe(404);
    expect((await send(`${r.url}/assets/index-BXk3z9aQ.css`, { headers: stablePinned })).status).toBe(404);
    // Pinned to the canary, a v2 page gets its bundle.
    expect((await send(`${r.url}${BUNDLES['web-v2']!}`, { headers: { 'x-graylane-release': token('canary') } })).status).toBe(200);
    await send(`${r.url}/`, { headers: { cookie: 'graylane-release=forged' } });
    await until(() => r.router.stats({ service: 'web', revision: 'v1' }).responses['4xx'] === 4, 5000, 'responses counted');
    expect(r.router.releaseStats('shop').skewErrors).toBe(2);
    expect(r.router.releaseTraffic({ release: 'shop' }).skewErrors).toBe(2);
    expect(r.router.stats({ service: 'web', revision: 'v1' }).skewErrors).toBe(2);
    expect(r.router.totals({ service: 'web', revision: 'v1' }).skewErrors).toBe(2);
    expect(r.router.stats({ service: 'web', revision: 'v2' }).skewErrors).toBe(0);
    const metrics = (await send(`${r.adminUrl!}/metrics`)).body;
    expect(metrics).toContain('graylane_router_skew_errors_total{release="shop",service="web",revision="v1"} 2');
    expect(metrics).toContain('graylane_router_release_requests_total{release="shop",side="stable",how="pinned"} 5');
    expect(metrics).toContain('graylane_router_release_requests_total{release="shop",side="canary",how="pinned"} 1');
    expect(metrics).toContain('graylane_router_release_requests_total{release="shop",side="stable",how="assigned"} 1');
    expect(metrics).toContain('graylane_router_release_forged_tokens_total{release="shop"} 1');
  });

  it('uses the release’s own assetPattern when given', async () => {
    const r = await routerWith(releaseTable(u, { release: { assetPattern: '^/assets/' } }));
    await send(`${r.url}/assets/logo.png`, { headers: { cookie: `graylane-release=${token('stable')}` } });
    await send(`${r.url}/other/app.1234abcd.js`, { headers: { cookie: `graylane-release=${token('stable')}` } });
    expect(r.router.releaseStats('shop').skewErrors).toBe(1);
  });
});

describe('releases and the rest of routing', () => {
  it('lets a member’s own matches win over pinning', async () => {
    const r = await routerWith(releaseTable(u, { web: { matches: [{ match: [{ headerName: 'x-debug', headerValue: { exact: 'old' } }], revision: 'v1' }] } }));
    const reply = await send(`${r.url}/`, { headers: { 'x-debug': 'old', 'x-graylane-release': token('canary') } });
    expect(reply.body).toBe('web-v1');
    expect(reply.headers['x-graylane-release']).toBeUndefined();
    expect(sideOf((await send(`${r.url}/`, { headers: { 'x-graylane-release': token('canary') } })).body)).toBe('canary');
  });

  it('ignores a member’s own weight and sticky cookie', async () => {
    const r = await routerWith(releaseTable(u, { web: { canaryWeight: 100, stickyCookie: 'gl-web' } }));
    for (let i = 0; i < 20; i++) {
      const reply = await send(`${r.url}/`, { headers: { cookie: 'gl-web=v2' } });
      expect(reply.body).toBe('web-v1');
      expect(pinnedSide(reply)).toBe('stable');
    }
  });

  it('without releases, routes as before: no token, no pinning', async () => {
    const r = await routerWith(releaseTable(u, { noRelease: true }));
    for (let i = 0; i < 20; i++) {
      const reply = await send(`${r.url}/api/x`, { headers: { cookie: `graylane-release=${token('canary')}`, 'x-graylane-release': token('canary') } });
      expect(reply.body).toBe('api-v1');
      expect(reply.headers['set-cookie']).toBeUndefined();
      expect(reply.headers['x-graylane-release']).toBeUndefined();
    }
    await send(`${r.url}${BUNDLES['web-v2']!}`);
    expect(r.router.stats({ service: 'web', revision: 'v1' }).skewErrors).toBe(0);
    expect(r.router.releaseStats('shop')).toEqual({ assigned: { stable: 0, canary: 0 }, pinned: { stable: 0, canary: 0 }, fallbacks: 0, unreadyServed: 0, forgedTokens: 0, skewErrors: 0, lastPinnedMs: {} });
  });

  it('keeps a release’s counters across table swaps and drops pinning when the release is removed', async () => {
    const r = await routerWith(releaseTable(u, { release: { canaryWeight: 100 } }));
    await send(`${r.url}/`);
    const release: ReleaseRoute = { ...r.router.getRouteTable().releases![0]!, canaryWeight: 0 };
    r.router.setRouteTable({ ...r.router.getRouteTable(), releases: [release] });
    await send(`${r.url}/`);
    expect(r.router.releaseStats('shop').assigned).toEqual({ stable: 1, canary: 1 });
    r.router.setRouteTable(releaseTable(u, { noRelease: true }));
    expect((await send(`${r.url}/`, { headers: { 'x-graylane-release': token('canary') } })).body).toBe('web-v1');
  });
});
