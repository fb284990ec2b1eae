/**
 * Routing on a single host: every service's committed traffic decision, with what only this host
 * adds to it (a release's pinned revisions through its skew window, a guard abort that could not
 * be committed yet), put in force through the built-in traffic provider with the instances
 * running now. The reconciler reaches it through {@link LocalRouting.provider}, so one place
 * decides what the router's table holds.
 */
import type { TrafficInForce } from '../../engine/index.js';
import type { AppService, RolloutSpec } from '../../documents/schema.js';
import type { RouterControl } from '../../router/control/router-control.js';
import type { ReleaseRoute } from '../../router/contract/index.js';
import type { InstanceInfo, Runtime } from '../../runtime/runtime.js';
import type { Store } from '../../state/store.js';
import { DEFAULT_NAMESPACE } from '../../state/state-port.js';
import type { BuiltinTrafficProvider } from '../../traffic/builtin/builtin-provider.js';
import { toTrafficEndpoints } from '../../traffic/endpoints.js';
import type { TrafficDecision, TrafficProvider, Verification } from '../../traffic/traffic-provider.js';

/** Options of {@link LocalRouting}. */
export interface LocalRoutingOptions {
  /** Committed services, statuses and traffic. */
  store: Store;
  /** The router's control (for drains). */
  control: RouterControl;
  /** The built-in traffic provider over that control. */
  provider: BuiltinTrafficProvider;
  /** The runtime that runs a service (process or static targets). */
  runtimeOf: (spec: AppService) => Runtime<unknown>;
  /** A service's rollout spec as the engine sees it (release members get the release's). */
  rolloutSpec: (spec: AppService) => RolloutSpec;
  /** During a release's skew window: the revisions a member's clients are pinned to. */
  pinnedRevisions: (service: string) => { stable: string; canary: string } | undefined;
  /** The releases' pinning routes. */
  releaseRoutes: () => ReleaseRoute[];
  /** The services whose routes change with this one's in one table: its release's members, or itself. */
  routedWith: (service: string) => string[];
  /** A guard abort that could not be committed: the canary gets nothing meanwhile. */
  forcesStable: (service: string) => boolean;
  /** A table the router refused: said as an event (the previous table stays in force). */
  routingFailed: (service: string, message: string) => void;
  /** Longest a stopping instance is given to finish its requests; default 30 s. */
  drainTimeoutMs?: number | undefined;
  /** A service's committed traffic has just been put in force (the data plane acknowledged it). */
  routeLanded?: ((service: string) => void) | undefined;
}

/** What of a decision the data plane acknowledged: enough to tell whether it still serves the committed route. */
export interface LandedRoute {
  /** Traffic and endpoints, to tell a new acknowledgement from a repeat. */
  key: string;
  /** The traffic alone. */
  traffic: string;
  /** The endpoints it routed to as ready. */
  readyIds: ReadonlySet<string>;
}

function landedRoute(decision: Pick<TrafficDecision, 'traffic' | 'endpoints'>): LandedRoute {
  const traffic = JSON.stringify(decision.traffic);
  return {
    key: `${traffic} ${JSON.stringify(decision.endpoints)}`,
    traffic,
    readyIds: new Set(decision.endpoints.filter((e) => e.ready && !e.draining).map((e) => e.id)),
  };
}

/**
 * Whether a route the data plane acknowledged serves `now`: the same traffic, and every revision
 * that has a ready endpoint now reached through one that was ready in it and still is. An old
 * revision's instances draining or gone, or one more instance of a revision already served, leave
 * it serving: a view that said Healthy must not flip to Progressing while an old revision winds
 * down after the rollout.
 */
export function routeServes(landed: LandedRoute | undefined, now: Pick<TrafficDecision, 'traffic' | 'endpoints'>): boolean {
  if (landed === undefined || landed.traffic !== JSON.stringify(now.traffic)) return false;
  const unserved = new Set(now.endpoints.filter((e) => e.ready && !e.draining).map((e) => e.revision));
  for (const e of now.endpoints) if (e.ready && !e.draining && landed.readyIds.has(e.id)) unserved.delete(e.revision);
  return unserved.size === 0;
}

/** See the file's comment. */
export class LocalRouting {
  private lastWrite: Promise<void> = Promise.resolve();
  /** Per service, the last route the data plane acknowledged. */
  private readonly landed = new Map<string, LandedRoute>();

  constructor(private readonly options: LocalRoutingOptions) {}

