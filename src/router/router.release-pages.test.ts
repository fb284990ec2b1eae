/**
 * Release pinning keeps each page consistent, not each client frozen: a client's stable random
 * position (in its token) decides its side afresh at every page load from the weight in force.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUNDLES, CookieClient, pinnedSide, readToken, releaseTable, startReleaseUpstreams, token, type ReleaseUpstreams } from '../../test/fixtures/router/release.js';
import { send, startRouter } from '../../test/fixtures/router/support.js';
import { seededRandom } from '../../test/fixtures/seeded-random.js';
import type { ReleaseRoute } from './types.js';

const cleanups: (() => Promise<void>)[] = [];
let u: ReleaseUpstreams;

beforeEach(async () => {
  u = await startReleaseUpstreams();
  cleanups.push(u.close);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function routerAt(release: Partial<ReleaseRoute>, nowMs?: () => number) {
  const r = await startRouter({ routes: releaseTable(u, { release }), random: seededRandom(20261124), ...(nowMs ? { nowMs } : {}) });
  cleanups.push(r.close);
  return {
    ...r,
    set: (next: Partial<ReleaseRoute>, members: Parameters<typeof releaseTable>[1] = {}) => r.router.setRouteTable(releaseTable(u, { ...members, release: next })),
  };
}

const sideOf = (body: string) => (body.endsWith('-v2') ? 'canary' : body.endsWith('-v1') ? 'stable' : `?${body}`);
/** What a browser sends on a page load; half the clients send only `Accept` (no fetch metadata). */
const NAVIGATE = { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };
const ACCEPT_HTML = { accept: 'text/html' };
const API = { accept: 'application/json', 'sec-fetch-mode': 'cors' };

/** Every client loads a page (in parallel, 16 at a time); their sides, in client order. */
async function pageLoads(clients: CookieClient[]): Promise<string[]> {
  const sides: string[] = new Array<string>(clients.length);
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < clients.length) {
      const i = next++;
      sides[i] = sideOf((await clients[i]!.get('/', i % 2 === 0 ? NAVIGATE : ACCEPT_HTML)).body);
    }
  }));
  return sides;
}

const positionOf = (c: CookieClient) => readToken(c.jar.get('graylane-release')).position;

