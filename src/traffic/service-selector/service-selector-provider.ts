/**
 * The Service-selector traffic provider: points Kubernetes Services at one revision's pods by
 * setting `rollouts-pod-template-hash: <hash>` in their selectors, as Argo Rollouts does for a
 * Rollout without a traffic router. It reads Services and Pods from the controller's caches and
 * writes each Service with a merge patch carrying the resourceVersion it decided on, so that a
 * Service changed meanwhile (a 409) is read again and decided afresh, never overwritten blindly.
 *
 * Each Service it manages carries `graylane.dev/managed-by: <rollout>`. That annotation is also
 * how a rename is noticed: on every `apply`, Services annotated as managed by the Rollout but no
 * longer named in its spec are given back (the hash key and the annotation removed).
 *
 * A Service is never pointed at a revision with no ready pod it would select (from the pod cache,
 * or the decision's endpoints before the cache has listed): `apply` then leaves it as it is,
 * writes every other Service, and throws {@link ServiceRoutingError} naming it, which the
 * reconciler reports as the pass's RoutingFailed event; `verify` says `pending` meanwhile, so a
 * canary step waits. The engine already switches a blue-green active Service only once the new
 * revision is fully available; this check holds regardless of the engine.
 */
import { ApiException, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod, type V1Service } from '@kubernetes/client-node';
import { FIELD_MANAGER, MANAGED_BY_ANNOTATION, POD_TEMPLATE_HASH_LABEL } from '../../kube/names.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import { serverRetryAfterMs } from '../../kube/retry-after.js';
import { missingCapability } from '../capability-checks.js';
import { TrafficCapabilityError, type TrafficDecision, type TrafficEndpoint, type TrafficProvider, type Verification } from '../traffic-provider.js';
import { SERVICE_SELECTOR_CAPABILITIES, SERVICE_SELECTOR_TYPE, validateServiceSelector } from './service-selector-config.js';
import { ServiceRoutingError, ServiceWriteThrottledError, type ServiceRefusal } from './service-routing-error.js';
import { serviceTargets, namedServices, type ServiceTarget } from './service-targets.js';

/** Options of {@link ServiceSelectorTrafficProvider}. */
export interface ServiceSelectorProviderOptions {
  /** Where writes go. */
  kubeConfig: KubeConfig;
  /** The cluster's Services, as the controller's informer keeps them. */
  services: ObjectCache<V1Service>;
  /** The cluster's Pods: a revision's ready pods are read here. */
  pods: ObjectCache<V1Pod>;
  /** Times a write is decided afresh after a 409 before the error is thrown (default 5). */
  maxConflictRetries?: number | undefined;
}

/** What to do with one Service, decided on one version of it. */
type Plan =
  | { kind: 'keep' }
  | { kind: 'refuse'; refusal: ServiceRefusal }
  | { kind: 'patch'; body: { spec?: unknown; metadata: { annotations: Record<string, string | null> } } };

const isConflict = (err: unknown): boolean => err instanceof ApiException && err.code === 409;
const isNotFound = (err: unknown): boolean => err instanceof ApiException && err.code === 404;