  /**
   * Puts the services' routes and the releases' pinning in force now, as one table, with the other
   * members of their releases: a table that moved one member without the others would send a page
   * of one version to the API of the other until the next table. The in-process router swaps its
   * table within this call's microtasks, so traffic moves before any I/O happens.
   */
  refresh(...names: string[]): void {
    const { store, provider } = this.options;
    const together = new Set(names.flatMap((name) => [name, ...this.options.routedWith(name)]));
    const decisions: TrafficDecision[] = [];
    const removed: string[] = [];
    const sent = new Map<string, LandedRoute | undefined>();
    for (const name of together) {
      const svc = store.getService(name);
      const decision = svc && this.decision(name, svc.spec as AppService);
      if (decision) decisions.push(decision);
      else if (!svc) removed.push(name);
      sent.set(name, decision && landedRoute(decision));
    }
    this.lastWrite = provider.applyTogether({ decisions, removed, releases: this.options.releaseRoutes() }).then(
      () => {
        for (const [name, key] of sent) this.land(name, key);
      },
      (err: unknown) => {
        for (const name of names) this.options.routingFailed(name, err instanceof Error ? err.message : String(err));
      },
    );
  }

  /**
   * Whether the route the data plane last acknowledged serves the service's route now (its
   * committed traffic with this host's overrides, over the instances running now; see
   * {@link routeServes}). The status is committed before it is acted on, and a router in processes
   * of its own takes IPC round trips to put a table in force: until then a view must not say
   * Healthy, or a client that waited for it gets the old route (or a 404).
   */
  inForce(name: string): boolean {
    const svc = this.options.store.getService(name);
    const traffic = svc && this.traffic(name);
    if (!traffic) return true;
    const endpoints = toTrafficEndpoints(this.options.runtimeOf(svc.spec as AppService).listInstances({ service: name }));
    return routeServes(this.landed.get(name), { traffic, endpoints });
  }

  private land(name: string, sent: LandedRoute | undefined): void {
    if (sent === undefined) {
      this.landed.delete(name);
      return;
    }
    if (this.landed.get(name)?.key === sent.key) return;
    this.landed.set(name, sent);
    this.options.routeLanded?.(name);
  }

  /** Resolves once the last route write has landed or failed (and its failure was said). */
  settled(): Promise<void> {
    return this.lastWrite;
  }

  /** beforeStop of every graceful stop: out of the route table, then wait for the router to drain it. */
  async unroute(info: InstanceInfo): Promise<void> {
    this.refresh(info.service);
    await this.lastWrite;
    // The router's wall clock, as its own drain deadline is: the controller's clock may be a test's.
    // An instance that never took traffic (or is still routed) has nothing to drain ('unknown').
    await this.options.control.awaitDrained(info.id, Date.now() + (this.options.drainTimeoutMs ?? 30_000) + 1000);
  }

  /**
   * The traffic provider the reconciler acts through: whatever decision it passes, the route put
   * in force is the committed one with this host's overrides (it commits before it acts, so the
   * two agree). The in-process swap cannot lag behind, so it does not claim `verify`.
   */
  provider(): TrafficProvider {
    const builtin = this.options.provider;
    const capabilities = new Set([...builtin.capabilities].filter((c) => c !== 'verify'));
    return {
      type: builtin.type,
      capabilities,
      validate: (spec) => builtin.validate(spec),
      apply: (decision: TrafficDecision) => {
        this.refresh(decision.service);
        return this.lastWrite;
      },
      verify: (): Promise<Verification> => Promise.resolve('unsupported'),
      removeManagedRoutes: (key) => builtin.removeManagedRoutes(key),
    };
  }

  /** The committed decision with this host's overrides, and the instances running now. */
  private decision(name: string, spec: AppService): TrafficDecision | undefined {
    const traffic = this.traffic(name);
    if (!traffic) return undefined;
    return {
      namespace: DEFAULT_NAMESPACE,
      service: name,
      spec: spec.targets ? undefined : this.options.rolloutSpec(spec),
      host: spec.host,
      pathPrefix: spec.pathPrefix,
      traffic,
      endpoints: toTrafficEndpoints(this.options.runtimeOf(spec).listInstances({ service: name })),
    };
  }

  /** The committed traffic with this host's overrides. */
  private traffic(name: string): TrafficInForce | undefined {
    const { store } = this.options;
    const status = store.getStatus(name);
    const stored = store.getTraffic(name);
    const traffic: TrafficInForce | undefined = stored
      ? { ...stored }
      : status?.stableRevision ? { stableRevision: status.stableRevision, canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] } : undefined;
    if (!traffic) return undefined;
    // An abort the guard decided but could not commit still takes the canary's traffic away.
    if (this.options.forcesStable(name)) Object.assign(traffic, { canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] });
    const pinned = this.options.pinnedRevisions(name);
    // During a release's skew window the old revision stays routable for clients pinned to it.
    return pinned ? { ...traffic, stableRevision: pinned.stable, canaryRevision: pinned.canary, canaryWeight: 100 } : traffic;
  }
}