describe('release sides decided at each page load', () => {
  it('moves existing clients stable → canary only as the weight rises, canary → stable only as it falls, each by its position', async () => {
    const r = await routerAt({ canaryWeight: 0 });
    const clients = Array.from({ length: 120 }, () => new CookieClient(r.url));
    let before = await pageLoads(clients);
    expect(before.every((s) => s === 'stable')).toBe(true);
    const canaryCounts: number[] = [];
    for (const weight of [10, 30, 50, 80, 50, 20, 0]) {
      const rising = weight > (r.router.getRouteTable().releases![0]!.canaryWeight);
      r.set({ canaryWeight: weight });
      const after = await pageLoads(clients);
      for (let i = 0; i < clients.length; i++) {
        // One way only: a rise never sends a canary client back, a fall never sends a stable one over.
        if (rising) expect(before[i] === 'canary' && after[i] === 'stable').toBe(false);
        else expect(before[i] === 'stable' && after[i] === 'canary').toBe(false);
        // The side is the client's position against the weight in force, and its token says so.
        expect(after[i]).toBe(positionOf(clients[i]!) < weight * 100 ? 'canary' : 'stable');
        expect(readToken(clients[i]!.jar.get('graylane-release')).side).toBe(after[i]);
      }
      canaryCounts.push(after.filter((s) => s === 'canary').length);
      before = after;
    }
    // Positions are uniform: each weight puts about its share of the existing clients on the canary.
    const expected = [10, 30, 50, 80, 50, 20, 0].map((w) => (120 * w) / 100);
    canaryCounts.forEach((n, k) => expect(Math.abs(n - expected[k]!)).toBeLessThanOrEqual(3 * Math.sqrt(120 * 0.25) + 1));
    // A client keeps its position for good: the same weight gives the same clients.
    expect(canaryCounts[2]).toBe(canaryCounts[4]);
  });

  it('keeps a page’s assets and API calls on the page’s side while the weight changes, and moves the client at its next page load', async () => {
    const r = await routerAt({ canaryWeight: 50 });
    const clients = Array.from({ length: 40 }, () => new CookieClient(r.url));
    const sides = await pageLoads(clients);
    const onCanary = clients[sides.indexOf('canary')]!;
    const onStable = clients[sides.indexOf('stable')]!;
    r.set({ canaryWeight: 0 });
    // The canary page's bundle and API calls stay on the canary: no skew.
    expect((await onCanary.get(BUNDLES['web-v2']!, { accept: '*/*', 'sec-fetch-mode': 'no-cors' })).status).toBe(200);
    const call = await onCanary.get('/api/cart', API);
    expect(sideOf(call.body)).toBe('canary');
    expect(call.headers['set-cookie']).toBeUndefined();
    // Its next page load is on stable, and so is the rest of that page.
    expect(sideOf((await onCanary.get('/', NAVIGATE)).body)).toBe('stable');
    expect(sideOf((await onCanary.get('/api/cart', API)).body)).toBe('stable');
    expect((await onCanary.get(BUNDLES['web-v1']!, { accept: '*/*', 'sec-fetch-mode': 'no-cors' })).status).toBe(200);
    r.set({ canaryWeight: 100 });
    expect(sideOf((await onStable.get('/api/cart', API)).body)).toBe('stable');
    expect(sideOf((await onStable.get('/', ACCEPT_HTML)).body)).toBe('canary');
    expect(sideOf((await onStable.get('/api/cart', API)).body)).toBe('canary');
    // A POST accepting HTML is no page load: it stays on the page's side.
    r.set({ canaryWeight: 0 });
    expect(sideOf((await onStable.get('/api/cart', { ...API, 'sec-fetch-mode': 'same-origin' })).body)).toBe('canary');
    const post = await send(`${r.url}/`, { method: 'POST', headers: { accept: 'text/html', cookie: `graylane-release=${onStable.jar.get('graylane-release')!}` } });
    expect(sideOf(post.body)).toBe('canary');
  });

  it('on abort sends page loads to stable at once, and the requests of canary pages to the canary through the grace, then to stable', async () => {
    let clock = 1_800_000_000_000;
    const r = await routerAt({ canaryWeight: 50 }, () => clock);
    const clients = Array.from({ length: 40 }, () => new CookieClient(r.url));
    const sides = await pageLoads(clients);
    const canary = clients.filter((_, i) => sides[i] === 'canary');
    expect(canary.length).toBeGreaterThan(5);
    const positions = canary.map(positionOf);
    const tokens = canary.map((c) => c.jar.get('graylane-release'));
    r.set({ canaryWeight: 0, phase: 'aborted', abortGraceUntilMs: clock + 5000 });
    clock += 4999;
    // A canary page still loading: its bundle and API calls come from the canary, its token unchanged.
    for (const c of canary.slice(1)) {
      expect((await c.get(BUNDLES['web-v2']!, { accept: '*/*', 'sec-fetch-mode': 'no-cors' })).status).toBe(200);
      const call = await c.get('/api/cart', API);
      expect(sideOf(call.body)).toBe('canary');
      expect(call.headers['set-cookie']).toBeUndefined();
    }
    expect(canary.slice(1).map((c) => c.jar.get('graylane-release'))).toEqual(tokens.slice(1));
    // A page load, even of a canary client, goes to stable at once, and the rest of that page too.
    const reloading = canary[0]!;
    const page = await reloading.get('/', NAVIGATE);
    expect(sideOf(page.body)).toBe('stable');
    expect(pinnedSide(page)).toBe('stable');
    expect(sideOf((await reloading.get('/api/cart', API)).body)).toBe('stable');
    expect((await reloading.get(BUNDLES['web-v1']!, { accept: '*/*', 'sec-fetch-mode': 'no-cors' })).status).toBe(200);
    expect(sideOf((await new CookieClient(r.url).get('/', ACCEPT_HTML)).body)).toBe('stable');
    // The grace is over: every request of a canary page goes to stable, and re-pins it there.
    clock += 1;
    for (const c of canary.slice(1)) {
      const call = await c.get('/api/cart', API);
      expect(sideOf(call.body)).toBe('stable');
      expect(pinnedSide(call)).toBe('stable');
    }
    expect(canary.map(positionOf)).toEqual(positions);
    expect((await pageLoads(clients)).every((s) => s === 'stable')).toBe(true);
  });

  it('on abort without a grace sends canary clients to stable at once, page or not, keeping their positions', async () => {
    const r = await routerAt({ canaryWeight: 50 });
    const clients = Array.from({ length: 40 }, () => new CookieClient(r.url));
    const sides = await pageLoads(clients);
    const canary = clients.filter((_, i) => sides[i] === 'canary');
    expect(canary.length).toBeGreaterThan(5);
    const positions = canary.map(positionOf);
    r.set({ canaryWeight: 50, phase: 'aborted' });
    for (const c of canary) {
      const call = await c.get('/api/cart', API);
      expect(sideOf(call.body)).toBe('stable');
      expect(pinnedSide(call)).toBe('stable');
    }
    expect(canary.map(positionOf)).toEqual(positions);
    expect((await pageLoads(clients)).every((s) => s === 'stable')).toBe(true);
  });

  it('within the abort grace sends a canary page’s requests to stable for a member whose canary has no ready instance', async () => {
    const clock = 1_800_000_000_000;
    const r = await routerAt({ canaryWeight: 100 }, () => clock);
    const client = new CookieClient(r.url);
    expect(sideOf((await client.get('/', NAVIGATE)).body)).toBe('canary');
    const api = { revisions: { v1: { instances: [{ id: 'api-v1', address: u.api.stable.address, ready: true }] }, v2: { instances: [{ id: 'api-v2', address: u.api.canary.address, ready: false }] } } };
    r.set({ canaryWeight: 0, phase: 'aborted', abortGraceUntilMs: clock + 5000 }, { api });
    const call = await client.get('/api/cart', API);
    expect(call.status).toBe(200);
    expect(sideOf(call.body)).toBe('stable');
    // The web canary is still ready: the page's bundle keeps coming from it.
    expect((await client.get(BUNDLES['web-v2']!, { accept: '*/*', 'sec-fetch-mode': 'no-cors' })).status).toBe(200);
  });

  it('gives a token from before positions a position at its next page load, on the side it had at that weight', async () => {
    const r = await routerAt({ canaryWeight: 50 });
    for (const side of ['canary', 'stable'] as const) {
      const legacy = `graylane-release=${token(side)}`;
      // Within a page nothing changes: the old token is echoed, not rewritten.
      const call = await send(`${r.url}/api/x`, { headers: { ...API, cookie: legacy } });
      expect(sideOf(call.body)).toBe(side);
      expect(call.headers['set-cookie']).toBeUndefined();
      expect(call.headers['x-graylane-release']).toBe(token(side));
      for (let i = 0; i < 20; i++) {
        const page = await send(`${r.url}/`, { headers: { ...NAVIGATE, cookie: legacy } });
        expect(sideOf(page.body)).toBe(side);
        expect(pinnedSide(page)).toBe(side);
        const { position } = readToken(page.headers['x-graylane-release'] as string);
        expect(side === 'canary' ? position < 5000 : position >= 5000).toBe(true);
      }
    }
    expect(r.router.releaseStats('shop').forgedTokens).toBe(0);
  });
});

