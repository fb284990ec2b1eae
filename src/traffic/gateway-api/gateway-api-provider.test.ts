/**
 * The Gateway API provider against the fake API server with the official Gateway API v1.6.1
 * CRDs installed: what a user sees in their HTTPRoutes and GRPCRoutes after each decision, what
 * the provider refuses, and the conformance suite through a simulated Gateway (the validate half
 * and Argo's plugin examples are in gateway-api-config.test.ts). Caches are list caches refreshed
 * as an informer that has caught up would be.
 */
import { ApiException } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayDataPlane } from '../../../test/fixtures/kube/gateway-api-data-plane.js';
import { BETA, CANARY, GROUP, Harness, NS, STABLE, decision, ref, spec, splitRule, weightsOf } from '../../../test/fixtures/kube/gateway-api-harness.js';
import type { RolloutSpec } from '../../documents/schema.js';
import { retryAfterMsOf } from '../../lib/retry-after.js';
import { describeTrafficProviderConformance } from '../traffic-provider.case.test.js';
import { TrafficCapabilityError, type TrafficProvider } from '../traffic-provider.js';
import { GATEWAY_API_PLUGIN } from './gateway-api-config.js';
import { GatewayConfigError, GatewayRouteError, GatewayRouteThrottledError } from './gateway-route-error.js';
import type { RouteRule } from './route-rules.js';

// ---------------------------------------------------------------------------------------------

describeTrafficProviderConformance('gateway-api', async () => {
  const h = await Harness.start();
  await h.create('HTTPRoute', 'shop', [splitRule()]);
  const plane = new GatewayDataPlane({ kubeConfig: h.kubeConfig, namespace: NS, route: 'shop', backends: { [STABLE]: 'v1', [CANARY]: 'v2' } });
  const p = h.provider;
  // Caches refreshed around each call: an informer that has caught up.
  const provider: TrafficProvider = {
    type: p.type,
    capabilities: p.capabilities,
    validate: (s) => p.validate(s),
    apply: async (d) => { await h.refresh(); try { await p.apply(d); } finally { await h.refresh(); } },
    verify: async (d) => { await h.refresh(); return p.verify(d); },
    removeManagedRoutes: async (k) => { await h.refresh(); await p.removeManagedRoutes(k); },
  };
  return {
    provider,
    endpoints: [],
    previewHeaders: {},
    send: async ({ count, headers }) => plane.send({ count, ...(headers ? { headers } : {}) }),
    received: (revision) => Promise.resolve(plane.received(revision)),
    teardown: () => h.close(),
  };
}, {
  spec: (s) => {
    if (!s.strategy.canary) return s;
    const { builtin: _builtin, ...routing } = s.strategy.canary.trafficRouting ?? {};
    return { strategy: { canary: { ...s.strategy.canary, canaryService: CANARY, stableService: STABLE, trafficRouting: { ...routing, plugins: { [GATEWAY_API_PLUGIN]: { httpRoute: 'shop' } } } } } };
  },
  skip: {
    remove: 'an HTTPRoute is the user\'s: removing the service takes graylane\'s rules out and puts all traffic on stable, it never deletes the route (tested below)',
  },
});

