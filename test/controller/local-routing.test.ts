/**
 * The single host's routing puts a service's route in force with the other members of its
 * release, in one table: a table that moved one member without the others would send a page of
 * one version to the API of the other until the next table came.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LocalRouting, routeServes } from '../../src/controller/local/local-routing.js';
import type { TrafficInForce } from '../../src/engine/index.js';
import { createRouter, type Router } from '../../src/router/index.js';
import { createInProcessRouterControl } from '../../src/router/control/in-process/in-process-control.js';
import type { ReleaseRoute, RouteTable } from '../../src/router/contract/index.js';
import type { InstanceInfo, Runtime } from '../../src/runtime/runtime.js';
import type { Store } from '../../src/state/store.js';
import { BuiltinTrafficProvider } from '../../src/traffic/builtin/builtin-provider.js';

const RELEASE: ReleaseRoute = { name: 'shop', services: ['web', 'api'], generation: 'g1', canaryWeight: 30, phase: 'progressing', cookie: 'graylane-release', header: 'x-graylane-release', secret: 'a-secret-of-16-chars' };

let router: Router | undefined;
afterEach(async () => {
  await router?.stop({ drainTimeoutMs: 0 });
  router = undefined;
});

/** Services, their committed traffic and instances, as the routing reads them; `tables` is every table the router was sent. */
function world() {
  const services = new Map<string, { pathPrefix: string }>([['web', { pathPrefix: '/' }], ['api', { pathPrefix: '/api' }], ['blog', { pathPrefix: '/blog' }]]);
  const traffic = new Map<string, TrafficInForce>();
  for (const name of services.keys()) traffic.set(name, { stableRevision: 'r1', canaryRevision: 'r2', canaryWeight: 30, headerRoutes: [], mirrorRoutes: [] });
  const store = {
    getService: (name: string) => (services.has(name) ? { name, spec: { name, ...services.get(name), process: { command: ['node'] } }, baseDir: '/', desiredRevision: 'r2', appliedAtMs: 0 } : undefined),
    getStatus: () => undefined,
    getTraffic: (name: string) => traffic.get(name),
  } as unknown as Store;
  const instance = (service: string, revision: string, port: number): InstanceInfo => ({ id: `${service}-${revision}-1`, service, revision, address: `127.0.0.1:${port}`, state: 'ready', restarts: 0, startedAtMs: 0 });
  const runtime = { listInstances: ({ service }: { service: string }) => [instance(service, 'r1', 9001), instance(service, 'r2', 9002)] } as unknown as Runtime<unknown>;
  return { services, traffic, store, runtime };
}

