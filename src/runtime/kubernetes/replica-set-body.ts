/**
 * The ReplicaSet graylane writes for one revision of a Rollout, and the test of whether an
 * existing ReplicaSet of that name is that one: the same owner and the same pod template.
 */
import type { V1OwnerReference, V1PodTemplateSpec, V1ReplicaSet } from '@kubernetes/client-node';
import { GRAYLANE_API_VERSION, ISTIO_REVISION_LABEL, POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION } from '../../kube/names.js';
import { RuntimeInputError } from '../errors.js';

/** The object that owns a revision's ReplicaSet (the Rollout). */
export interface RevisionOwner {
  /** `graylane.dev/v1alpha1`. */
  apiVersion: string;
  /** `Rollout`. */
  kind: string;
  /** The Rollout's name (the service). */
  name: string;
  /** The Rollout's uid: what ownership is decided by. */
  uid: string;
}

/** What the controller hands the Kubernetes runtime for one revision of a Rollout. */
export interface KubernetesRevisionTemplate {
  /** The Rollout's pod template (its labels must match `selector`). */
  podTemplate: V1PodTemplateSpec;
  /** The Rollout's `spec.selector.matchLabels`. */
  selector: Record<string, string>;
  /** The Rollout that owns the ReplicaSet. */
  owner: RevisionOwner;
  /** The revision number (1, 2, …) written as the `graylane.dev/revision` annotation. */
  revisionNumber: number;
  /** Seconds a pod must be ready before it counts as available (the Rollout's `minReadySeconds`). */
  minReadySeconds?: number;
}

/** The ReplicaSet name of a revision: `<service>-<revision>`, as Argo Rollouts names them. */
export function replicaSetName(service: string, revision: string): string {
  return `${service}-${revision}`;
}

/** Refuses a template the API server would take but the runtime cannot own correctly. */
export function checkTemplate(template: KubernetesRevisionTemplate): void {
  if (!Number.isInteger(template.revisionNumber) || template.revisionNumber < 1) {
    throw new RuntimeInputError(`revisionNumber must be a whole number from 1, not ${template.revisionNumber}`);
  }
  if (!template.owner.uid || !template.owner.name) throw new RuntimeInputError('the owner needs a name and a uid: a ReplicaSet is owned by the Rollout object itself');
  if (template.minReadySeconds !== undefined && (!Number.isInteger(template.minReadySeconds) || template.minReadySeconds < 0)) {
    throw new RuntimeInputError(`minReadySeconds must be a whole number from 0, not ${template.minReadySeconds}`);
  }
}

/** The owner reference that makes the Rollout the ReplicaSet's controller (garbage collected with it). */
export function ownerReferenceOf(owner: RevisionOwner): V1OwnerReference {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true };
}

/**
 * Istio's canonical revision of a pod, set to the revision on every pod graylane creates: Istio
 * reports it as `destination_canonical_revision`, the one label of `istio_requests_total` that
 * tells a Rollout's canary pods from its stable ones whether the split is by host or by subset
 * (the guard's queries, metrics/prometheus/traffic-queries.ts, select on it). Not in the selector
 * and not compared when adopting, so ReplicaSets written before it keep their owner.
 */
export { ISTIO_REVISION_LABEL };

/** The full ReplicaSet for `revision` at `replicas`, ready to create. */
export function replicaSetBody(options: { namespace: string; service: string; revision: string; template: KubernetesRevisionTemplate; replicas: number }): V1ReplicaSet {
  const { namespace, service, revision, template, replicas } = options;
  const hash = { [POD_TEMPLATE_HASH_LABEL]: revision };
  const podLabels = { ...template.podTemplate.metadata?.labels, ...hash };
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: replicaSetName(service, revision),
      namespace,
      labels: podLabels,
      annotations: { [REVISION_ANNOTATION]: String(template.revisionNumber) },
      ownerReferences: [ownerReferenceOf(template.owner)],
    },
    spec: {
      replicas,
      ...(template.minReadySeconds === undefined ? {} : { minReadySeconds: template.minReadySeconds }),
      selector: { matchLabels: { ...template.selector, ...hash } },
      template: { ...template.podTemplate, metadata: { ...template.podTemplate.metadata, labels: { ...podLabels, [ISTIO_REVISION_LABEL]: revision } } },
    },
  };
}

/** The Rollout (of `apiVersion`: graylane's own kind unless told) that controls a ReplicaSet, if one does. */
export function controllingRollout(replicaSet: V1ReplicaSet, apiVersion: string = GRAYLANE_API_VERSION): V1OwnerReference | undefined {
  const ref = replicaSet.metadata?.ownerReferences?.find((r) => r.controller === true);
  return ref?.kind === 'Rollout' && ref.apiVersion === apiVersion ? ref : undefined;
}

/**
 * Whether every field `wanted` sets has that value in `actual`: the API server adds defaults
 * (imagePullPolicy, terminationMessagePath …) to what graylane sent, but never changes or
 * removes a field it was given, so a template it stored still contains all of ours.
 */
function contains(actual: unknown, wanted: unknown): boolean {
  if (wanted === undefined) return true;
  if (wanted instanceof Date || actual instanceof Date) return new Date(actual as Date).getTime() === new Date(wanted as Date).getTime();
  if (Array.isArray(wanted)) return Array.isArray(actual) && actual.length === wanted.length && wanted.every((w, i) => contains(actual[i], w));
  if (wanted !== null && typeof wanted === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    return Object.entries(wanted).every(([k, v]) => contains((actual as Record<string, unknown>)[k], v));
  }
  return actual === wanted;
}

/**
 * Why `existing` is not the ReplicaSet of this revision of this Rollout, in words, or undefined
 * when it is (same controller uid, and a pod template containing the one graylane would write).
 */
export function foreignReason(existing: V1ReplicaSet, wanted: V1ReplicaSet, owner: RevisionOwner): string | undefined {
  const controller = existing.metadata?.ownerReferences?.find((r) => r.controller === true);
  if (controller === undefined) return `exists with no controlling owner, not owned by ${owner.kind} ${owner.name}`;
  if (controller.uid !== owner.uid) {
    return `is owned by ${controller.kind} ${controller.name} (uid ${controller.uid}), not by ${owner.kind} ${owner.name} (uid ${owner.uid})`;
  }
  const { [ISTIO_REVISION_LABEL]: _revision, ...labels } = wanted.spec?.template?.metadata?.labels ?? {};
  if (!contains(existing.spec?.template, { ...wanted.spec?.template, metadata: { ...wanted.spec?.template?.metadata, labels } })) {
    return `belongs to ${owner.kind} ${owner.name} but runs another pod template than revision ${wanted.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL] ?? '?'}`;
  }
  return undefined;
}