describe('gateway-api provider: HTTPRoute weights', () => {
  let h: Harness;
  afterEach(async () => { await h?.close(); });

  it('writes 0/30/100 on the stable and canary backendRefs, keeps every other rule and field, and verifies from the cache', async () => {
    h = await Harness.start();
    const other: RouteRule = { matches: [{ path: { type: 'PathPrefix', value: '/admin' } }], backendRefs: [ref('admin') as never] };
    const filtered = splitRule({ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x-via', value: 'gw' }] } }], backendRefs: [ref(STABLE) as never, ref(CANARY) as never, ref('shop-legacy', 5) as never] });
    await h.create('HTTPRoute', 'shop', [other, filtered]);
    const s = spec({ httpRoute: 'shop' });
    for (const w of [0, 30, 100]) {
      await h.refresh();
      await h.provider.apply(decision(s, { canaryWeight: w }));
      const rules = await h.rules('HTTPRoute', 'shop');
      expect(weightsOf(rules)).toEqual([{ admin: undefined }, { [STABLE]: 100 - w, [CANARY]: w, 'shop-legacy': 5 }]);
      expect(rules[0]).toEqual(other);
      expect(rules[1]!.filters).toEqual(filtered.filters);
      expect(await h.provider.verify(decision(s, { canaryWeight: w }))).toBe('pending'); // the cache has not seen the write yet
      await h.refresh();
      expect(await h.provider.verify(decision(s, { canaryWeight: w }))).toBe('verified');
      expect(await h.provider.verify(decision(s, { canaryWeight: w === 100 ? 99 : w + 1 }))).toBe('pending');
    }
    const route = await h.read('HTTPRoute', 'shop');
    expect(route.spec?.parentRefs).toEqual([{ name: 'eg' }]);
    expect(await h.expectAllSchemaValid()).toBe(2);
  });

  it('without a canary revision all traffic is on stable, whatever the weight says', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [splitRule()]);
    await h.refresh();
    await h.provider.apply(decision(spec({ httpRoute: 'shop' }), { canaryRevision: undefined, canaryWeight: 40 }));
    expect(weightsOf(await h.rules('HTTPRoute', 'shop'))).toEqual([{ [STABLE]: 100, [CANARY]: 0 }]);
  });

  it('applying an equal decision again writes nothing', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [splitRule()]);
    await h.refresh();
    const d = decision(spec({ httpRoute: 'shop' }, [{ setHeaderRoute: BETA }]), { canaryWeight: 20, headerRoutes: [BETA] });
    await h.provider.apply(d);
    await h.refresh();
    const writes = h.patches();
    await h.provider.apply(structuredClone(d));
    expect(h.patches()).toBe(writes);
  });

  it('several routes, in another namespace: weights on each; header routes only on the one with useHeaderRoutes', async () => {
    h = await Harness.start({ namespaces: ['edge'] });
    await h.create('HTTPRoute', 'public', [splitRule()], { namespace: 'edge' });
    await h.create('HTTPRoute', 'internal', [splitRule()], { namespace: 'edge' });
    await h.refresh();
    const s = spec({ namespace: 'edge', httpRoutes: [{ name: 'public' }, { name: 'internal', useHeaderRoutes: true }] }, [{ setHeaderRoute: BETA }]);
    expect(h.provider.validate(s)).toEqual([]);
    await h.provider.apply(decision(s, { canaryWeight: 10, headerRoutes: [BETA] }));
    expect(weightsOf(await h.rules('HTTPRoute', 'public', 'edge'))).toEqual([{ [STABLE]: 90, [CANARY]: 10 }]);
    const internal = await h.rules('HTTPRoute', 'internal', 'edge');
    expect(internal.map((r) => r.name)).toEqual(['shop.graylane-header-beta', undefined]);
    expect(weightsOf(internal)).toEqual([{ [CANARY]: 1 }, { [STABLE]: 90, [CANARY]: 10 }]);
    await h.refresh();
    expect(await h.provider.verify(decision(s, { canaryWeight: 10, headerRoutes: [BETA] }))).toBe('verified');
    expect(await h.expectAllSchemaValid()).toBe(4);
  });

  it('writes HTTPRoute v1beta1 where asked, valid against the v1beta1 schema', async () => {
    h = await Harness.start({ httpRouteVersion: 'v1beta1' });
    await h.create('HTTPRoute', 'shop', [splitRule()], { version: 'v1beta1' });
    await h.refresh();
    await h.provider.apply(decision(spec({ httpRoute: 'shop' }, [{ setHeaderRoute: BETA }]), { canaryWeight: 25, headerRoutes: [BETA] }));
    expect(h.server.requests.filter((r) => r.method === 'PATCH').map((r) => r.path.split('?')[0])).toEqual([`/apis/${GROUP}/v1beta1/namespaces/default/httproutes/shop`]);
    expect(weightsOf(await h.rules('HTTPRoute', 'shop'))).toEqual([{ [CANARY]: 1 }, { [STABLE]: 75, [CANARY]: 25 }]);
    expect(await h.expectAllSchemaValid()).toBe(2);
  });
});

