/**
 * The Gateway API provider's validate half, and Argo's Gateway API plugin example shapes
 * (test/fixtures/kube/gateway-api-examples/) loaded through graylane's loader with this provider
 * validating, their routes created in the fake API server with the official CRDs, and the routes
 * each step leaves.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { FakeApiServer } from '../../../test/fixtures/kube/fake-api-server.js';
import { BETA, CANARY, GROUP, Harness, NS, PLURAL, STABLE, schemaErrors, spec, traffic, weightsOf, type Routes } from '../../../test/fixtures/kube/gateway-api-harness.js';
import { kubeConfigFor } from '../../../test/fixtures/kube/kubeconfig.js';
import { ListCache } from '../../../test/fixtures/kube/list-cache.js';
import { loadDocuments } from '../../documents/index.js';
import type { RolloutSpec } from '../../documents/schema.js';
import type { TrafficInForce } from '../../engine/index.js';
import { trafficLoadChecks } from '../load-checks.js';
import { validationRegistry } from '../registry.js';
import type { TrafficDecision } from '../traffic-provider.js';
import { GATEWAY_API_PLUGIN, readGatewayApiSettings } from './gateway-api-config.js';
import { GatewayApiTrafficProvider } from './gateway-api-provider.js';

describe('gateway-api provider: validate', () => {
  const provider = (): GatewayApiTrafficProvider => new GatewayApiTrafficProvider({ kubeConfig: kubeConfigFor({ server: { url: 'http://127.0.0.1:1' } as FakeApiServer }), httpRoutes: new ListCache({ kubeConfig: kubeConfigFor({ server: { url: 'http://127.0.0.1:1' } as FakeApiServer }), apiVersion: `${GROUP}/v1`, kind: 'HTTPRoute' }) });
  const block = ['strategy', 'canary', 'trafficRouting', 'plugins', GATEWAY_API_PLUGIN];

  it('reads graylane\'s trafficRouting.gatewayAPI as Argo\'s plugin block, problems at its own path; both spellings at once is an error with a sentence', () => {
    const p = provider();
    const alias = ['strategy', 'canary', 'trafficRouting', 'gatewayAPI'];
    const s = (routing: Record<string, unknown>): RolloutSpec => ({ strategy: { canary: { canaryService: CANARY, stableService: STABLE, trafficRouting: routing } } });
    expect(readGatewayApiSettings(s({ gatewayAPI: { httpRoute: 'shop', namespace: 'edge' } }), NS).settings)
      .toEqual(readGatewayApiSettings(s({ plugins: { [GATEWAY_API_PLUGIN]: { httpRoute: 'shop', namespace: 'edge' } } }), NS).settings);
    expect(readGatewayApiSettings(s({ gatewayAPI: { httpRoute: 'shop' } }), NS).settings?.routes).toEqual([{ kind: 'HTTPRoute', name: 'shop', namespace: NS, managedRoutes: true }]);
    expect(p.validate(s({ gatewayAPI: { namespace: 'x' } })).map((i) => [i.path, i.reason])).toEqual([[alias, 'names no route: set httpRoute, httpRoutes, grpcRoute or grpcRoutes']]);
    expect(p.validate(s({ gatewayAPI: { httpRoute: 'a' }, plugins: { [GATEWAY_API_PLUGIN]: { httpRoute: 'a' } } })).map((i) => [i.path, i.reason])).toEqual([
      [alias, 'trafficRouting.gatewayAPI and trafficRouting.plugins."argoproj-labs/gatewayAPI" are two spellings of the same routes: keep one'],
    ]);
    // The loader says the same of a document, at the field's line.
    const text = `apiVersion: graylane.dev/v1alpha1
kind: Rollout
metadata: {name: shop}
spec:
  selector: {matchLabels: {app: shop}}
  template: {metadata: {labels: {app: shop}}, spec: {containers: [{name: shop, image: shop:1}]}}
  strategy:
    canary:
      canaryService: ${CANARY}
      stableService: ${STABLE}
      trafficRouting:
        gatewayAPI: {httpRoute: shop}
        plugins: {argoproj-labs/gatewayAPI: {httpRoute: shop}}
      steps: [{setWeight: 20}]
`;
    const both = loadDocuments({ text, file: 'both.yaml' }, trafficLoadChecks(validationRegistry([p])));
    expect(both.errors.map((e) => e.message)).toEqual([expect.stringContaining('two spellings of the same routes: keep one')]);
    const one = loadDocuments({ text: text.replace(/ {8}plugins:.*\n/, ''), file: 'alias.yaml' }, trafficLoadChecks(validationRegistry([p])));
    expect(one.errors).toEqual([]);
  });

  it('reports each problem of the plugin block by path', () => {
    const p = provider();
    const s = (routes: unknown, canary: Record<string, unknown> = {}): RolloutSpec => ({ strategy: { canary: { canaryService: CANARY, stableService: STABLE, trafficRouting: { plugins: { [GATEWAY_API_PLUGIN]: routes } }, ...canary } } });
    expect(p.validate(s({ httpRoute: 'shop' }))).toEqual([]);
    expect(p.validate(s({ namespace: 'x' })).map((i) => [i.path, i.reason])).toEqual([[block, 'names no route: set httpRoute, httpRoutes, grpcRoute or grpcRoutes']]);
    expect(p.validate(s({ httpRoute: 'shop', tcpRoutes: [{ name: 't' }], colour: 1 })).map((i) => i.path)).toEqual([[...block, 'tcpRoutes'], [...block, 'colour']]);
    expect(p.validate(s({ httpRoutes: [{ name: 'a' }, { useHeaderRoutes: true }, { name: 'a' }] })).map((i) => i.path)).toEqual([[...block, 'httpRoutes', 1, 'name'], [...block, 'httpRoutes']]);
    expect(p.validate(s({ httpRoute: 'shop' }, { canaryService: undefined })).map((i) => i.path)).toEqual([['strategy', 'canary', 'canaryService']]);
    expect(p.validate(s({ httpRoute: 'shop' }, { canaryService: STABLE })).map((i) => i.reason)).toEqual(['canaryService and stableService must be two Services: a backendRef cannot carry two weights']);
    expect(p.validate({ strategy: { canary: { canaryService: CANARY, stableService: STABLE, trafficRouting: { plugins: { [GATEWAY_API_PLUGIN]: { httpRoute: 'shop' }, 'acme/other': {} } } } } }).map((i) => i.reason))
      .toEqual(['graylane carries out the plugin "argoproj-labs/gatewayAPI" only, not "acme/other"']);
  });

  it('refuses steps the named routes cannot carry', () => {
    const p = provider();
    const steps = (routes: Routes, st: Parameters<typeof spec>[1]) => p.validate(spec(routes, st)).map((i) => [i.path.join('.'), i.reason]);
    expect(steps({ httpRoutes: [{ name: 'a' }] }, [{ setHeaderRoute: BETA }])).toEqual([['strategy.canary.steps.0.setHeaderRoute', 'no route takes header routes: use httpRoute or grpcRoute, or set useHeaderRoutes: true on one of httpRoutes or grpcRoutes']]);
    expect(steps({ grpcRoute: 'g' }, [{ setHeaderRoute: { name: 'c', match: [{ cookieName: 'beta', cookieValue: { exact: 'on' } }] } }])).toEqual([['strategy.canary.steps.0.setHeaderRoute', 'a GRPCRoute cannot match a cookie']]);
    expect(steps({ httpRoute: 'a' }, [{ setHeaderRoute: { name: 'c', match: [{ headerName: 'X-A', headerValue: { exact: '1' } }, { headerName: 'x-a', headerValue: { exact: '2' } }] } }])).toHaveLength(1);
    expect(steps({ grpcRoute: 'g' }, [{ setMirrorRoute: { name: 'm', match: [{ path: { prefix: '/' } }] } }])).toEqual([['strategy.canary.steps.0.setMirrorRoute', 'no HTTPRoute takes mirror routes: use httpRoute, or set useHeaderRoutes: true on one of httpRoutes']]);
    expect(steps({ httpRoute: 'a' }, [{ setMirrorRoute: { name: 'm', match: [{ method: { prefix: 'P' } }] } }])).toEqual([['strategy.canary.steps.0.setMirrorRoute.match.0.method', 'an HTTPRoute matches a method exactly: use method.exact']]);
  });

  it('the schema check can fail: a rule name the official schema refuses is caught', () => {
    expect(schemaErrors('HTTPRoute', 'v1', { apiVersion: `${GROUP}/v1`, kind: 'HTTPRoute', metadata: { name: 'x' }, spec: { rules: [{ name: 'Shop_Beta', backendRefs: [{ name: 'a', port: 80 }] }] } })).not.toEqual([]);
    expect(schemaErrors('HTTPRoute', 'v1beta1', { apiVersion: `${GROUP}/v1beta1`, kind: 'HTTPRoute', metadata: { name: 'x' }, spec: { rules: [{ backendRefs: [{ name: 'a', port: 80, weight: 1_000_001 }] }] } })).not.toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Argo's plugin example shapes, through graylane's loader and the fake.

const examples = fileURLToPath(new URL('../../../test/fixtures/kube/gateway-api-examples/', import.meta.url));

describe('gateway-api provider: Argo plugin examples', () => {
  let h: Harness;
  afterEach(async () => { await h?.close(); });

  /** Loads `file`: its Rollout through graylane's loader (with this provider validating), its routes into the fake. */
  async function load(file: string, options: { httpRouteVersion?: 'v1' | 'v1beta1' } = {}): Promise<RolloutSpec> {
    h = await Harness.start(options);
    const text = readFileSync(`${examples}${file}`, 'utf8');
    const result = loadDocuments({ text, file }, trafficLoadChecks(validationRegistry([h.provider])));
    expect(result.errors).toEqual([]);
    const rollout = result.documents.find((d) => d.kind === 'Rollout');
    for (const doc of parseAllDocuments(text).map((d) => d.toJS() as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } })) {
      if (doc.kind !== 'HTTPRoute' && doc.kind !== 'GRPCRoute') continue;
      await h.api.createNamespacedCustomObject({ group: GROUP, version: doc.apiVersion.split('/')[1]!, namespace: doc.metadata.namespace ?? NS, plural: PLURAL[doc.kind], body: doc });
    }
    await h.refresh();
    if (rollout?.kind !== 'Rollout') throw new Error(`${file} has no Rollout`);
    return rollout.doc.spec;
  }
  const d = (s: RolloutSpec, t: Partial<TrafficInForce>): TrafficDecision => ({ namespace: NS, service: 'rollouts-demo', spec: s, traffic: traffic(t), endpoints: [] });
  const S = 'argo-rollouts-stable-service';
  const C = 'argo-rollouts-canary-service';

  it('weights-httproute.yaml (httpRoute, v1): setWeight 30, 60, 100 as backendRef weights', async () => {
    const s = await load('weights-httproute.yaml');
    for (const w of [30, 60, 100]) {
      await h.provider.apply(d(s, { canaryWeight: w }));
      await h.refresh();
      expect(await h.provider.verify(d(s, { canaryWeight: w }))).toBe('verified');
    }
    const route = await h.read('HTTPRoute', 'argo-rollouts-http-route');
    expect(route.spec).toEqual({
      parentRefs: [{ name: 'eg' }],
      hostnames: ['demo.example.com'],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: S, kind: 'Service', port: 80, weight: 0 }, { name: C, kind: 'Service', port: 80, weight: 100 }] }],
    });
    expect(await h.expectAllSchemaValid()).toBe(2);
  });

  it('header-routes-v1beta1.yaml (httpRoutes with useHeaderRoutes, v1beta1): the header route added at its step and removed at the next', async () => {
    const s = await load('header-routes-v1beta1.yaml', { httpRouteVersion: 'v1beta1' });
    const steps = s.strategy.canary!.steps!;
    const set = steps[2]!;
    if (!('setHeaderRoute' in set)) throw new Error('step 2 is a setHeaderRoute');
    const header = { name: set.setHeaderRoute.name, match: set.setHeaderRoute.match ?? [] };
    await h.provider.apply(d(s, { canaryWeight: 0, headerRoutes: [header] }));
    expect(await h.rules('HTTPRoute', 'argo-rollouts-http-route')).toEqual([
      { name: 'rollouts-demo.graylane-header-argo-rollouts', matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [{ name: 'X-Test', type: 'Exact', value: 'test' }] }], backendRefs: [{ group: '', kind: 'Service', name: C, port: 80, weight: 1 }] },
      { backendRefs: [{ name: S, group: '', kind: 'Service', port: 80, weight: 100 }, { name: C, group: '', kind: 'Service', port: 80, weight: 0 }] },
    ]);
    await h.refresh();
    await h.provider.apply(d(s, { canaryWeight: 0, headerRoutes: [] }));
    expect((await h.rules('HTTPRoute', 'argo-rollouts-http-route')).map((r) => r.name)).toEqual([undefined]);
    expect(await h.expectAllSchemaValid()).toBe(2);
  });

  it('grpcroute.yaml (grpcRoute): setWeight 30 on the GRPCRoute', async () => {
    const s = await load('grpcroute.yaml');
    await h.provider.apply(d(s, { canaryWeight: 30 }));
    expect(weightsOf(await h.rules('GRPCRoute', 'argo-rollouts-grpc-route'))).toEqual([{ [S]: 70, [C]: 30 }]);
    expect(await h.expectAllSchemaValid()).toBe(1);
  });
});