function routing(w: ReturnType<typeof world>, o: { refuse?: () => boolean } = {}) {
  router = createRouter({ listen: { host: '127.0.0.1', port: 0 } });
  const inner = createInProcessRouterControl({ router });
  const tables: RouteTable[] = [];
  const control = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'applyTable') {
        return (table: RouteTable) => {
          if (o.refuse?.()) return Promise.reject(new Error('refused by the test'));
          tables.push(table);
          return target.applyTable(table);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const failures: string[] = [];
  const routing = new LocalRouting({
    store: w.store, control, provider: new BuiltinTrafficProvider({ control }),
    runtimeOf: () => w.runtime,
    rolloutSpec: () => ({ strategy: { canary: { trafficRouting: {} } } }),
    pinnedRevisions: () => undefined,
    releaseRoutes: () => [RELEASE],
    routedWith: (service) => (service === 'web' || service === 'api' ? ['web', 'api'] : [service]),
    forcesStable: () => false,
    routingFailed: (service, message) => failures.push(`${service}: ${message}`),
  });
  return { routing, tables, failures };
}

/** Each service's canary weight in a table. */
const weights = (table: RouteTable | undefined) => Object.fromEntries((table?.services ?? []).map((s) => [s.name, s.canaryWeight]));

describe('routing on a single host', () => {
  it("a member's refresh puts every member of its release in force in the same table, with the pinning", async () => {
    const w = world();
    const { routing: r, tables } = routing(w);
    r.refresh('web');
    await r.settled();
    expect(tables).toHaveLength(1);
    expect(weights(tables[0])).toEqual({ web: 30, api: 30 });
    expect(tables[0]!.releases?.map((x) => x.name)).toEqual(['shop']);
    // api's committed weight moved: a refresh of web alone takes it along.
    w.traffic.set('web', { ...w.traffic.get('web')!, canaryWeight: 60 });
    w.traffic.set('api', { ...w.traffic.get('api')!, canaryWeight: 60 });
    r.refresh('web');
    await r.settled();
    expect(tables).toHaveLength(2);
    expect(weights(tables[1])).toEqual({ web: 60, api: 60 });
    expect(r.inForce('api')).toBe(true);
  });

  it('a service outside any release is put in force alone; a refresh of several names is one table', async () => {
    const w = world();
    const { routing: r, tables } = routing(w);
    r.refresh('blog');
    await r.settled();
    expect(Object.keys(weights(tables.at(-1)))).toEqual(['blog']);
    r.refresh('blog', 'api');
    await r.settled();
    expect(tables).toHaveLength(2);
    expect(Object.keys(weights(tables.at(-1))).sort()).toEqual(['api', 'blog', 'web']);
  });

  it('a service that is gone leaves the table in the same write', async () => {
    const w = world();
    const { routing: r, tables } = routing(w);
    r.refresh('blog', 'web');
    await r.settled();
    w.services.delete('blog');
    r.refresh('blog');
    await r.settled();
    expect(Object.keys(weights(tables.at(-1))).sort()).toEqual(['api', 'web']);
  });

  it('a refused table is said for the service refreshed, and its route is not in force', async () => {
    const w = world();
    let refuse = true;
    const { routing: r, failures } = routing(w, { refuse: () => refuse });
    r.refresh('web');
    await r.settled();
    expect(failures).toEqual(['web: refused by the test']);
    expect([r.inForce('web'), r.inForce('api')]).toEqual([false, false]);
    refuse = false;
    r.refresh('web');
    await r.settled();
    expect([r.inForce('web'), r.inForce('api')]).toEqual([true, true]);
  });
});

describe('routeServes: whether the route the router acknowledged serves the route now', () => {
  const traffic = (canaryWeight: number): TrafficInForce => ({ stableRevision: 'r1', canaryRevision: 'r2', canaryWeight, headerRoutes: [], mirrorRoutes: [] });
  /** `a1` is instance a of revision r1, ready; `a1~` draining; `a1?` starting (not ready). */
  const endpoints = (spec: string) => spec.split(' ').filter(Boolean).map((e) => {
    const [, id, rev, mark] = /^([a-z])(\d)([~?]?)$/.exec(e)!;
    return { id: `${id}${rev}`, revision: `r${rev}`, address: '127.0.0.1:1', ready: mark !== '?', draining: mark === '~' };
  });
  const landed = (weight: number, spec: string) => {
    // What LocalRouting keeps of an acknowledged route, built as it builds it.
    const eps = endpoints(spec);
    return { key: `${JSON.stringify(traffic(weight))} ${JSON.stringify(eps)}`, traffic: JSON.stringify(traffic(weight)), readyIds: new Set(eps.filter((e) => e.ready && !e.draining).map((e) => e.id)) };
  };
  // One row per case: what was acknowledged (weight, endpoints), what the route is now, whether it serves.
  const rows: Array<[string, number, string, number, string, boolean]> = [
    ['nothing changed', 20, 'a1 b2', 20, 'a1 b2', true],
    ['the committed weight moved', 20, 'a1 b2', 50, 'a1 b2', false],
    ['the old revision drains after the rollout', 100, 'a1 b2', 100, 'a1~ b2', true],
    ['the old revision is gone', 100, 'a1 b2', 100, 'b2', true],
    ['one more instance of a served revision', 20, 'a1 b2', 20, 'a1 b2 c2', true],
    ['a starting instance is not ready yet', 20, 'a1 b2', 20, 'a1 b2 c2?', true],
    ['the first ready instance of a revision', 20, 'a1 b2?', 20, 'a1 b2', false],
    ['a revision served only by an instance now gone, its replacement ready', 20, 'a1 b2', 20, 'a1 c2', false],
    ['a revision served only by an instance now draining, its replacement ready', 20, 'a1 b2', 20, 'a1 b2~ c2', false],
  ];
  it.each(rows)('%s', (_what, landedWeight, landedSpec, weight, spec, serves) => {
    expect(routeServes(landed(landedWeight, landedSpec), { traffic: traffic(weight), endpoints: endpoints(spec) })).toBe(serves);
  });
  it('nothing acknowledged serves nothing', () => {
    expect(routeServes(undefined, { traffic: traffic(0), endpoints: [] })).toBe(false);
  });
});