describe('gateway-api provider: GRPCRoute', () => {
  let h: Harness;
  afterEach(async () => { await h?.close(); });

  it('weighs a GRPCRoute\'s backendRefs and adds header routes with gRPC matches, valid against the GRPCRoute schema', async () => {
    h = await Harness.start();
    const method = { type: 'Exact', service: 'shop.Cart', method: 'Add' };
    await h.create('GRPCRoute', 'shop-grpc', [{ matches: [{ method }], backendRefs: [ref(STABLE) as never, ref(CANARY) as never] }]);
    await h.refresh();
    const s = spec({ grpcRoute: 'shop-grpc' }, [{ setHeaderRoute: BETA }]);
    await h.provider.apply(decision(s, { canaryWeight: 30, headerRoutes: [BETA] }));
    const rules = await h.rules('GRPCRoute', 'shop-grpc');
    expect(rules[0]).toEqual({ name: 'shop.graylane-header-beta', matches: [{ method, headers: [{ name: 'x-beta', type: 'Exact', value: 'yes' }] }], backendRefs: [{ group: '', kind: 'Service', name: CANARY, port: 80, weight: 1 }] });
    expect(weightsOf(rules.slice(1))).toEqual([{ [STABLE]: 70, [CANARY]: 30 }]);
    await h.refresh();
    expect(await h.provider.verify(decision(s, { canaryWeight: 30, headerRoutes: [BETA] }))).toBe('verified');
    await h.provider.apply(decision(s, { canaryWeight: 100 }));
    expect(weightsOf(await h.rules('GRPCRoute', 'shop-grpc'))).toEqual([{ [STABLE]: 0, [CANARY]: 100 }]);
    expect(await h.expectAllSchemaValid()).toBe(1);
  });
});

describe('gateway-api provider: header and mirror routes', () => {
  let h: Harness;
  afterEach(async () => { await h?.close(); });

  it('adds a header route per rule that splits (matches and filters copied), removes it when the step is over, and never touches the user\'s own canary-only rule', async () => {
    h = await Harness.start();
    const users: RouteRule = { name: 'preview', matches: [{ path: { type: 'PathPrefix', value: '/preview' } }], backendRefs: [ref(CANARY) as never] };
    const api = splitRule({ matches: [{ path: { type: 'PathPrefix', value: '/api' }, headers: [{ name: 'x-tenant', value: 'a' }] }], filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-env', value: 'prod' }] } }] });
    await h.create('HTTPRoute', 'shop', [users, api, splitRule()]);
    await h.refresh();
    const s = spec({ httpRoute: 'shop' }, [{ setHeaderRoute: BETA }]);
    await h.provider.apply(decision(s, { canaryWeight: 0, headerRoutes: [BETA] }));
    const rules = await h.rules('HTTPRoute', 'shop');
    expect(rules.map((r) => r.name)).toEqual(['shop.graylane-header-beta', 'shop.graylane-header-beta-1', 'preview', undefined, undefined]);
    // The user's canary-only rule is neither weighed nor copied: at weight 0 it would have no backend left.
    expect(rules[2]).toEqual(users);
    expect(rules[0]).toEqual({
      name: 'shop.graylane-header-beta',
      matches: [{ path: { type: 'PathPrefix', value: '/api' }, headers: [{ name: 'x-tenant', type: 'Exact', value: 'a' }, { name: 'x-beta', type: 'Exact', value: 'yes' }] }],
      filters: api.filters,
      backendRefs: [{ group: '', kind: 'Service', name: CANARY, port: 80, weight: 1 }],
    });
    expect(rules[1]!.matches).toEqual([{ path: { type: 'PathPrefix', value: '/' }, headers: [{ name: 'x-beta', type: 'Exact', value: 'yes' }] }]);
    await h.refresh();
    await h.provider.apply(decision(s, { canaryWeight: 0, headerRoutes: [] }));
    const after = await h.rules('HTTPRoute', 'shop');
    expect(after.map((r) => r.name)).toEqual(['preview', undefined, undefined]);
    expect(after[0]).toEqual(users);
  });

  it('routes by header, prefix and cookie as a Gateway would: matching requests reach the canary, others the split', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [splitRule()]);
    await h.refresh();
    const plane = new GatewayDataPlane({ kubeConfig: h.kubeConfig, namespace: NS, route: 'shop', backends: { [STABLE]: 'v1', [CANARY]: 'v2' } });
    const routes = [
      { name: 'version', match: [{ headerName: 'x-version', headerValue: { prefix: 'v2.' } }] },
      { name: 'Beta Testers', match: [{ cookieName: 'beta', cookieValue: { exact: 'on' } }] },
    ];
    await h.provider.apply(decision(spec({ httpRoute: 'shop' }, routes.map((r) => ({ setHeaderRoute: r }))), { canaryWeight: 0, headerRoutes: routes }));
    expect((await h.rules('HTTPRoute', 'shop')).map((r) => r.name)).toEqual(['shop.graylane-header-version', 'shop.graylane-header-beta-testers', undefined]);
    expect(await plane.send({ count: 10, headers: { 'x-version': 'v2.1' } })).toEqual({ v2: 10 });
    // Argo's plugin wrote `v2..*`, unescaped: `v2x1` matched too.
    expect(await plane.send({ count: 10, headers: { 'x-version': 'v2x1' } })).toEqual({ v1: 10 });
    expect(await plane.send({ count: 10, headers: { cookie: 'theme=dark; beta=on' } })).toEqual({ v2: 10 });
    expect(await plane.send({ count: 10, headers: { cookie: 'beta=onward; xbeta=on' } })).toEqual({ v1: 10 });
    expect(await h.expectAllSchemaValid()).toBe(2);
  });

  it('mirrors through RequestMirror with the step\'s percent; the mirror rule answers as the split says; removed with the step', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [splitRule()]);
    await h.refresh();
    const shadow = { name: 'shadow', percentage: 50, match: [{ path: { prefix: '/api' }, method: { exact: 'post' }, headers: { 'x-debug': { exact: '1' } } }] };
    const s = spec({ httpRoute: 'shop' }, [{ setMirrorRoute: shadow }]);
    expect(h.provider.validate(s)).toEqual([]);
    await h.provider.apply(decision(s, { canaryWeight: 10, mirrorRoutes: [shadow] }));
    const rules = await h.rules('HTTPRoute', 'shop');
    expect(rules[0]).toEqual({
      name: 'shop.graylane-mirror-shadow',
      matches: [{ path: { type: 'PathPrefix', value: '/api' }, method: 'POST', headers: [{ name: 'x-debug', type: 'Exact', value: '1' }] }],
      filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { group: '', kind: 'Service', name: CANARY, port: 80 }, percent: 50 } }],
      backendRefs: [{ group: '', kind: 'Service', name: STABLE, port: 80, weight: 90 }, { group: '', kind: 'Service', name: CANARY, port: 80, weight: 10 }],
    });
    const plane = new GatewayDataPlane({ kubeConfig: h.kubeConfig, namespace: NS, route: 'shop', backends: { [STABLE]: 'v1', [CANARY]: 'v2' } });
    await plane.send({ count: 400, path: '/api/cart', method: 'POST', headers: { 'x-debug': '1' } });
    // 400 requests: 10 % answered by v2 and half of all copied to it: 240 expected, sd ≈ 11.
    expect(plane.received('v2')).toBeGreaterThan(190);
    expect(plane.received('v2')).toBeLessThan(290);
    await h.refresh();
    expect(await h.provider.verify(decision(s, { canaryWeight: 10, mirrorRoutes: [shadow] }))).toBe('verified');
    expect(await h.provider.verify(decision(s, { canaryWeight: 10, mirrorRoutes: [{ ...shadow, percentage: 60 }] }))).toBe('pending');
    await h.provider.apply(decision(s, { canaryWeight: 10 }));
    expect((await h.rules('HTTPRoute', 'shop')).map((r) => r.name)).toEqual([undefined]);
    expect(await h.expectAllSchemaValid()).toBe(2);
  });
});

