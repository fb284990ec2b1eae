/**
 * A blue-green preview reached on a single host: the route built for the router sends a tester's
 * requests (header or cookie) to the preview while users stay on the active revision.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { send, startRouter, startUpstream, type Upstream } from '../../../test/fixtures/router/support.js';
import type { AppService, RolloutSpec } from '../../documents/schema.js';
import { buildServiceRoute, type TrafficInForce } from './routes.js';
import { toTrafficEndpoints, type RoutableInstance } from '../endpoints.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const service: AppService = { name: 'shop', pathPrefix: '/' };
const spec = (allowPreviewHeader: boolean | undefined): RolloutSpec => ({ replicas: 1, strategy: { blueGreen: { ...(allowPreviewHeader === undefined ? {} : { allowPreviewHeader }) } } });
const beforeSwitch: TrafficInForce = { stableRevision: 'v1', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [], previewRevision: 'v2' };

async function upstream(name: string): Promise<Upstream> {
  const u = await startUpstream(name);
  cleanups.push(() => u.close());
  return u;
}

function info(u: Upstream, revision: string): RoutableInstance {
  return { id: `shop-${revision}-1`, revision, address: u.address, state: 'ready' };
}

async function routerFor(options: { spec: RolloutSpec; traffic: TrafficInForce; instances: RoutableInstance[] }): Promise<string> {
  const route = buildServiceRoute({ service, spec: options.spec, traffic: options.traffic, endpoints: toTrafficEndpoints(options.instances) });
  const r = await startRouter({ routes: { services: [route] } });
  cleanups.push(r.close);
  return r.url;
}

describe('blue-green preview behind the built-in router (allowPreviewHeader)', () => {
  it('the header x-graylane-preview: 1 or the cookie graylane-preview=<service> reaches the preview; everyone else stays on the active revision', async () => {
    const v1 = await upstream('v1');
    const v2 = await upstream('v2');
    const url = await routerFor({ spec: spec(true), traffic: beforeSwitch, instances: [info(v1, 'v1'), info(v2, 'v2')] });
    for (let i = 0; i < 10; i++) expect((await send(`${url}/`)).body).toBe('v1');
    expect((await send(`${url}/cart`, { headers: { 'x-graylane-preview': '1' } })).body).toBe('v2');
    expect((await send(`${url}/`, { headers: { cookie: 'theme=dark; graylane-preview=shop' } })).body).toBe('v2');
    // Another service's preview cookie, or a header turned off, is a user like any other.
    expect((await send(`${url}/`, { headers: { cookie: 'graylane-preview=api' } })).body).toBe('v1');
    expect((await send(`${url}/`, { headers: { 'x-graylane-preview': '0' } })).body).toBe('v1');
    expect(v2.hits).toBe(2);
  });

  it('is off by default: the header reaches the active revision', async () => {
    const v1 = await upstream('v1');
    const v2 = await upstream('v2');
    const url = await routerFor({ spec: spec(undefined), traffic: beforeSwitch, instances: [info(v1, 'v1'), info(v2, 'v2')] });
    expect((await send(`${url}/`, { headers: { 'x-graylane-preview': '1' } })).body).toBe('v1');
    expect(v2.hits).toBe(0);
  });

  it('after the switch the preview is the active revision: no preview route is left', () => {
    const route = buildServiceRoute({
      service, spec: spec(true), traffic: { ...beforeSwitch, stableRevision: 'v2' },
      endpoints: toTrafficEndpoints([{ id: 'shop-v2-1', revision: 'v2', address: '127.0.0.1:1', state: 'ready' }]),
    });
    expect(route.matches).toBeUndefined();
    expect(Object.keys(route.revisions)).toEqual(['v2']);
  });
});

describe('maxTrafficWeight behind the built-in router', () => {
  it.each<[number | undefined, number, number]>([
    [undefined, 20, 20],
    [1000, 200, 20],
    [1000, 555, 56],
    [10000, 5, 0],
  ])('scale %s, engine weight %i → router canaryWeight %i percent', (maxTrafficWeight, weight, percent) => {
    const routed: RolloutSpec = { replicas: 2, strategy: { canary: { trafficRouting: maxTrafficWeight === undefined ? {} : { maxTrafficWeight }, steps: [{ setWeight: weight }] } } };
    const traffic: TrafficInForce = { stableRevision: 'v1', canaryRevision: 'v2', canaryWeight: weight, headerRoutes: [], mirrorRoutes: [] };
    expect(buildServiceRoute({ service, spec: routed, traffic, endpoints: [] }).canaryWeight).toBe(percent);
  });
});

describe('instances a release may use as a last resort', () => {
  it.each<[RoutableInstance['state'], boolean | undefined, { ready: boolean; draining: boolean; lastResort?: boolean }]>([
    ['ready', true, { ready: true, draining: false }],
    ['unready', true, { ready: false, draining: false, lastResort: true }],
    ['unready', undefined, { ready: false, draining: false }],
    ['starting', undefined, { ready: false, draining: false }],
    ['failed', undefined, { ready: false, draining: false }],
    ['stopping', true, { ready: false, draining: true }],
  ])('an instance %s (ready before: %s) is routed as %o', (state, readyBefore, expected) => {
    const route = buildServiceRoute({
      service, spec: { replicas: 1, strategy: { canary: { steps: [] } } }, traffic: { stableRevision: 'v1', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] },
      endpoints: toTrafficEndpoints([{ id: 'shop-v1-1', revision: 'v1', address: '127.0.0.1:1', state, ...(readyBefore !== undefined && { readyBefore }) }]),
    });
    expect(route.revisions.v1!.instances).toEqual([{ id: 'shop-v1-1', address: '127.0.0.1:1', ...expected }]);
  });
});
