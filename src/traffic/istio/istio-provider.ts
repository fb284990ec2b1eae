/**
 * The Istio traffic provider (`trafficRouting.istio`): splits a canary's traffic by writing the
 * weights of the VirtualService routes a rollout names, host-level (destinations are the stable
 * and canary Services) or subset-level (a DestinationRule's stable and canary subsets, whose
 * labels it points at each revision's pod-template hash), and writes header and mirror routes as
 * named routes placed first. What the routes must say is computed by `desiredRoutes` and
 * `desiredSubsets` (pure); this file reads and writes.
 *
 * It never creates a VirtualService or a DestinationRule: they are the user's, and everything in
 * them it does not manage is kept. Each write is a merge patch of whole lists computed from one
 * version of the object and carrying that version's resourceVersion, so an edit made meanwhile
 * (a 409) is read again and decided afresh, never overwritten. Whether to write is decided by
 * comparing with the cached object, never from memory: an edit that moved the weights is undone
 * by the next `apply` of the same decision.
 *
 * The names of the routes it wrote are recorded on each VirtualService (see
 * {@link ISTIO_MANAGED_ROUTES_ANNOTATION}), so that `removeManagedRoutes`, which is given no spec,
 * finds them again after a controller restart.
 */
import { ApiException, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { RolloutSpec } from '../../documents/schema.js';
import { FIELD_MANAGER } from '../../kube/names.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import { missingCapability } from '../capability-checks.js';
import { TrafficCapabilityError, type TrafficDecision, type TrafficProvider, type Verification } from '../traffic-provider.js';
import { desiredSubsets, type DestinationRuleRef } from './destination-rule-subsets.js';
import { ISTIO_CAPABILITIES, validateIstio } from './istio-config.js';
import { IstioRoutingError } from './istio-routing-error.js';
import { PIN_ROUTE_PREFIX, withoutPinCookies } from './release-pinning.js';
import { canonicalJson, desiredRoutes, routesDiffer, type Json, type RoutesOutput, type SplitTarget, type VirtualServiceRef } from './virtual-service-routes.js';

/**
 * On a VirtualService: JSON `{ "<rollout>": ["<route>", …] }`, the routes graylane wrote into it
 * for each rollout (several rollouts may share one VirtualService).
 */
export const ISTIO_MANAGED_ROUTES_ANNOTATION = 'graylane.dev/managed-routes';

/** The API group and the version graylane writes Istio objects in. */
export const ISTIO_GROUP = 'networking.istio.io';
/** `v1`: served by every Istio since 1.22; objects stored in v1beta1 or v1alpha3 are the same objects. */
export const ISTIO_VERSION = 'v1';

/** An Istio object as cached: metadata and a loose spec. */
export interface IstioObject extends KubernetesObject {
  /** The object's spec. */
  spec?: Json | undefined;
}

/** Options of {@link IstioTrafficProvider}. */
export interface IstioProviderOptions {
  /** Where writes go. */
  kubeConfig: KubeConfig;
  /** The cluster's VirtualServices (`networking.istio.io/v1`), as an informer keeps them. */
  virtualServices: ObjectCache<IstioObject>;
  /** The cluster's DestinationRules (`networking.istio.io/v1`). */
  destinationRules: ObjectCache<IstioObject>;
  /** Times a write is decided afresh after a 409 before the error is thrown (default 5). */
  maxConflictRetries?: number | undefined;
}

/** What a decision means for the cluster's Istio objects, before it is compared with them. */
interface Intent {
  refs: VirtualServiceRef[];
  target: SplitTarget;
  destinationRule?: DestinationRuleRef | undefined;
  canaryWeight: number;
  maxWeight: number;
  managedRoutes: string[];
  hashes: { stable: string; canary: string };
}

/** One write to make: the merge patch of one object, or nothing. */
type Body = Json | undefined;

const isConflict = (err: unknown): boolean => err instanceof ApiException && err.code === 409;
const isNotFound = (err: unknown): boolean => err instanceof ApiException && err.code === 404;

/** The routes recorded on `vs` for each rollout. */
function recorded(vs: IstioObject | undefined): Record<string, string[]> {
  const raw = vs?.metadata?.annotations?.[ISTIO_MANAGED_ROUTES_ANNOTATION];
  if (raw === undefined) return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, string[]>) : {};
  } catch {
    // Someone wrote something else there: nothing graylane can trust is recorded.
    return {};
  }
}

/** The annotation value recording `names` for `rollout` beside the others' (null: remove it). */
function record(vs: IstioObject, rollout: string, names: string[]): string | null {
  const all = { ...recorded(vs) };
  if (names.length > 0) all[rollout] = [...names].sort();
  else delete all[rollout];
  return Object.keys(all).length === 0 ? null : JSON.stringify(all);
}

