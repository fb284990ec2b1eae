/** The traffic registry: selection by place and spec, validation through each provider, typed errors. */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatSpecError, loadDocuments } from '../documents/index.js';
import type { RolloutSpec } from '../documents/schema.js';
import { capabilityIssues } from './capability-checks.js';
import { trafficLoadChecks } from './load-checks.js';
import { TrafficRegistry, UnknownTrafficProviderError, validationRegistry } from './registry.js';
import type { TrafficValidator } from './traffic-validator.js';

const canary = (c: NonNullable<RolloutSpec['strategy']['canary']>): RolloutSpec => ({ strategy: { canary: c } });
const header = { setHeaderRoute: { name: 'h', match: [{ headerName: 'x-canary', headerValue: { exact: '1' } }] } };
const mirror = { setMirrorRoute: { name: 'm', percentage: 10, match: [{ path: { prefix: '/' } }] } };
const registry = validationRegistry();

describe('selection', () => {
  it.each([
    ['single host, no trafficRouting', canary({ steps: [{ setWeight: 10 }] }), 'single-host', ['builtin']],
    ['single host, blue-green', { strategy: { blueGreen: {} } }, 'single-host', ['builtin']],
    ['kubernetes, no trafficRouting: Service selectors', canary({ steps: [{ setWeight: 10 }] }), 'kubernetes', ['service-selector']],
    ['kubernetes, blue-green: Service selectors', { strategy: { blueGreen: { activeService: 'a' } } }, 'kubernetes', ['service-selector']],
    ['kubernetes, nginx', canary({ trafficRouting: { nginx: { stableIngress: 'i' } } }), 'kubernetes', ['nginx']],
    ['kubernetes, nginx and istio', canary({ trafficRouting: { istio: { virtualService: { name: 'v' } }, nginx: { stableIngress: 'i' } } }), 'kubernetes', ['nginx', 'istio']],
    ['kubernetes, Gateway API by Argo\'s plugin block', canary({ trafficRouting: { plugins: { 'argoproj-labs/gatewayAPI': { httpRoute: 'r' } } } }), 'kubernetes', ['plugins']],
    ['kubernetes, Gateway API by graylane\'s gatewayAPI: the same provider', canary({ trafficRouting: { gatewayAPI: { httpRoute: 'r' } } }), 'kubernetes', ['plugins']],
    ['kubernetes, managedRoutes only', canary({ trafficRouting: { managedRoutes: [{ name: 'h' }] } }), 'kubernetes', []],
  ] as const)('%s → %j', (_name, spec, place, types) => {
    expect(registry.select(spec as RolloutSpec, place)).toEqual(types);
  });
});

