/**
 * How the Kubernetes controller wires releases in, kept out of its root so that the root's edit
 * stays small: a cache that reads as listed and empty where the cluster does not serve the
 * Release CRD (an informer that could never list would hold the controller back forever), and the
 * member-spec hook the Rollouts' spec source calls.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { RolloutSpec } from '../../documents/schema.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import type { ReleaseObject } from '../../state/kubernetes/kubernetes-release-state.js';
import { nginxPinningIssue } from '../../traffic/nginx/nginx-config.js';
import type { TrafficRegistry } from '../../traffic/registry.js';
import type { ObjectKey } from '../../state/state-port.js';
import { clusterMemberSpec, releaseFromObject, releasesNaming, type MemberSpecResult } from './release-members.js';

/** `cache` where `served()`, else a cache that has listed nothing (it never lists). */
export function servedCache<T extends KubernetesObject>(cache: ObjectCache<T>, served: () => boolean): ObjectCache<T> {
  return {
    get: (namespace, name) => (served() ? cache.get(namespace, name) : undefined),
    list: (query) => (served() ? cache.list(query) : []),
    onChange: (listener) => cache.onChange(listener),
    synced: () => !served() || cache.synced(),
  };
}

/** Whether a provider that routes `spec` on Kubernetes declares `releasePinning`. */
export function canPin(registry: Pick<TrafficRegistry, 'select' | 'get'>, spec: RolloutSpec): boolean {
  return registry.select(spec, 'kubernetes').some((type) => {
    try {
      return registry.get(type).capabilities.has('releasePinning');
    } catch {
      // A validate-only type routes nothing, so it pins nothing either.
      return false;
    }
  });
}

/**
 * The spec source's hook: a Rollout some Release of its namespace names runs as its member (the
 * first by name when several do: naming one Rollout in two Releases is refused as invalid).
 */
export function memberSpecOf(options: { releases: ObjectCache<ReleaseObject>; registry: Pick<TrafficRegistry, 'select' | 'get'>; analysisServed?: (() => boolean) | undefined }): (key: ObjectKey, spec: RolloutSpec) => MemberSpecResult | undefined {
  return (key, own) => {
    const naming = releasesNaming(options.releases, key.namespace, key.name);
    if (naming.length === 0) return undefined;
    if (naming.length > 1) {
      return { invalid: `this Rollout is a member of releases ${naming.map((r) => `"${r.metadata?.name ?? ''}"`).join(' and ')}; a Rollout moves with one release at a time` };
    }
    return clusterMemberSpec({ release: releaseFromObject(naming[0]!), own, canPin: (spec) => canPin(options.registry, spec), pinningIssue: nginxPinningIssue, analysisServed: options.analysisServed?.() ?? true });
  };
}
