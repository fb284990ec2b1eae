/**
 * The ingress-nginx traffic provider: for each stable Ingress a Rollout names, a canary Ingress
 * (canary-ingress.ts) that ingress-nginx reads to send the decided share of requests, and the
 * requests matching a header or cookie route, to the canary Service. The user's stable Ingress
 * is only read, never written. Pointing the stable and canary Services at their revisions is the
 * Service-selector provider's work, which the controller runs beside this one, as Argo does.
 *
 * Each canary Ingress is cloned afresh from its stable Ingress on every `apply`, so a new host or
 * TLS secret there reaches the canary on the next pass; it is owned by the Rollout (the root says
 * which object that is: a decision carries no uid) and carries `graylane.dev/managed-by`, which
 * is how one left behind by a renamed `stableIngress` is found and deleted. After promotion or an
 * abort the decision's weight is 0 and the canary Ingress stays, at weight 0, as Argo leaves it;
 * `removeManagedRoutes` deletes it.
 *
 * Writes carry the resourceVersion they were decided on; after a 409 the Ingress is read from
 * the API server and decided again, never overwritten blindly.
 */
import { ApiException, NetworkingV1Api, type KubeConfig, type V1Ingress, type V1OwnerReference } from '@kubernetes/client-node';
import type { RolloutSpec } from '../../documents/schema.js';
import { FIELD_MANAGER, MANAGED_BY_ANNOTATION } from '../../kube/names.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import { missingCapability } from '../capability-checks.js';
import { TrafficCapabilityError, type TrafficDecision, type TrafficIssue, type TrafficProvider, type Verification } from '../traffic-provider.js';
import { annotationPrefix, canaryAnnotations, canaryIngressName, desiredCanaryIngress } from './canary-ingress.js';
import { NGINX_CAPABILITIES, NGINX_TYPE, stableIngressNames, validateNginx } from './nginx-config.js';
import { NginxIngressError } from './nginx-ingress-error.js';

/** Options of {@link NginxTrafficProvider}. */
export interface NginxProviderOptions {
  /** Where writes go. */
  kubeConfig: KubeConfig;
  /** The cluster's Ingresses (`networking.k8s.io/v1`), as the controller's informer keeps them. */
  ingresses: ObjectCache<V1Ingress>;
  /**
   * The Rollout object that owns its canary Ingresses (apiVersion, kind, name, uid), from the
   * controller's Rollout cache; undefined while it is not known.
   */
  ownerOf(key: { namespace: string; service: string }): V1OwnerReference | undefined;
  /** Times a write is decided afresh after a 409 before the error is thrown (default 5). */
  maxConflictRetries?: number | undefined;
}

const statusOf = (err: unknown): number | undefined => (err instanceof ApiException ? err.code : undefined);

/** Key order-free JSON, to tell whether two objects say the same. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
    : v));
}

/** What the provider writes of a canary Ingress: it is equal when these are. */
function written(ingress: V1Ingress): string {
  const m = ingress.metadata;
  return canonical({ annotations: m?.annotations ?? {}, ownerReferences: m?.ownerReferences ?? [], spec: ingress.spec ?? {} });
}

/** See the file comment. */
export class NginxTrafficProvider implements TrafficProvider {
  /** `nginx`. */
  readonly type = NGINX_TYPE;
  /** `weight`, `headerRoute`, `cookieRoute` and `verify`. */
  readonly capabilities = NGINX_CAPABILITIES;
  private readonly net: NetworkingV1Api;
  private readonly maxConflictRetries: number;
  /** Canary Ingresses written per `namespace/rollout`, until the cache shows them. */
  private readonly writtenFor = new Map<string, Set<string>>();

  constructor(private readonly options: NginxProviderOptions) {
    this.net = options.kubeConfig.makeApiClient(NetworkingV1Api);
    this.maxConflictRetries = options.maxConflictRetries ?? 5;
  }

  /** See {@link validateNginx}. */
  validate(spec: RolloutSpec): TrafficIssue[] {
    return validateNginx(spec);
  }

  /**
   * Writes the canary Ingress of every stable Ingress the spec names, and deletes this Rollout's
   * canary Ingresses for stable Ingresses it no longer names. Throws
   * {@link TrafficCapabilityError} for a mirror or preview route, {@link NginxIngressError} for
   * what cannot be written (after writing every canary Ingress that could be).
   */
  async apply(decision: TrafficDecision): Promise<void> {
    const previewByHeader = decision.spec?.strategy.blueGreen?.allowPreviewHeader === true;
    const missing = missingCapability(this.capabilities, decision.traffic, previewByHeader);
    if (missing) throw new TrafficCapabilityError(this.type, missing, `ingress-nginx cannot carry out this decision: it needs ${missing} routing, and a canary Ingress only splits by weight, one header and one cookie`);
    const { namespace, service: rollout } = decision;
    const canary = decision.spec?.strategy.canary;
    const stables = stableIngressNames(decision.spec);
    if (!canary || stables.length === 0 || canary.stableService === undefined || canary.canaryService === undefined) {
      throw new NginxIngressError('NginxNotConfigured', `Rollout "${rollout}" names no trafficRouting.nginx stableIngress with its stableService and canaryService`);
    }
    const owner = this.options.ownerOf({ namespace, service: rollout });
    if (!owner) throw new NginxIngressError('RolloutOwnerUnknown', `the canary Ingress of Rollout "${rollout}" was not written: the Rollout object that owns it is not known yet`);
    const annotations = canaryAnnotations(decision.spec, decision.traffic, rollout, decision.release);
    const wanted = new Set(stables.map((s) => canaryIngressName(rollout, s)));
    const refusals: NginxIngressError[] = [];
    for (const name of stables) {
      try {
        const stable = await this.stableIngress(namespace, name);
        const desired = desiredCanaryIngress({ stable, rollout, stableService: canary.stableService, canaryService: canary.canaryService, annotations, owner });
        await this.put(namespace, rollout, desired);
      } catch (err) {
        if (!(err instanceof NginxIngressError)) throw err;
        refusals.push(err);
      }
    }
    for (const name of this.managedBy(namespace, rollout)) if (!wanted.has(name)) await this.remove(namespace, rollout, name);
    const [first, ...rest] = refusals;
    if (first) throw rest.length === 0 ? first : new NginxIngressError(first.code, refusals.map((r) => r.message).join('; '), first.ingress);
  }