/** See the file comment. */
export class IstioTrafficProvider implements TrafficProvider {
  /** `istio`. */
  readonly type = 'istio';
  /** Weights, header and cookie routes, mirroring, and verification. */
  readonly capabilities = ISTIO_CAPABILITIES;
  private readonly api: CustomObjectsApi;
  private readonly maxConflictRetries: number;
  /** VirtualServices written per `namespace/rollout` since start, for removal before the cache shows the writes. */
  private readonly written = new Map<string, Set<string>>();

  /** A provider reading through `options`' caches and writing through its kubeConfig. */
  constructor(private readonly options: IstioProviderOptions) {
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.maxConflictRetries = options.maxConflictRetries ?? 5;
  }

  /** See {@link validateIstio}. */
  validate(spec: RolloutSpec): ReturnType<TrafficProvider['validate']> {
    return validateIstio(spec);
  }

  /**
   * Points the DestinationRule's subsets at the revisions (subset-level), then writes every
   * VirtualService the spec names. Everything is decided on the cached objects before anything
   * is written: a missing object, route, destination or subset is an {@link IstioRoutingError}
   * and nothing is written.
   */
  async apply(decision: TrafficDecision): Promise<void> {
    const missing = missingCapability(this.capabilities, decision.traffic, decision.spec?.strategy.blueGreen?.allowPreviewHeader === true);
    if (missing) throw new TrafficCapabilityError(this.type, missing, `Istio cannot carry out this decision: it needs ${missing} routing`);
    const intent = this.intent(decision);
    const { namespace, service: rollout } = decision;
    // Decide everything first, so that a refusal leaves the cluster as it was.
    if (intent.destinationRule) this.planSubsets(this.options.destinationRules.get(namespace, intent.destinationRule.name), intent, intent.destinationRule);
    for (const ref of intent.refs) this.planRoutes(this.options.virtualServices.get(namespace, ref.name), ref, intent, decision);
    const dr = intent.destinationRule;
    // Subsets first: a weight must never reach a subset that does not select its revision yet.
    if (dr) await this.write('destinationrules', namespace, dr.name, this.options.destinationRules.get(namespace, dr.name), (obj) => this.planSubsets(obj, intent, dr));
    for (const ref of intent.refs) {
      await this.write('virtualservices', namespace, ref.name, this.options.virtualServices.get(namespace, ref.name), (obj) => this.planRoutes(obj, ref, intent, decision));
      const key = `${namespace}/${rollout}`;
      this.written.set(key, new Set([...(this.written.get(key) ?? []), ref.name]));
    }
  }

  /** `verified` when the cached objects need no write for the decision (weights, routes and subset labels in place); else `pending`. */
  verify(decision: TrafficDecision): Promise<Verification> {
    try {
      const intent = this.intent(decision);
      const ns = decision.namespace;
      const dr = intent.destinationRule;
      const pending = (dr !== undefined && this.planSubsets(this.options.destinationRules.get(ns, dr.name), intent, dr) !== undefined)
        || intent.refs.some((ref) => this.planRoutes(this.options.virtualServices.get(ns, ref.name), ref, intent, decision) !== undefined);
      return Promise.resolve(pending ? 'pending' : 'verified');
    } catch (err) {
      if (err instanceof IstioRoutingError) return Promise.resolve('pending');
      throw err;
    }
  }

  /** Removes every route graylane wrote for the rollout (pin routes and pin cookies too) from every VirtualService recording one; weights stay as they are. Idempotent. */
  async removeManagedRoutes(key: { namespace: string; service: string }): Promise<void> {
    const names = new Set(this.written.get(`${key.namespace}/${key.service}`) ?? []);
    for (const vs of this.options.virtualServices.list({ namespace: key.namespace })) {
      if (recorded(vs)[key.service] !== undefined && vs.metadata?.name) names.add(vs.metadata.name);
    }
    for (const name of [...names].sort()) {
      // The cache may not show our last write yet: decide on what the server has.
      const current = await this.read('virtualservices', key.namespace, name);
      await this.write('virtualservices', key.namespace, name, current, (vs) => {
        const routes = recorded(vs)[key.service];
        if (!vs || routes === undefined) return undefined;
        const http = Array.isArray(vs.spec?.http) ? (vs.spec.http as Json[]) : [];
        return {
          metadata: { annotations: { [ISTIO_MANAGED_ROUTES_ANNOTATION]: record(vs, key.service, []) } },
          spec: { http: http.filter((r) => typeof r.name !== 'string' || !routes.includes(r.name)).map(withoutPinCookies) },
        };
      });
    }
    this.written.delete(`${key.namespace}/${key.service}`);
  }

  // ---------------------------------------------------------------------------------------------