describe('validation', () => {
  it.each([
    ['an App naming nginx', canary({ trafficRouting: { nginx: { stableIngress: 'i' } } }), 'single-host', [{ path: ['strategy', 'canary', 'trafficRouting', 'nginx'], reason: 'not used in an App: its services are routed by the built-in router' }]],
    ['an App naming gatewayAPI', canary({ trafficRouting: { gatewayAPI: { httpRoute: 'r' } } }), 'single-host', [{ path: ['strategy', 'canary', 'trafficRouting', 'gatewayAPI'], reason: 'not used in an App: its services are routed by the built-in router' }]],
    ['an App with header, mirror and preview', canary({ steps: [header, mirror] }), 'single-host', []],
    ['a Rollout with a header step and no trafficRouting', canary({ steps: [header] }), 'kubernetes', [{ path: ['strategy', 'canary', 'steps', 0, 'setHeaderRoute'], reason: 'setHeaderRoute needs trafficRouting' }]],
    ['a blue-green Rollout asking for a preview header', { strategy: { blueGreen: { activeService: 'a', previewService: 'p', allowPreviewHeader: true } } }, 'kubernetes', [{ path: ['strategy', 'blueGreen', 'allowPreviewHeader'], reason: 'allowPreviewHeader needs a traffic provider that can route by header or cookie; a Service selector cannot (reach the preview through previewService)' }]],
    ['a blue-green Rollout with a previewService', { strategy: { blueGreen: { activeService: 'a', previewService: 'p' } } }, 'kubernetes', []],
    ['a Rollout mirroring through nginx', canary({ canaryService: 'c', stableService: 's', trafficRouting: { nginx: { stableIngress: 'i' }, managedRoutes: [{ name: 'm' }] }, steps: [mirror] }), 'kubernetes', [{ path: ['strategy', 'canary', 'steps', 0, 'setMirrorRoute'], reason: 'setMirrorRoute needs a traffic provider that can mirror traffic; trafficRouting.nginx cannot' }]],
    ['a Rollout mirroring through istio', canary({ trafficRouting: { istio: { virtualService: { name: 'v' }, destinationRule: { name: 'd', canarySubsetName: 'c', stableSubsetName: 's' } }, managedRoutes: [{ name: 'm' }] }, steps: [mirror] }), 'kubernetes', []],
    ['nginx and istio without Services: one issue per field, nginx first', canary({ trafficRouting: { nginx: { stableIngress: 'i' }, istio: { virtualService: { name: 'v' } } } }), 'kubernetes', [
      { path: ['strategy', 'canary', 'canaryService'], reason: 'required with trafficRouting.nginx' },
      { path: ['strategy', 'canary', 'stableService'], reason: 'required with trafficRouting.nginx' },
    ]],
    ['istio with both virtualService and virtualServices', canary({ canaryService: 'c', stableService: 's', trafficRouting: { istio: { virtualService: { name: 'v' }, virtualServices: [{ name: 'w' }] } } }), 'kubernetes', [{ path: ['strategy', 'canary', 'trafficRouting', 'istio', 'virtualServices'], reason: 'use either virtualService or virtualServices, not both' }]],
    ['nginx with both stableIngress and stableIngresses', canary({ canaryService: 'c', stableService: 's', trafficRouting: { nginx: { stableIngress: 'i', stableIngresses: ['j'] } } }), 'kubernetes', [{ path: ['strategy', 'canary', 'trafficRouting', 'nginx', 'stableIngresses'], reason: 'use either stableIngress or stableIngresses, not both' }]],
  ] as const)('%s', (_name, spec, place, issues) => {
    expect(registry.validate(spec, place)).toEqual(issues);
  });

  it('a provider without preview refuses a blue-green spec with allowPreviewHeader; the built-in router takes it', () => {
    const noPreview: TrafficValidator = { type: 'builtin', capabilities: new Set(['weight']), validate: (spec) => capabilityIssues('limited', new Set(['weight']), spec) };
    const spec: RolloutSpec = { strategy: { blueGreen: { allowPreviewHeader: true } } };
    expect(new TrafficRegistry({ validators: [noPreview] }).validate(spec, 'single-host')).toEqual([
      { path: ['strategy', 'blueGreen', 'allowPreviewHeader'], reason: 'allowPreviewHeader needs a traffic provider that can reach a blue-green preview by header or cookie; limited cannot' },
    ]);
    expect(registry.validate(spec, 'single-host')).toEqual([]);
  });
});

describe('lookup', () => {
  it('an unknown type and a validate-only type are typed errors', () => {
    expect(() => registry.get('linkerd')).toThrow(UnknownTrafficProviderError);
    expect(() => registry.get('linkerd')).toThrow('no traffic provider "linkerd"; known: builtin, nginx, istio, plugins, service-selector');
    const err = (() => { try { registry.get('nginx'); } catch (e) { return e as UnknownTrafficProviderError; } })();
    expect(err).toMatchObject({ code: 'UnknownTrafficProvider', type: 'nginx', message: 'traffic provider "nginx" only validates documents here: it cannot route traffic on this platform yet' });
    expect(() => registry.providersFor(canary({ trafficRouting: { istio: {} } }), 'kubernetes')).toThrow(UnknownTrafficProviderError);
  });

  it('a type registered twice is refused', () => {
    const x: TrafficValidator = { type: 'x', capabilities: new Set(), validate: () => [] };
    expect(() => new TrafficRegistry({ validators: [x, x] })).toThrow('traffic provider "x" is registered twice');
  });
});

describe('load checks', () => {
  const dir = fileURLToPath(new URL('../../test/fixtures/documents/valid/', import.meta.url));
  it.each(readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort())('valid fixture %s stays valid with the traffic checks', (file) => {
    const result = loadDocuments({ text: readFileSync(`${dir}${file}`, 'utf8'), file }, trafficLoadChecks());
    expect(result.errors.map(formatSpecError)).toEqual([]);
  });

  it('reports a provider issue at the file, line and field of the App service it is about', () => {
    const text = [
      'apiVersion: graylane.dev/v1alpha1', 'kind: App', 'metadata: {name: shop}', 'spec:', '  services:',
      '  - name: web', '    process: {command: [node, web.js]}',
      '  - name: api', '    pathPrefix: /api', '    process: {command: [node, api.js]}', '    strategy:', '      canary:', '        trafficRouting:', '          istio: {virtualService: {name: api}}',
      '  releases:', '  - name: r', '    services: [web]', '    strategy:', '      canary:', '        trafficRouting:', '          plugins: {x: {}}',
    ].join('\n');
    const result = loadDocuments({ text, file: 'app.yaml' }, trafficLoadChecks());
    expect(result.errors.map(formatSpecError)).toEqual([
      'app.yaml:14:11: spec.services[1].strategy.canary.trafficRouting.istio: not used in an App: its services are routed by the built-in router',
      'app.yaml:21:11: spec.releases[0].strategy.canary.trafficRouting.plugins: not used in an App: its services are routed by the built-in router',
    ]);
  });
});
