/**
 * The built-in router as a traffic provider: one route per service, built from the decision and
 * the service's endpoints, plus the release pinning table, put in force as one whole table through
 * a {@link RouterControl}. What it applies is what it was handed: decisions the controller makes
 * for its own reasons (an abort it could not commit, a release's skew window) arrive already made.
 */
import type { RouterControl } from '../../router/control/router-control.js';
import type { ReleaseRoute, RouteTable, ServiceRoute } from '../../router/contract/index.js';
import type { TrafficDecision, TrafficProvider, Verification } from '../traffic-provider.js';
import { BUILTIN_CAPABILITIES, validateBuiltin } from './builtin-config.js';
import { buildServiceRoute } from './routes.js';

/** Options of {@link BuiltinTrafficProvider}. */
export interface BuiltinTrafficProviderOptions {
  /** The router's control; its table in force is where this provider starts from. */
  control: RouterControl;
}

/** What was applied for a service: the route built from the decision, and the table version that carried it. */
interface Applied {
  route: string;
  version: number;
}

/** A table waiting for the write before it: later changes replace it, and its callers share one answer. */
interface WaitingWrite {
  table: RouteTable;
  promise: Promise<{ version: number }>;
  resolve: (result: { version: number }) => void;
  reject: (err: unknown) => void;
}

/** Routes to put in force together, as one table (see {@link BuiltinTrafficProvider.applyTogether}). */
export interface RoutesTogether {
  /** Decisions whose routes replace their services' routes. */
  decisions: TrafficDecision[];
  /** Services whose routes go. */
  removed: string[];
  /** The release pinning table, whole. */
  releases: ReleaseRoute[];
}

function routeOf(decision: TrafficDecision): ServiceRoute {
  return buildServiceRoute({
    service: { name: decision.service, host: decision.host, pathPrefix: decision.pathPrefix },
    spec: decision.spec,
    traffic: decision.traffic,
    endpoints: decision.endpoints,
  });
}

/**
 * Routes by the built-in router. It serves one namespace (a single host's `default`): routes are
 * named by service.
 */
export class BuiltinTrafficProvider implements TrafficProvider {
  /** @inheritdoc */
  readonly type = 'builtin';
  /** @inheritdoc */
  readonly capabilities = BUILTIN_CAPABILITIES;
  private readonly control: RouterControl;
  /** The route of each service, by service name. */
  private readonly routes = new Map<string, ServiceRoute>();
  private releases: ReleaseRoute[] = [];
  private readonly applied = new Map<string, Applied>();
  /** Table writes in the order they were asked for: a slower write never overtakes a newer one. */
  private writes: Promise<unknown> = Promise.resolve();
  /** The table due after the write in flight, if any. */
  private waiting: WaitingWrite | undefined;

  constructor(options: BuiltinTrafficProviderOptions) {
    this.control = options.control;
    // A restarted daemon's router already routes (its table was restored): the provider takes it over.
    const { table } = options.control.currentTable();
    for (const route of table.services) this.routes.set(route.name, route);
    this.releases = [...(table.releases ?? [])];
  }

  /** @inheritdoc */
  validate = validateBuiltin;

  /** @inheritdoc */
  apply(decision: TrafficDecision): Promise<void> {
    // It has every capability a decision can need: nothing to refuse.
    return this.applyTogether({ decisions: [decision], removed: [], releases: this.releases });
  }

  /**
   * Several services' routes and the release pinning in one table write. The members of a release
   * must move together: a table that moved one member (or the pinning) without the others would be
   * in force for a round trip to the router, and a page of the new version could get an API answer
   * of the old one. On refusal nothing of it is kept.
   */
  async applyTogether(change: RoutesTogether): Promise<void> {
    const previousRoutes = new Map(this.routes);
    const previousReleases = this.releases;
    const routes = change.decisions.map((d) => [d.service, routeOf(d)] as const);
    for (const [service, route] of routes) this.routes.set(service, route);
    for (const service of change.removed) {
      this.routes.delete(service);
      this.applied.delete(service);
    }
    const releases = (this.releases = change.releases.map((r) => ({ ...r, services: [...r.services] })));
    try {
      const { version } = await this.put();
      for (const [service, route] of routes) this.applied.set(service, { route: JSON.stringify(route), version });
    } catch (err) {
      // Only what this call changed goes back: a later call's changes are its own to undo.
      for (const [service, route] of routes) {
        if (this.routes.get(service) !== route) continue;
        const previous = previousRoutes.get(service);
        if (previous) this.routes.set(service, previous);
        else this.routes.delete(service);
      }
      for (const service of change.removed) {
        const previous = previousRoutes.get(service);
        if (previous && !this.routes.has(service)) this.routes.set(service, previous);
      }
      if (this.releases === releases) this.releases = previousReleases;
      throw err;
    }
  }

  /** @inheritdoc */
  applyReleases(releases: ReleaseRoute[]): Promise<void> {
    return this.applyTogether({ decisions: [], removed: [], releases });
  }

  /**
   * 'verified' when the decision (its route: traffic, endpoints, place) is the one last applied
   * for the service and the table in force is the one that carried it or a later one; else 'pending'.
   */
  verify(decision: TrafficDecision): Promise<Verification> {
    const applied = this.applied.get(decision.service);
    if (!applied || applied.route !== JSON.stringify(routeOf(decision))) return Promise.resolve('pending');
    const { version, table } = this.control.currentTable();
    const routed = table.services.some((s) => s.name === decision.service);
    return Promise.resolve(routed && version >= applied.version ? 'verified' : 'pending');
  }

  /** @inheritdoc */
  async removeManagedRoutes(key: { namespace: string; service: string }): Promise<void> {
    this.applied.delete(key.service);
    if (!this.routes.delete(key.service)) return;
    await this.put();
  }

  /**
   * The whole table, pinning limited to releases whose members are all routed, in force after the
   * writes before it. Writes do not queue up behind a slow router: while one is in flight, later
   * tables replace the one waiting (each holds every change before it), so the router takes at
   * most one stale table and then the newest. Calls in one synchronous run share one write.
   */
  private put(): Promise<{ version: number }> {
    const services = [...this.routes.values()];
    const routed = new Set(services.map((s) => s.name));
    const table: RouteTable = { services, releases: this.releases.filter((r) => r.services.every((s) => routed.has(s))) };
    if (this.waiting) {
      this.waiting.table = table;
      return this.waiting.promise;
    }
    let settle!: Pick<WaitingWrite, 'resolve' | 'reject'>;
    const promise = new Promise<{ version: number }>((resolve, reject) => (settle = { resolve, reject }));
    const waiting: WaitingWrite = { table, promise, ...settle };
    this.waiting = waiting;
    this.writes = this.writes.then(() => {
      this.waiting = undefined;
      return this.control.applyTable(waiting.table).then(waiting.resolve, waiting.reject);
    });
    return promise;
  }
}