  /** What the decision asks of Istio objects; throws when the spec names no Istio routing. */
  private intent(decision: TrafficDecision): Intent {
    const canary = decision.spec?.strategy.canary;
    const routing = canary?.trafficRouting;
    const istio = routing?.istio;
    const refs = istio ? (istio.virtualServices ?? (istio.virtualService ? [istio.virtualService] : [])) : [];
    if (!canary || !routing || !istio || refs.length === 0) {
      throw new IstioRoutingError('config-missing', 'Rollout', `Rollout "${decision.service}" names no VirtualService in strategy.canary.trafficRouting.istio`);
    }
    const dr = istio.destinationRule;
    let target: SplitTarget;
    if (dr) target = { kind: 'subset', stableSubset: dr.stableSubsetName, canarySubset: dr.canarySubsetName };
    else if (canary.stableService !== undefined && canary.canaryService !== undefined) target = { kind: 'host', namespace: decision.namespace, stableService: canary.stableService, canaryService: canary.canaryService };
    else throw new IstioRoutingError('config-missing', 'Rollout', `Rollout "${decision.service}" splits by host without strategy.canary.stableService and canaryService, and names no destinationRule`);
    const maxWeight = routing.maxTrafficWeight ?? 100;
    const { traffic } = decision;
    // The engine decides on the rollout's scale already, as Istio is given it.
    const canaryWeight = traffic.canaryRevision === undefined ? 0 : Math.min(maxWeight, traffic.canaryWeight);
    return {
      refs, target, destinationRule: dr, canaryWeight, maxWeight,
      managedRoutes: (routing.managedRoutes ?? []).map((r) => r.name),
      hashes: { stable: traffic.stableRevision, canary: traffic.canaryRevision ?? traffic.stableRevision },
    };
  }

  /** The merge patch putting the subsets in place, or nothing when they are. */
  private planSubsets(dr: IstioObject | undefined, intent: Intent, ref: DestinationRuleRef): Body {
    if (!dr) throw new IstioRoutingError('destination-rule-not-found', `DestinationRule/${ref.name}`, `DestinationRule "${ref.name}" (trafficRouting.istio.destinationRule) does not exist`);
    const subsets = desiredSubsets(dr.spec ?? {}, ref, intent.hashes);
    return canonicalJson(subsets) === canonicalJson(dr.spec?.subsets ?? []) ? undefined : { spec: { subsets } };
  }

  /** The merge patch putting one VirtualService's routes (and its record of them) in place, or nothing when they are. */
  private planRoutes(vs: IstioObject | undefined, ref: VirtualServiceRef, intent: Intent, decision: TrafficDecision): Body {
    if (!vs) throw new IstioRoutingError('virtual-service-not-found', `VirtualService/${ref.name}`, `VirtualService "${ref.name}" (trafficRouting.istio) does not exist in namespace "${decision.namespace}"; graylane never creates one`);
    const { headerRoutes, mirrorRoutes } = decision.traffic;
    const desired: RoutesOutput = desiredRoutes({
      spec: vs.spec ?? {}, ref, target: intent.target, canaryWeight: intent.canaryWeight, maxWeight: intent.maxWeight,
      headerRoutes, mirrorRoutes, managedRoutes: intent.managedRoutes, previouslyManaged: recorded(vs)[decision.service] ?? [],
      pin: decision.release,
    });
    const pinNames = (desired.http ?? []).flatMap((r) => (typeof r.name === 'string' && r.name.startsWith(PIN_ROUTE_PREFIX) ? [r.name] : []));
    const names = [...headerRoutes.map((r) => r.name), ...mirrorRoutes.map((r) => r.name), ...pinNames];
    const annotation = record(vs, decision.service, names);
    const annotationChanged = annotation !== (vs.metadata?.annotations?.[ISTIO_MANAGED_ROUTES_ANNOTATION] ?? null);
    if (!routesDiffer(vs.spec ?? {}, desired) && !annotationChanged) return undefined;
    return {
      ...(annotationChanged ? { metadata: { annotations: { [ISTIO_MANAGED_ROUTES_ANNOTATION]: annotation } } } : {}),
      spec: Object.fromEntries(Object.entries(desired).filter(([, v]) => v !== undefined)),
    };
  }

  /**
   * Writes the plan decided on `current` with its resourceVersion; after a 409 (or a 404:
   * deleted meanwhile) reads the object from the API server and decides again.
   */
  private async write(plural: string, namespace: string, name: string, current: IstioObject | undefined, plan: (obj: IstioObject | undefined) => Body): Promise<void> {
    let obj = current;
    for (let attempt = 0; ; attempt += 1) {
      const body = plan(obj);
      if (body === undefined) return;
      const metadata = { ...(body.metadata as Json | undefined), resourceVersion: obj?.metadata?.resourceVersion };
      try {
        await this.api.patchNamespacedCustomObject(
          { group: ISTIO_GROUP, version: ISTIO_VERSION, namespace, plural, name, body: { ...body, metadata }, fieldManager: FIELD_MANAGER },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        return;
      } catch (err) {
        if ((!isConflict(err) && !isNotFound(err)) || attempt >= this.maxConflictRetries) throw err;
        obj = await this.read(plural, namespace, name);
      }
    }
  }

  private async read(plural: string, namespace: string, name: string): Promise<IstioObject | undefined> {
    try {
      return (await this.api.getNamespacedCustomObject({ group: ISTIO_GROUP, version: ISTIO_VERSION, namespace, plural, name })) as IstioObject;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}