/** Whether a pod takes requests now (Ready, and not on its way out). */
export function isPodReady(pod: V1Pod): boolean {
  if (pod.metadata?.deletionTimestamp !== undefined) return false;
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** See the file comment. */
export class ServiceSelectorTrafficProvider implements TrafficProvider {
  /** `service-selector`. */
  readonly type = SERVICE_SELECTOR_TYPE;
  /** `weight` (as a replica split), `preview` (previewService) and `verify`. */
  readonly capabilities = SERVICE_SELECTOR_CAPABILITIES;
  private readonly core: CoreV1Api;
  private readonly maxConflictRetries: number;
  /** Services written per `namespace/rollout` since start: given back even before the cache shows the write. */
  private readonly written = new Map<string, Set<string>>();

  /** A provider reading through `options`' caches and writing through its kubeConfig. */
  constructor(private readonly options: ServiceSelectorProviderOptions) {
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.maxConflictRetries = options.maxConflictRetries ?? 5;
  }

  /** See {@link validateServiceSelector}. */
  validate(spec: Parameters<TrafficProvider['validate']>[0]): ReturnType<TrafficProvider['validate']> {
    return validateServiceSelector(spec);
  }

  /**
   * Points every Service the spec names at its revision, and gives back the Services this
   * Rollout managed that the spec no longer names. Throws {@link TrafficCapabilityError} for a
   * request-level route, {@link ServiceRoutingError} when a Service had to be left as it was.
   */
  async apply(decision: TrafficDecision): Promise<void> {
    const previewByHeader = decision.spec?.strategy.blueGreen?.allowPreviewHeader === true;
    const missing = missingCapability(this.capabilities, decision.traffic, false)
      ?? (previewByHeader && decision.traffic.previewRevision !== undefined ? 'preview' : undefined);
    if (missing) throw new TrafficCapabilityError(this.type, missing, `a Service selector cannot carry out this decision: it needs ${missing} routing, and a selector only picks a revision's pods`);
    const { namespace, service: rollout } = decision;
    const refusals: ServiceRefusal[] = [];
    for (const target of serviceTargets(decision.spec, decision.traffic)) {
      const refusal = await this.write(namespace, target.service, (svc) => this.planPoint(svc, rollout, target, decision.endpoints));
      if (refusal) refusals.push(refusal);
      else this.remember(namespace, rollout, target.service);
    }
    const named = new Set(namedServices(decision.spec).map((s) => s.service));
    for (const name of this.managedBy(namespace, rollout)) {
      if (!named.has(name)) await this.release(namespace, rollout, name);
    }
    if (refusals.length > 0) throw new ServiceRoutingError(refusals);
  }

  /** `verified` when every Service the spec names carries this Rollout's annotation and the hash the decision names; else `pending`. */
  verify(decision: TrafficDecision): Promise<Verification> {
    const ok = serviceTargets(decision.spec, decision.traffic).every((t) => {
      const svc = this.options.services.get(decision.namespace, t.service);
      return svc?.metadata?.annotations?.[MANAGED_BY_ANNOTATION] === decision.service && svc.spec?.selector?.[POD_TEMPLATE_HASH_LABEL] === t.revision;
    });
    return Promise.resolve(ok ? 'verified' : 'pending');
  }

  /** Gives back every Service managed by the Rollout (the hash key and the annotation removed); idempotent. */
  async removeManagedRoutes(key: { namespace: string; service: string }): Promise<void> {
    for (const name of this.managedBy(key.namespace, key.service)) await this.release(key.namespace, key.service, name);
    this.written.delete(`${key.namespace}/${key.service}`);
  }

  // ---------------------------------------------------------------------------------------------

  /** Services the cache shows as managed by `rollout`, and those this provider wrote for it. */
  private managedBy(namespace: string, rollout: string): string[] {
    const names = new Set(this.written.get(`${namespace}/${rollout}`) ?? []);
    for (const svc of this.options.services.list({ namespace })) {
      if (svc.metadata?.annotations?.[MANAGED_BY_ANNOTATION] === rollout && svc.metadata.name) names.add(svc.metadata.name);
    }
    return [...names].sort();
  }

  private remember(namespace: string, rollout: string, service: string): void {
    const key = `${namespace}/${rollout}`;
    const set = this.written.get(key) ?? new Set<string>();
    set.add(service);
    this.written.set(key, set);
  }

  private async release(namespace: string, rollout: string, name: string): Promise<void> {
    await this.write(namespace, name, (svc) => {
      if (svc?.metadata?.annotations?.[MANAGED_BY_ANNOTATION] !== rollout) return { kind: 'keep' };
      return { kind: 'patch', body: { metadata: { annotations: { [MANAGED_BY_ANNOTATION]: null } }, spec: { selector: { [POD_TEMPLATE_HASH_LABEL]: null } } } };
    }, { fresh: true });
    this.written.get(`${namespace}/${rollout}`)?.delete(name);
  }

  /** What to do so that `svc` points at `target.revision` for `rollout`. */
  private planPoint(svc: V1Service | undefined, rollout: string, target: ServiceTarget, endpoints: readonly TrafficEndpoint[]): Plan {
    const name = target.service;
    if (!svc) return { kind: 'refuse', refusal: { service: name, reason: 'not-found', message: `Service "${name}" (${target.role}Service) does not exist` } };
    const owner = svc.metadata?.annotations?.[MANAGED_BY_ANNOTATION];
    if (owner !== undefined && owner !== rollout) {
      return { kind: 'refuse', refusal: { service: name, reason: 'managed-elsewhere', message: `Service "${name}" is managed by Rollout "${owner}"` } };
    }
    const selector = svc.spec?.selector ?? {};
    const pointed = selector[POD_TEMPLATE_HASH_LABEL] === target.revision;
    if (pointed && owner === rollout) return { kind: 'keep' };
    if (!pointed && !this.hasReadyPod(svc.metadata?.namespace ?? '', { ...selector, [POD_TEMPLATE_HASH_LABEL]: target.revision }, target.revision, endpoints)) {
      return { kind: 'refuse', refusal: { service: name, reason: 'no-ready-pod', message: `Service "${name}" (${target.role}Service) left as it is: revision ${target.revision} has no ready pod it would select` } };
    }
    return {
      kind: 'patch',
      body: {
        metadata: { annotations: { [MANAGED_BY_ANNOTATION]: rollout } },
        ...(pointed ? {} : { spec: { selector: { [POD_TEMPLATE_HASH_LABEL]: target.revision } } }),
      },
    };
  }

  /** Whether a pod matching `selector` is ready: from the pod cache once it has listed, else from the decision's endpoints. */
  private hasReadyPod(namespace: string, selector: Record<string, string>, revision: string, endpoints: readonly TrafficEndpoint[]): boolean {
    if (this.options.pods.synced()) return this.options.pods.list({ namespace, labels: selector }).some(isPodReady);
    return endpoints.some((e) => e.revision === revision && e.ready && !e.draining);
  }

  /**
   * Decides on the cached Service and writes the plan with the resourceVersion it was decided
   * on; after a 409 (or a 404: deleted meanwhile), reads the Service from the API server and
   * decides again. Returns the refusal, if the plan was one.
   */
  private async write(namespace: string, name: string, plan: (svc: V1Service | undefined) => Plan, options: { fresh?: boolean } = {}): Promise<ServiceRefusal | undefined> {
    // Giving a Service back is rare and the cache may not show our last write yet: read the server.
    let svc = options.fresh ? await this.read(namespace, name) : this.options.services.get(namespace, name);
    for (let attempt = 0; ; attempt += 1) {
      const decided = plan(svc);
      if (decided.kind === 'keep') return undefined;
      if (decided.kind === 'refuse') return decided.refusal;
      const body = { ...decided.body, metadata: { ...decided.body.metadata, resourceVersion: svc?.metadata?.resourceVersion } };
      try {
        await this.core.patchNamespacedService({ namespace, name, body, fieldManager: FIELD_MANAGER }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
        return undefined;
      } catch (err) {
        const retryAfterMs = serverRetryAfterMs(err);
        if (retryAfterMs !== undefined) throw new ServiceWriteThrottledError(`${namespace}/${name}`, retryAfterMs, { cause: err });
        if (!isConflict(err) && !isNotFound(err)) throw err;
        if (attempt >= this.maxConflictRetries) throw err;
        svc = await this.read(namespace, name);
      }
    }
  }

  private async read(namespace: string, name: string): Promise<V1Service | undefined> {
    try {
      return await this.core.readNamespacedService({ namespace, name });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      const retryAfterMs = serverRetryAfterMs(err);
      if (retryAfterMs !== undefined) throw new ServiceWriteThrottledError(`${namespace}/${name}`, retryAfterMs, { cause: err });
      throw err;
    }
  }
}
