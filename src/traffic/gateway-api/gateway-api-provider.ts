/**
 * The Gateway API traffic provider: carries a decision to the HTTPRoutes and GRPCRoutes named by
 * Argo's plugin block `trafficRouting.plugins."argoproj-labs/gatewayAPI"`. It never creates or
 * deletes a route: it sets the weights of the backendRefs naming the canary and stable Services,
 * and adds (and removes) graylane's own named rules for header routes and, beyond Argo's plugin,
 * mirror routes through the `RequestMirror` filter (see route-rules.ts). Every other rule and
 * field of the route stays as the user wrote it.
 *
 * Routes are read from the controller's caches and written with a merge patch of `spec.rules`
 * carrying the resourceVersion the plan was made on: a route changed meanwhile (a 409) is read
 * again and planned afresh, so a concurrent edit is never overwritten blindly. A route someone
 * edited by hand is put back on the next `apply` (verify says `pending` until then).
 */
import { ApiException, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { FIELD_MANAGER } from '../../kube/names.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import { serverRetryAfterMs } from '../../kube/retry-after.js';
import { missingCapability } from '../capability-checks.js';
import { TrafficCapabilityError, type TrafficDecision, type TrafficProvider, type Verification } from '../traffic-provider.js';
import { GATEWAY_API_CAPABILITIES, GATEWAY_API_TYPE, readGatewayApiSettings, validateGatewayApi, type GatewayApiSettings, type GatewayRouteKind, type GatewayRouteRef } from './gateway-api-config.js';
import { GatewayConfigError, GatewayRouteError, GatewayRouteThrottledError, type GatewayRouteRefusal } from './gateway-route-error.js';
import { withoutPinCookies } from './release-pinning.js';
import { isManagedRule, planRules, withoutManagedRules, type RouteRule } from './route-rules.js';
import { sameJson } from './same-json.js';

/** An HTTPRoute or GRPCRoute as the caches hold it. */
export interface GatewayRouteObject extends KubernetesObject {
  /** The route's spec; graylane reads and writes `rules` only. */
  spec?: { rules?: RouteRule[]; [field: string]: unknown };
}

/** Options of {@link GatewayApiTrafficProvider}. */
export interface GatewayApiProviderOptions {
  /** Where writes go. */
  kubeConfig: KubeConfig;
  /** The cluster's HTTPRoutes (`gateway.networking.k8s.io`), as an informer keeps them. */
  httpRoutes: ObjectCache<GatewayRouteObject>;
  /** The cluster's GRPCRoutes; needed only for Rollouts that name grpcRoute(s). */
  grpcRoutes?: ObjectCache<GatewayRouteObject> | undefined;
  /** The HTTPRoute version written (`v1` by default; `v1beta1` for clusters that serve no v1). */
  httpRouteVersion?: 'v1' | 'v1beta1' | undefined;
  /** Times a write is planned afresh after a 409 before the error is thrown (default 5). */
  maxConflictRetries?: number | undefined;
}

const GROUP = 'gateway.networking.k8s.io';
/** `spec.rules` maxItems in HTTPRoute and GRPCRoute: a longer list is refused by the API server as a whole. */
const MAX_RULES = 16;
const PLURAL: Record<GatewayRouteKind, string> = { HTTPRoute: 'httproutes', GRPCRoute: 'grpcroutes' };

const isConflict = (err: unknown): boolean => err instanceof ApiException && err.code === 409;
const isNotFound = (err: unknown): boolean => err instanceof ApiException && err.code === 404;
const label = (ref: { kind: GatewayRouteKind; namespace: string; name: string }): string => `${ref.kind} ${ref.namespace}/${ref.name}`;

/** What to do with one route, planned on one version of it. */
type Plan = { kind: 'keep' } | { kind: 'refuse'; refusal: GatewayRouteRefusal } | { kind: 'write'; rules: RouteRule[] };

/** What the provider last wrote for a Rollout: what removeManagedRoutes gives back. */
interface Written {
  routes: Map<string, GatewayRouteRef>;
  settings: GatewayApiSettings;
}

/** See the file comment. */
export class GatewayApiTrafficProvider implements TrafficProvider {
  /** `plugins`: Argo's key under `trafficRouting`. */
  readonly type = GATEWAY_API_TYPE;
  /** `weight`, `headerRoute`, `cookieRoute`, `mirror` and `verify`. */
  readonly capabilities = GATEWAY_API_CAPABILITIES;
  private readonly api: CustomObjectsApi;
  private readonly maxConflictRetries: number;
  private readonly written = new Map<string, Written>();

  /** A provider reading through `options`' caches and writing through its kubeConfig. */
  constructor(private readonly options: GatewayApiProviderOptions) {
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.maxConflictRetries = options.maxConflictRetries ?? 5;
  }

  /** See {@link validateGatewayApi}. */
  validate(spec: Parameters<TrafficProvider['validate']>[0]): ReturnType<TrafficProvider['validate']> {
    return validateGatewayApi(spec);
  }

  /**
   * Writes the decision's weights, header routes and mirror routes into every route the spec
   * names, and takes graylane's rules out of routes this Rollout no longer names. Throws
   * {@link GatewayRouteError} naming each route it had to leave as it was (after writing the others).
   */
  async apply(decision: TrafficDecision): Promise<void> {
    const previewByHeader = decision.spec?.strategy.blueGreen?.allowPreviewHeader === true;
    const missing = missingCapability(this.capabilities, decision.traffic, previewByHeader);
    if (missing) throw new TrafficCapabilityError(this.type, missing, `the Gateway API provider cannot carry out ${missing} routing`);
    const settings = this.settingsOf(decision);
    const refusals: GatewayRouteRefusal[] = [];
    const key = `${decision.namespace}/${decision.service}`;
    const before = this.written.get(key);
    const now: Written = { routes: new Map(), settings };
    this.written.set(key, now);
    for (const ref of settings.routes) {
      now.routes.set(label(ref), ref);
      const refusal = await this.write(ref, (route) => this.planFor(route, ref, decision, settings));
      if (refusal) refusals.push(refusal);
    }
    for (const ref of this.routesWithRules(decision.service, before)) {
      if (!now.routes.has(label(ref))) await this.write(ref, (route) => this.planRelease(route, ref.kind, decision.service, undefined), { fresh: true });
    }
    if (refusals.length > 0) throw new GatewayRouteError(refusals);
  }

  /** `verified` when every route the spec names carries the decision's weights and exactly its header and mirror rules; else `pending`. */
  verify(decision: TrafficDecision): Promise<Verification> {
    const settings = readGatewayApiSettings(decision.spec, decision.namespace).settings;
    if (!settings) return Promise.resolve('pending');
    const ok = settings.routes.every((ref) => {
      const route = this.cache(ref.kind)?.get(ref.namespace, ref.name);
      if (!route) return false;
      const plan = this.planFor(route, ref, decision, settings);
      return plan.kind === 'keep';
    });
    return Promise.resolve(ok ? 'verified' : 'pending');
  }

  /**
   * Gives every route back: graylane's rules for the Rollout taken out and, where the provider
   * knows the Services from its last apply, all traffic on the stable one. The routes themselves
   * are the user's and stay. Idempotent.
   */
  async removeManagedRoutes(key: { namespace: string; service: string }): Promise<void> {
    const id = `${key.namespace}/${key.service}`;
    const written = this.written.get(id);
    for (const ref of this.routesWithRules(key.service, written)) {
      await this.write(ref, (route) => this.planRelease(route, ref.kind, key.service, written?.settings), { fresh: true });
    }
    this.written.delete(id);
  }

  // ---------------------------------------------------------------------------------------------

  private settingsOf(decision: TrafficDecision): GatewayApiSettings {
    const { settings, issues } = readGatewayApiSettings(decision.spec, decision.namespace);
    if (!settings) throw new GatewayConfigError(issues.map((i) => `${i.path.join('.')}: ${i.reason}`));
    return settings;
  }

  private cache(kind: GatewayRouteKind): ObjectCache<GatewayRouteObject> | undefined {
    return kind === 'HTTPRoute' ? this.options.httpRoutes : this.options.grpcRoutes;
  }

  /** Routes this Rollout wrote (remembered) or that carry its rules (cached): where rules may have to be taken out. */
  private routesWithRules(rollout: string, written: Written | undefined): GatewayRouteRef[] {
    const out = new Map<string, GatewayRouteRef>(written?.routes ?? []);
    for (const kind of ['HTTPRoute', 'GRPCRoute'] as const) {
      for (const route of this.cache(kind)?.list() ?? []) {
        if ((route.spec?.rules ?? []).some((r) => isManagedRule(r, rollout))) {
          const ref: GatewayRouteRef = { kind, name: route.metadata?.name ?? '', namespace: route.metadata?.namespace ?? '', managedRoutes: true };
          out.set(label(ref), ref);
        }
      }
    }
    return [...out.values()].sort((a, b) => label(a).localeCompare(label(b)));
  }

  /** What `route` must become for `decision`. */
  private planFor(route: GatewayRouteObject | undefined, ref: GatewayRouteRef, decision: TrafficDecision, settings: GatewayApiSettings): Plan {
    if (!route) return { kind: 'refuse', refusal: { route: label(ref), reason: 'not-found', message: `${label(ref)} does not exist: graylane routes through the routes a Rollout names and never creates one` } };
    const current = route.spec?.rules ?? [];
    const plan = planRules(current, {
      kind: ref.kind,
      rollout: decision.service,
      canaryService: settings.canaryService,
      stableService: settings.stableService,
      canaryWeight: decision.traffic.canaryRevision === undefined ? 0 : decision.traffic.canaryWeight,
      maxWeight: decision.spec?.strategy.canary?.trafficRouting?.maxTrafficWeight,
      headerRoutes: ref.managedRoutes ? decision.traffic.headerRoutes : [],
      mirrorRoutes: ref.managedRoutes && ref.kind === 'HTTPRoute' ? decision.traffic.mirrorRoutes : [],
      pin: decision.release,
    });
    if (!plan.ok && plan.conflict !== undefined) {
      return { kind: 'refuse', refusal: { route: label(ref), reason: 'pin-conflict', message: `${label(ref)}: ${plan.conflict}` } };
    }
    if (!plan.ok) {
      const message = `${label(ref)} has no rule whose backendRefs name both Service "${settings.stableService}" (stable) and Service "${settings.canaryService}" (canary): add both to each rule to split`;
      return { kind: 'refuse', refusal: { route: label(ref), reason: 'backend-not-found', message } };
    }
    if (plan.rules.length > MAX_RULES) {
      const message = `${label(ref)} would hold ${plan.rules.length} rules with graylane's header and mirror rules (one per split rule and route), more than the ${MAX_RULES} the Gateway API allows: split fewer rules in it, or take header routes elsewhere (useHeaderRoutes)`;
      return { kind: 'refuse', refusal: { route: label(ref), reason: 'too-many-rules', message } };
    }
    return sameJson(plan.rules, current) ? { kind: 'keep' } : { kind: 'write', rules: plan.rules };
  }

  /** What `route` must become once `rollout` lets go of it: its rules out, and (when known) all traffic on stable. */
  private planRelease(route: GatewayRouteObject | undefined, kind: GatewayRouteKind, rollout: string, settings: GatewayApiSettings | undefined): Plan {
    if (!route) return { kind: 'keep' };
    const current = route.spec?.rules ?? [];
    let rules = withoutPinCookies(withoutManagedRules(current, rollout));
    if (settings) {
      const plan = planRules(rules, { kind, rollout, canaryService: settings.canaryService, stableService: settings.stableService, canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] });
      if (plan.ok) rules = plan.rules;
    }
    return sameJson(rules, current) ? { kind: 'keep' } : { kind: 'write', rules };
  }

  /**
   * Plans on the cached route (or, when the cache has none or `fresh` is asked, the server's)
   * and writes the plan with the resourceVersion it was made on; after a 409 (or a 404: deleted
   * meanwhile) reads the route from the server and plans again. Returns the refusal, if any.
   */
  private async write(ref: GatewayRouteRef, plan: (route: GatewayRouteObject | undefined) => Plan, options: { fresh?: boolean } = {}): Promise<GatewayRouteRefusal | undefined> {
    let route = options.fresh ? undefined : this.cache(ref.kind)?.get(ref.namespace, ref.name);
    // A route the cache does not show may be newer than the cache: ask the server before refusing.
    if (!route) route = await this.read(ref);
    for (let attempt = 0; ; attempt += 1) {
      const decided = plan(route);
      if (decided.kind === 'keep') return undefined;
      if (decided.kind === 'refuse') return decided.refusal;
      const body = { metadata: { resourceVersion: route?.metadata?.resourceVersion }, spec: { rules: decided.rules } };
      try {
        await this.api.patchNamespacedCustomObject(
          { group: GROUP, version: this.version(ref.kind), namespace: ref.namespace, plural: PLURAL[ref.kind], name: ref.name, body, fieldManager: FIELD_MANAGER },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        return undefined;
      } catch (err) {
        const retryAfterMs = serverRetryAfterMs(err);
        if (retryAfterMs !== undefined) throw new GatewayRouteThrottledError(label(ref), retryAfterMs, { cause: err });
        if (!isConflict(err) && !isNotFound(err)) throw err;
        if (attempt >= this.maxConflictRetries) throw err;
        route = await this.read(ref);
      }
    }
  }

  private version(kind: GatewayRouteKind): string {
    return kind === 'HTTPRoute' ? (this.options.httpRouteVersion ?? 'v1') : 'v1';
  }

  private async read(ref: GatewayRouteRef): Promise<GatewayRouteObject | undefined> {
    try {
      return await this.api.getNamespacedCustomObject({ group: GROUP, version: this.version(ref.kind), namespace: ref.namespace, plural: PLURAL[ref.kind], name: ref.name }) as GatewayRouteObject;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      const retryAfterMs = serverRetryAfterMs(err);
      if (retryAfterMs !== undefined) throw new GatewayRouteThrottledError(label(ref), retryAfterMs, { cause: err });
      throw err;
    }
  }
}