describe('gateway-api provider: drift, conflicts and errors', () => {
  let h: Harness;
  afterEach(async () => { await h?.close(); });

  it('re-asserts its weights and rules when someone edits the route: pending until the next apply puts them back', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [splitRule()]);
    await h.refresh();
    const d = decision(spec({ httpRoute: 'shop' }, [{ setHeaderRoute: BETA }]), { canaryWeight: 20, headerRoutes: [BETA] });
    await h.provider.apply(d);
    await h.replaceRules('HTTPRoute', 'shop', (rules) => rules.slice(1).map((r) => ({ ...r, backendRefs: (r.backendRefs ?? []).map((b) => ({ ...b, weight: 50 })) })));
    await h.refresh();
    expect(await h.provider.verify(d)).toBe('pending');
    await h.provider.apply(d);
    expect(weightsOf(await h.rules('HTTPRoute', 'shop'))).toEqual([{ [CANARY]: 1 }, { [STABLE]: 80, [CANARY]: 20 }]);
    await h.refresh();
    expect(await h.provider.verify(d)).toBe('verified');
  });

  it('a missing route is a typed error with a sentence naming it; every other route is still written', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [splitRule()]);
    await h.refresh();
    const s = spec({ httpRoutes: [{ name: 'gone' }, { name: 'shop' }] });
    const err = await h.provider.apply(decision(s, { canaryWeight: 40 })).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayRouteError);
    expect(err).toMatchObject({ code: 'GatewayRouteRefused', refusals: [{ route: 'HTTPRoute default/gone', reason: 'not-found' }] });
    expect((err as Error).message).toBe('HTTPRoute default/gone does not exist: graylane routes through the routes a Rollout names and never creates one');
    expect(weightsOf(await h.rules('HTTPRoute', 'shop'))).toEqual([{ [STABLE]: 60, [CANARY]: 40 }]);
    await h.refresh();
    expect(await h.provider.verify(decision(s, { canaryWeight: 40 }))).toBe('pending');
  });

  it('a route none of whose rules names both Services is refused by name and left as it was', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [{ backendRefs: [ref(STABLE) as never] }]);
    await h.refresh();
    await expect(h.provider.apply(decision(spec({ httpRoute: 'shop' }), { canaryWeight: 40 }))).rejects.toMatchObject({
      refusals: [{ reason: 'backend-not-found', message: `HTTPRoute default/shop has no rule whose backendRefs name both Service "${STABLE}" (stable) and Service "${CANARY}" (canary): add both to each rule to split` }],
    });
    expect(await h.rules('HTTPRoute', 'shop')).toEqual([{ backendRefs: [ref(STABLE)] }]);
  });

  it('a route that would hold more than 16 rules with the header routes is refused with a sentence before anything is written', async () => {
    h = await Harness.start();
    const rules = Array.from({ length: 9 }, (_, i) => splitRule({ matches: [{ path: { type: 'PathPrefix', value: `/p${i}` } }] }));
    await h.create('HTTPRoute', 'shop', rules);
    await h.refresh();
    const err = await h.provider.apply(decision(spec({ httpRoute: 'shop' }, [{ setHeaderRoute: BETA }]), { canaryWeight: 10, headerRoutes: [BETA] })).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'GatewayRouteRefused', refusals: [{ reason: 'too-many-rules' }] });
    expect((err as Error).message).toMatch(/^HTTPRoute default\/shop would hold 18 rules with graylane's header and mirror rules .* more than the 16 the Gateway API allows/);
    expect(await h.rules('HTTPRoute', 'shop')).toEqual(rules);
  });

  it('a route deleted after the cache saw it is refused as missing (the write\'s 404 is read again, not thrown)', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [splitRule()]);
    await h.refresh();
    await h.api.deleteNamespacedCustomObject({ group: GROUP, version: 'v1', namespace: NS, plural: 'httproutes', name: 'shop' });
    await expect(h.provider.apply(decision(spec({ httpRoute: 'shop' }), { canaryWeight: 10 }))).rejects.toMatchObject({ refusals: [{ route: 'HTTPRoute default/shop', reason: 'not-found' }] });
  });

  it('any other error of the API server is thrown as it is, the route left as it was', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [splitRule()]);
    await h.refresh();
    h.server.injectFault({ status: 500, method: 'PATCH', pathIncludes: '/httproutes/shop' });
    const err = await h.provider.apply(decision(spec({ httpRoute: 'shop' }), { canaryWeight: 10 })).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<unknown>).code).toBe(500);
    expect(weightsOf(await h.rules('HTTPRoute', 'shop'))).toEqual([{ [STABLE]: undefined, [CANARY]: undefined }]);
  });

  it('survives a 409: a route changed since the cache saw it is read again and planned afresh, keeping the other change', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [splitRule()]);
    await h.refresh();
    await h.replaceRules('HTTPRoute', 'shop', (rules) => [...rules, { matches: [{ path: { type: 'Exact', value: '/health' } }], backendRefs: [ref('health') as never] }]);
    await h.provider.apply(decision(spec({ httpRoute: 'shop' }), { canaryWeight: 30 }));
    expect(weightsOf(await h.rules('HTTPRoute', 'shop'))).toEqual([{ [STABLE]: 70, [CANARY]: 30 }, { health: undefined }]);
    expect(h.server.requests.filter((r) => r.path.includes('/httproutes/shop')).map((r) => r.method)).toEqual(['GET', 'PUT', 'PATCH', 'GET', 'PATCH', 'GET']);
  });

  it('after its retries a conflict is thrown, for the pass to try again', async () => {
    h = await Harness.start({ maxConflictRetries: 0 });
    await h.create('HTTPRoute', 'shop', [splitRule()]);
    await h.refresh();
    await h.replaceRules('HTTPRoute', 'shop', (rules) => rules);
    const err = await h.provider.apply(decision(spec({ httpRoute: 'shop' }), { canaryWeight: 30 })).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<unknown>).code).toBe(409);
  });

  it('a write the server sheds (429 with Retry-After) is thrown with the delay it asked for, the route left as it was', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [splitRule()]);
    await h.refresh();
    h.server.injectFault({ status: 429, method: 'PATCH', pathIncludes: '/httproutes/shop', retryAfterSeconds: 3 });
    const err = await h.provider.apply(decision(spec({ httpRoute: 'shop' }), { canaryWeight: 30 })).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayRouteThrottledError);
    expect(err).toMatchObject({ code: 'GatewayRouteWriteThrottled', retryAfterMs: 3000, message: expect.stringContaining('HTTPRoute default/shop was not written') as string });
    expect(retryAfterMsOf(err)).toBe(3000);
    expect(weightsOf(await h.rules('HTTPRoute', 'shop'))).toEqual([{ [STABLE]: undefined, [CANARY]: undefined }]);
    // The same for a read the server sheds (a route the cache has not seen).
    h.server.injectFault({ status: 503, method: 'GET', pathIncludes: '/httproutes/late', retryAfterSeconds: 1 });
    await expect(h.provider.apply(decision(spec({ httpRoute: 'late' }), { canaryWeight: 30 }))).rejects.toMatchObject({ code: 'GatewayRouteWriteThrottled', retryAfterMs: 1000 });
  });

  it('an invalid configuration at apply time is a GatewayConfigError naming each problem; a preview by header a TrafficCapabilityError', async () => {
    h = await Harness.start();
    const bad: RolloutSpec = { strategy: { canary: { stableService: STABLE, trafficRouting: { plugins: { [GATEWAY_API_PLUGIN]: { httpRoute: 'shop' } } } } } };
    const err = await h.provider.apply(decision(bad, { canaryWeight: 10 })).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayConfigError);
    expect(err).toMatchObject({ code: 'GatewayConfigInvalid', message: 'the Gateway API configuration cannot be carried out: strategy.canary.canaryService: the Gateway API provider weighs the canaryService\'s backendRef: name it' });
    await expect(h.provider.apply(decision({ strategy: { blueGreen: { allowPreviewHeader: true } } }, { previewRevision: 'v2' }))).rejects.toThrow(TrafficCapabilityError);
    expect(await h.provider.verify(decision(bad, { canaryWeight: 10 }))).toBe('pending');
  });
});

