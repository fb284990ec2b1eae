/** The built-in router as a traffic provider: the conformance suite over real loopback HTTP, then its own rules. */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { send, startRouter, startUpstream, type Upstream } from '../../../test/fixtures/router/support.js';
import { RouterError, tableControl } from '../../../test/fixtures/traffic/in-process-control.js';
import type { ReleaseRoute } from '../../router/contract/index.js';
import { describeTrafficProviderConformance } from '../traffic-provider.case.test.js';
import type { TrafficDecision } from '../traffic-provider.js';
import { BuiltinTrafficProvider } from './builtin-provider.js';
import { PREVIEW_HEADER, STICKY_COOKIE } from './routes.js';

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

describeTrafficProviderConformance('builtin', async () => {
  const v1 = await startUpstream('v1');
  const v2 = await startUpstream('v2');
  const r = await startRouter({ routes: { services: [] } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const upstreams: Record<string, Upstream> = { v1, v2 };
  return {
    provider: new BuiltinTrafficProvider({ control: tableControl(r.router) }),
    endpoints: [
      { id: 'shop-v1-1', revision: 'v1', address: v1.address, ready: true, draining: false },
      { id: 'shop-v2-1', revision: 'v2', address: v2.address, ready: true, draining: false },
    ],
    previewHeaders: { [PREVIEW_HEADER]: '1' },
    async send({ count, headers }) {
      const counts: Record<string, number> = {};
      for (let i = 0; i < count; i++) {
        const reply = await send(`${r.url}/`, { agent, ...(headers ? { headers } : {}) });
        const who = reply.status === 404 ? 'none' : reply.body;
        counts[who] = (counts[who] ?? 0) + 1;
      }
      return counts;
    },
    async received(revision, atLeast) {
      const u = upstreams[revision]!;
      await until(() => u.hits >= atLeast, 5000);
      return u.hits;
    },
    async teardown() {
      agent.destroy();
      await r.close();
      await v1.close();
      await v2.close();
    },
  };
});

describe('the built-in provider', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup() {
    const r = await startRouter({ routes: { services: [] } });
    cleanups.push(r.close);
    const control = tableControl(r.router);
    return { router: r.router, control, provider: new BuiltinTrafficProvider({ control }) };
  }
  const decision = (service: string, extra: Partial<TrafficDecision> = {}): TrafficDecision => ({
    namespace: 'default', service, pathPrefix: `/${service}`, traffic: { stableRevision: 'v1', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] },
    endpoints: [{ id: `${service}-v1-1`, revision: 'v1', address: '127.0.0.1:9', ready: true, draining: false }], ...extra,
  });
  const release: ReleaseRoute = { name: 'shop', services: ['web', 'api'], generation: 'g1', canaryWeight: 0, phase: 'progressing', cookie: 'graylane-release', header: 'x-graylane-release', secret: 'a-secret-of-16-chars' };

  it('keeps one route per service, named by it, with its sticky cookie', async () => {
    const { router, provider } = await setup();
    await provider.apply(decision('web'));
    await provider.apply(decision('api'));
    await provider.apply(decision('web', { pathPrefix: '/' }));
    expect(router.getRouteTable().services.map((s) => ({ name: s.name, pathPrefix: s.pathPrefix, stickyCookie: s.stickyCookie }))).toEqual([
      { name: 'web', pathPrefix: '/', stickyCookie: `${STICKY_COOKIE}-web` },
      { name: 'api', pathPrefix: '/api', stickyCookie: `${STICKY_COOKIE}-api` },
    ]);
  });

  it("puts a release's pinning in force only once all its members are routed, and takes it out when one goes", async () => {
    const { router, provider } = await setup();
    await provider.applyReleases([release]);
    await provider.apply(decision('web'));
    expect(router.getRouteTable().releases).toEqual([]);
    await provider.apply(decision('api'));
    expect(router.getRouteTable().releases).toEqual([release]);
    await provider.removeManagedRoutes({ namespace: 'default', service: 'api' });
    expect(router.getRouteTable().releases).toEqual([]);
    await provider.apply(decision('api'));
    expect(router.getRouteTable().releases).toEqual([release]);
  });

  it('a table the router refuses leaves the table in force, the decision unverified, and the provider as before', async () => {
    const { router, provider } = await setup();
    await provider.apply(decision('web'));
    const bad = decision('web', { pathPrefix: 'no-slash' });
    await expect(provider.apply(bad)).rejects.toThrow(RouterError);
    expect(await provider.verify(bad)).toBe('pending');
    expect(await provider.verify(decision('web'))).toBe('verified');
    expect(router.getRouteTable().services.map((s) => s.pathPrefix)).toEqual(['/web']);
    // The next write does not carry the refused route.
    await provider.apply(decision('api'));
    expect(router.getRouteTable().services.map((s) => s.pathPrefix)).toEqual(['/web', '/api']);
  });

  it('a refused pinning table leaves the pinning in force as it was', async () => {
    const { router, provider } = await setup();
    await provider.apply(decision('web'));
    await provider.apply(decision('api'));
    await provider.applyReleases([release]);
    await expect(provider.applyReleases([{ ...release, secret: 'short' }])).rejects.toThrow(RouterError);
    expect(router.getRouteTable().releases).toEqual([release]);
    await provider.apply(decision('web', { pathPrefix: '/w' }));
    expect(router.getRouteTable().releases).toEqual([release]);
  });

  it('behind a slow router, tables do not queue up: the router takes the one in flight, then only the newest', async () => {
    const { router, control } = await setup();
    const taken: string[][] = [];
    let letGo: (() => void) | undefined;
    const slow: typeof control = new Proxy(control, {
      get(target, prop, receiver) {
        if (prop === 'applyTable') {
          return async (table: Parameters<typeof control.applyTable>[0]) => {
            taken.push(table.services.map((s) => s.name));
            await new Promise<void>((r) => (letGo = r));
            return target.applyTable(table);
          };
        }
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const provider = new BuiltinTrafficProvider({ control: slow });
    const first = provider.apply(decision('web'));
    await until(() => taken.length === 1, 2000);
    // Three changes while the first table is on its way: one write carries them all.
    const later = [provider.apply(decision('api')), provider.apply(decision('cart')), provider.applyReleases([release])];
    letGo!();
    await first;
    await until(() => taken.length === 2, 2000);
    letGo!();
    await Promise.all(later);
    expect(taken).toEqual([['web'], ['web', 'api', 'cart']]);
    expect(router.getRouteTable().releases).toEqual([release]);
    expect(await provider.verify(decision('cart'))).toBe('verified');
  });

  it('applyTogether puts routes, removals and the pinning in force as one table, and keeps nothing of it when refused', async () => {
    const { router, provider } = await setup();
    await provider.apply(decision('old'));
    const before = router.getRouteTable();
    await provider.applyTogether({ decisions: [decision('web'), decision('api')], removed: ['old'], releases: [release] });
    expect(router.getRouteTable()).toMatchObject({ services: [{ name: 'web' }, { name: 'api' }], releases: [release] });
    expect(before.services.map((s) => s.name)).toEqual(['old']);
    const table = router.getRouteTable();
    await expect(provider.applyTogether({ decisions: [decision('web', { pathPrefix: 'no-slash' }), decision('cart')], removed: ['api'], releases: [] })).rejects.toThrow(RouterError);
    expect(router.getRouteTable()).toEqual(table);
    // The next write carries none of the refused change.
    await provider.apply(decision('shop'));
    expect(router.getRouteTable().services.map((s) => [s.name, s.pathPrefix])).toEqual([['web', '/web'], ['api', '/api'], ['shop', '/shop']]);
    expect(router.getRouteTable().releases).toEqual([release]);
  });

  it('takes over the table a restarted router already has', async () => {
    const { control, router } = await setup();
    await new BuiltinTrafficProvider({ control }).apply(decision('web'));
    const again = new BuiltinTrafficProvider({ control });
    await again.removeManagedRoutes({ namespace: 'default', service: 'web' });
    expect(router.getRouteTable().services).toEqual([]);
  });

  it('routes no preview for a spec that does not allow it (allowPreviewHeader off), as before', async () => {
    const { router, provider } = await setup();
    await provider.apply(decision('web', { spec: { strategy: { blueGreen: {} } }, traffic: { stableRevision: 'v1', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [], previewRevision: 'v2' } }));
    expect(router.getRouteTable().services[0]!.matches).toBeUndefined();
  });
});
