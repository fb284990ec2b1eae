/**
 * Release pinning through the Gateway API, against the fake API server with the official v1.6.1
 * CRDs (every stored route checked against each served version's schema): the pin rules and the
 * `ResponseHeaderModifier` a user sees in their HTTPRoute, and clients followed across requests
 * through a Gateway in miniature that hands back the Set-Cookie the chosen backendRef adds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CookieClient } from '../../../test/fixtures/kube/cookie-client.js';
import { GatewayDataPlane, type SimulatedRequest, type SimulatedResponse } from '../../../test/fixtures/kube/gateway-api-data-plane.js';
import { CANARY, Harness, NS, STABLE, decision, ref, spec, splitRule } from '../../../test/fixtures/kube/gateway-api-harness.js';
import type { ReleasePin } from '../release-pin.js';
import type { TrafficDecision } from '../traffic-provider.js';
import { GatewayRouteError } from './gateway-route-error.js';
import type { RouteRule } from './route-rules.js';

const pin: ReleasePin = { release: 'shop', generation: 'g1', cookie: 'graylane-release', header: 'x-graylane-release', allowForceHeader: false, phase: 'progressing' };
const s = spec({ httpRoute: 'shop' });
const pinned = (canaryWeight: number, release: ReleasePin = pin): TrafficDecision => ({ ...decision(s, { canaryWeight }), release });
const cookie = (side: string) => `graylane-release=shop.g1.${side}; Path=/; SameSite=Lax; HttpOnly`;
const pattern = (side: string) => `^(.*?;\\s*)?graylane-release=shop\\.g1\\.${side}(;.*)?$`;

describe('release pinning through the Gateway API', () => {
  let h: Harness;
  afterEach(async () => { await h?.close(); });

  async function apply(d: TrafficDecision): Promise<void> {
    await h.refresh();
    try { await h.provider.apply(d); } finally { await h.refresh(); }
  }

  it('writes a pin rule per side (Cookie pattern or header, the split rule\'s path kept) and the pin cookie on both backendRefs; valid for the official schema', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [splitRule({ matches: [{ path: { type: 'PathPrefix', value: '/shop' } }] })]);
    await apply(pinned(30));
    const rules = await h.rules('HTTPRoute', 'shop');
    expect(rules.map((r) => r.name)).toEqual(['shop.graylane-pin-canary', 'shop.graylane-pin-stable', undefined]);
    expect(rules[0]).toEqual({
      name: 'shop.graylane-pin-canary',
      matches: [
        { path: { type: 'PathPrefix', value: '/shop' }, headers: [{ name: 'Cookie', type: 'RegularExpression', value: pattern('canary') }] },
        { path: { type: 'PathPrefix', value: '/shop' }, headers: [{ name: 'x-graylane-release', type: 'Exact', value: 'shop.g1.canary' }] },
      ],
      backendRefs: [{ group: '', kind: 'Service', name: CANARY, port: 80, weight: 1 }],
    });
    expect(rules[2]!.backendRefs).toEqual([
      { name: STABLE, port: 80, weight: 70, filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'Set-Cookie', value: cookie('stable') }] } }] },
      { name: CANARY, port: 80, weight: 30, filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'Set-Cookie', value: cookie('canary') }] } }] },
    ]);
    expect(await h.expectAllSchemaValid()).toBe(2);
    expect(await h.provider.verify(pinned(30))).toBe('verified');
    expect(await h.provider.verify(decision(s, { canaryWeight: 30 }))).toBe('pending');
  });

  it('a client served by the canary keeps it while the split moves, a stable one keeps stable, new clients split by weight; the pins go with the pin, after a restart too', async () => {
    h = await Harness.start();
    // The user's own response header on the stable backendRef is kept beside the pin cookie.
    await h.create('HTTPRoute', 'shop', [splitRule({ backendRefs: [{ ...ref(STABLE), filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'x-served-by', value: 'stable' }] } }] } as never, ref(CANARY) as never] })]);
    await apply(pinned(30));
    const plane = new GatewayDataPlane({ kubeConfig: h.kubeConfig, namespace: NS, route: 'shop', backends: { [STABLE]: 'v1', [CANARY]: 'v2' } });
    const client = () => new CookieClient<SimulatedRequest, SimulatedResponse>({ send: (r) => plane.request(r) });
    const clients = Array.from({ length: 40 }, client);
    for (const c of clients) await c.send({});
    const onCanary = clients.filter((c) => c.cookies.get('graylane-release') === 'shop.g1.canary');
    const onStable = clients.filter((c) => c.cookies.get('graylane-release') === 'shop.g1.stable');
    expect(onCanary.length).toBeGreaterThan(0);
    expect(onStable.length).toBeGreaterThan(0);
    expect(onCanary.length + onStable.length).toBe(40);
    for (const weight of [70, 5]) {
      await apply(pinned(weight));
      for (let i = 0; i < 4; i += 1) {
        for (const c of onCanary) expect((await c.send({ path: `/assets/app-${i}.js` })).revision).toBe('v2');
        for (const c of onStable) expect((await c.send({})).revision).toBe('v1');
      }
    }
    let canary = 0;
    for (let i = 0; i < 200; i += 1) if ((await client().send({})).revision === 'v2') canary += 1;
    expect(canary).toBeLessThan(40);
    expect((await plane.request({ headers: { 'x-graylane-release': 'shop.g1.canary' } })).revision).toBe('v2');
    // A pinned request gets the user's own response headers of its side, and no cookie again.
    expect((await plane.request({ headers: { 'x-graylane-release': 'shop.g1.stable' } })).headers).toEqual({ 'x-served-by': ['stable'] });
    // Promotion: no pin in the decision; a restarted provider takes the pins away, the user's header stays.
    h.provider = h.newProvider();
    await apply(decision(s, { canaryWeight: 100 }));
    const rules = await h.rules('HTTPRoute', 'shop');
    expect(rules).toHaveLength(1);
    expect(rules[0]!.backendRefs).toEqual([
      { name: STABLE, port: 80, weight: 0, filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'x-served-by', value: 'stable' }] } }] },
      { name: CANARY, port: 80, weight: 100 },
    ]);
    for (const c of onStable) expect((await c.send({})).revision).toBe('v2');
  });

  it('removeManagedRoutes after a restart takes the pin rules and cookies away', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [splitRule()]);
    await apply(pinned(30));
    h.provider = h.newProvider();
    await h.refresh();
    await h.provider.removeManagedRoutes({ namespace: NS, service: 'shop' });
    const rules: RouteRule[] = await h.rules('HTTPRoute', 'shop');
    expect(rules.map((r) => r.name)).toEqual([undefined]);
    expect(JSON.stringify(rules)).not.toMatch(/Set-Cookie/);
  });

  it.each([
    ['aborted (the abort grace): the canary\'s pin rule only', 'aborted', 0, ['shop.graylane-pin-canary', undefined]],
    ['promoted (the skew window): the stable pin rule only', 'promoted', 100, ['shop.graylane-pin-stable', undefined]],
  ] as const)('%s, and no cookie pins anyone new', async (_name, phase, weight, names) => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [splitRule()]);
    await apply(pinned(30));
    await apply(pinned(weight, { ...pin, phase }));
    const rules = await h.rules('HTTPRoute', 'shop');
    expect(rules.map((r) => r.name)).toEqual(names);
    expect(JSON.stringify(rules)).not.toMatch(/Set-Cookie/);
    expect(await h.expectAllSchemaValid()).toBe(2);
  });

  it('allowForceHeader: "canary" or "stable" alone picks the side', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [splitRule()]);
    await apply(pinned(50, { ...pin, allowForceHeader: true }));
    const plane = new GatewayDataPlane({ kubeConfig: h.kubeConfig, namespace: NS, route: 'shop', backends: { [STABLE]: 'v1', [CANARY]: 'v2' } });
    expect(await plane.send({ count: 20, headers: { 'x-graylane-release': 'canary' } })).toEqual({ v2: 20 });
    expect(await plane.send({ count: 20, headers: { 'X-Graylane-Release': 'stable' } })).toEqual({ v1: 20 });
  });

  it('a backendRef that adds a Set-Cookie of its own, or a split rule matching the Cookie header, is refused with a sentence and left as it was', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [splitRule({ backendRefs: [ref(STABLE) as never, { ...ref(CANARY), filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'Set-Cookie', value: 'session=1' }] } }] } as never] })]);
    await h.create('HTTPRoute', 'cookie-matched', [splitRule({ matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [{ type: 'Exact', name: 'cookie', value: 'x' }] }] })]);
    for (const [route, sentence] of [['shop', /canary backendRef "shop-canary" already adds a Set-Cookie header of its own/], ['cookie-matched', /already matches the "Cookie" header/]] as const) {
      const before = await h.read('HTTPRoute', route);
      const error = await apply({ ...pinned(30), spec: spec({ httpRoute: route }) }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(GatewayRouteError);
      expect((error as GatewayRouteError).refusals.map((r) => r.reason)).toEqual(['pin-conflict']);
      expect((error as Error).message).toMatch(sentence);
      expect((await h.read('HTTPRoute', route)).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    }
  });
});