describe('realized share', () => {
  it('spreads a few clients evenly: 40 users at weight 50 put 50 % ± 5 points of their page loads on the canary', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = await startRouter({ routes: releaseTable(u, { release: { canaryWeight: 50 } }), random: seededRandom(seed) });
      cleanups.push(r.close);
      const clients = Array.from({ length: 40 }, () => new CookieClient(r.url));
      const sides = await pageLoads(clients);
      expect(Math.abs(sides.filter((s) => s === 'canary').length - 20)).toBeLessThanOrEqual(2);
    }
  });


  it('counts page loads and requests per side over the recent window, beside the weight set', async () => {
    const r = await routerAt({ canaryWeight: 30 });
    const clients = Array.from({ length: 400 }, () => new CookieClient(r.url));
    const sides = await pageLoads(clients);
    for (const c of clients.slice(0, 100)) await c.get('/api/cart', API);
    const canaryPages = sides.filter((s) => s === 'canary').length;
    const canaryCalls = sides.slice(0, 100).filter((s) => s === 'canary').length;
    const t = r.router.releaseTraffic({ release: 'shop' });
    expect(t.windowMs).toBe(30_000);
    expect(t.pageLoads).toEqual({ stable: 400 - canaryPages, canary: canaryPages });
    expect(t.requests).toEqual({ stable: 500 - canaryPages - canaryCalls, canary: canaryPages + canaryCalls });
    expect(Math.abs(canaryPages - 120)).toBeLessThanOrEqual(3 * Math.sqrt(400 * 0.3 * 0.7));
    expect(r.router.releaseTraffic({ release: 'other' })).toEqual({ windowMs: 30_000, pageLoads: { stable: 0, canary: 0 }, requests: { stable: 0, canary: 0 }, skewErrors: 0 });
  });
});