describe('gateway-api provider: giving routes back', () => {
  let h: Harness;
  afterEach(async () => { await h?.close(); });

  it('removeManagedRoutes takes graylane\'s rules out and puts all traffic on stable, twice without harm; another Rollout\'s rules stay', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'shop', [splitRule(), { name: 'cart.graylane-header-x', backendRefs: [ref('cart-canary') as never] }]);
    await h.refresh();
    await h.provider.apply(decision(spec({ httpRoute: 'shop' }, [{ setHeaderRoute: BETA }]), { canaryWeight: 60, headerRoutes: [BETA] }));
    // Not refreshed: the provider remembers what it wrote before the cache shows it.
    await h.provider.removeManagedRoutes({ namespace: NS, service: 'shop' });
    await h.refresh();
    await h.provider.removeManagedRoutes({ namespace: NS, service: 'shop' });
    const rules = await h.rules('HTTPRoute', 'shop');
    expect(rules.map((r) => r.name)).toEqual([undefined, 'cart.graylane-header-x']);
    expect(weightsOf(rules)[0]).toEqual({ [STABLE]: 100, [CANARY]: 0 });
  });

  it('after a restart (no memory) rules are still found by name and taken out; a route the spec no longer names is given back on apply', async () => {
    h = await Harness.start();
    await h.create('HTTPRoute', 'old', [splitRule()]);
    await h.create('HTTPRoute', 'new', [splitRule()]);
    await h.refresh();
    await h.provider.apply(decision(spec({ httpRoute: 'old' }, [{ setHeaderRoute: BETA }]), { canaryWeight: 5, headerRoutes: [BETA] }));
    await h.refresh();
    h.provider = h.newProvider();
    await h.provider.apply(decision(spec({ httpRoute: 'new' }, [{ setHeaderRoute: BETA }]), { canaryWeight: 5, headerRoutes: [BETA] }));
    expect((await h.rules('HTTPRoute', 'old')).map((r) => r.name)).toEqual([undefined]);
    expect((await h.rules('HTTPRoute', 'new')).map((r) => r.name)).toEqual(['shop.graylane-header-beta', undefined]);
    await h.refresh();
    h.provider = h.newProvider();
    await h.provider.removeManagedRoutes({ namespace: NS, service: 'shop' });
    expect((await h.rules('HTTPRoute', 'new')).map((r) => r.name)).toEqual([undefined]);
  });
});