  /**
   * `verified` when the canary Ingress of every stable Ingress, as the cache shows it, is this
   * Rollout's and carries exactly the decision's annotations under the prefix; else `pending`.
   */
  verify(decision: TrafficDecision): Promise<Verification> {
    let expected: Record<string, string>;
    try {
      expected = canaryAnnotations(decision.spec, decision.traffic, decision.service, decision.release);
    } catch {
      // A decision that cannot be written is never in force.
      return Promise.resolve('pending');
    }
    const prefix = `${annotationPrefix(decision.spec)}/`;
    const ours = (a: Readonly<Record<string, string>>): string => canonical(Object.fromEntries(Object.entries(a).filter(([k]) => k.startsWith(prefix) || k === MANAGED_BY_ANNOTATION)));
    const names = stableIngressNames(decision.spec);
    const ok = names.length > 0 && names.every((s) => {
      const ing = this.options.ingresses.get(decision.namespace, canaryIngressName(decision.service, s));
      return ing !== undefined && ours(ing.metadata?.annotations ?? {}) === ours(expected);
    });
    return Promise.resolve(ok ? 'verified' : 'pending');
  }

  /** Deletes every canary Ingress of the Rollout; idempotent. The stable Ingresses stay as they are. */
  async removeManagedRoutes(key: { namespace: string; service: string }): Promise<void> {
    for (const name of this.managedBy(key.namespace, key.service)) await this.remove(key.namespace, key.service, name);
    this.writtenFor.delete(`${key.namespace}/${key.service}`);
  }

  // ---------------------------------------------------------------------------------------------

  /** The stable Ingress from the cache, else from the API server (the cache may lag a new one). */
  private async stableIngress(namespace: string, name: string): Promise<V1Ingress> {
    const found = this.options.ingresses.get(namespace, name) ?? await this.read(namespace, name);
    if (!found) throw new NginxIngressError('StableIngressNotFound', `stable Ingress "${name}" does not exist in namespace "${namespace}"`, name);
    return found;
  }

  /** Canary Ingresses the cache shows as this Rollout's, and those written for it since. */
  private managedBy(namespace: string, rollout: string): string[] {
    const names = new Set(this.writtenFor.get(`${namespace}/${rollout}`) ?? []);
    for (const ing of this.options.ingresses.list({ namespace })) {
      if (ing.metadata?.annotations?.[MANAGED_BY_ANNOTATION] === rollout && ing.metadata.name) names.add(ing.metadata.name);
    }
    return [...names].sort();
  }

  /** Creates or replaces `desired`, deciding afresh on the server's copy after a 409. */
  private async put(namespace: string, rollout: string, desired: V1Ingress): Promise<void> {
    const name = desired.metadata?.name ?? '';
    let current = this.options.ingresses.get(namespace, name);
    for (let attempt = 0; ; attempt += 1) {
      const owner = current?.metadata?.annotations?.[MANAGED_BY_ANNOTATION];
      if (current && owner !== rollout) {
        throw new NginxIngressError('CanaryIngressTaken', `Ingress "${name}" exists and is not Rollout "${rollout}"'s canary Ingress (${owner === undefined ? 'graylane does not manage it' : `Rollout "${owner}" manages it`}): left as it is`, name);
      }
      if (current && written(current) === written(desired)) return this.remember(namespace, rollout, name);
      try {
        if (current) {
          const body = { ...desired, metadata: { ...desired.metadata, resourceVersion: current.metadata?.resourceVersion } };
          await this.net.replaceNamespacedIngress({ namespace, name, body, fieldManager: FIELD_MANAGER });
        } else {
          await this.net.createNamespacedIngress({ namespace, body: desired, fieldManager: FIELD_MANAGER });
        }
        return this.remember(namespace, rollout, name);
      } catch (err) {
        const status = statusOf(err);
        if ((status !== 409 && status !== 404) || attempt >= this.maxConflictRetries) throw err;
        current = await this.read(namespace, name);
      }
    }
  }

  private remember(namespace: string, rollout: string, name: string): void {
    const key = `${namespace}/${rollout}`;
    this.writtenFor.set(key, (this.writtenFor.get(key) ?? new Set<string>()).add(name));
  }

  /**
   * Deletes canary Ingress `name` if it is this Rollout's, on the uid it was seen with (a 409 if
   * someone made another of that name meanwhile); a 404 means it is gone already.
   */
  private async remove(namespace: string, rollout: string, name: string): Promise<void> {
    const seen = this.options.ingresses.get(namespace, name) ?? await this.read(namespace, name);
    if (seen?.metadata?.annotations?.[MANAGED_BY_ANNOTATION] === rollout) {
      try {
        await this.net.deleteNamespacedIngress({ namespace, name, body: { preconditions: { uid: seen.metadata.uid } } });
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    }
    this.writtenFor.get(`${namespace}/${rollout}`)?.delete(name);
  }

  private async read(namespace: string, name: string): Promise<V1Ingress | undefined> {
    try {
      return await this.net.readNamespacedIngress({ namespace, name });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }
}
