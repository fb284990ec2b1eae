/**
 * The core's {@link SpecSource} over a cluster: what a Rollout should be, read from the informers'
 * caches (Rollouts, their ReplicaSets, and the Deployments a `workloadRef` names). Nothing here
 * asks the API server, so a pass costs no request until it acts; the only write is the deletion of
 * a retired revision's ReplicaSet.
 *
 * Revision identity: `revisionHash` of src/documents/revision.ts over the pod template as the user
 * wrote it (or as the referenced Deployment holds it), the same hash `graylane validate` and the
 * single host compute, not Argo's FNV hash: one Rollout document names the same revision wherever it
 * runs. The hash is what the ReplicaSets carry in `rollouts-pod-template-hash`.
 */
import type { AppsV1Api, KubernetesObject, V1Deployment, V1LabelSelector, V1PodTemplateSpec, V1ReplicaSet } from '@kubernetes/client-node';
import { ApiException } from '@kubernetes/client-node';
import { loadDocuments, revisionHash, type Rollout as RolloutDoc } from '../../documents/index.js';
import { ARGO_API_VERSION, ARGO_REVISION_ANNOTATION, ENGINE_MEMORY_ANNOTATION, GRAYLANE_API_VERSION, POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION } from '../../kube/names.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import type { DesiredRevision, DesiredRollout, SpecSource } from '../core/ports.js';
import type { ObjectKey } from '../../state/state-port.js';
import type { KubernetesRevisionTemplate } from '../../runtime/kubernetes/replica-set-body.js';
import type { RolloutFlavour } from '../../kube/rollout-flavour.js';
import type { RolloutSpec } from '../../documents/schema.js';
import { samePodTemplate } from './argo-template-equality.js';

/** What the Kubernetes runtime needs to create one revision's ReplicaSet: its own template type. */
export type RevisionTemplate = KubernetesRevisionTemplate;

/** A Rollout object as the cache holds it. */
export type RolloutObject = KubernetesObject & { spec?: unknown; status?: unknown };

/** What {@link RolloutSpecSource.check} found for a key. */
export type SpecCheck =
  /** The Rollout no longer exists. */
  | { state: 'absent' }
  /** The Rollout cannot be run as written: `message` is the sentence for the InvalidSpec condition. */
  | { state: 'invalid'; message: string }
  /** What the Rollout should be. */
  | { state: 'valid'; desired: DesiredRollout };

/** A cache the spec source reads had not listed yet: an empty copy would be misread as "none". */
export class CacheNotSyncedError extends Error {
  /** Stable code for callers. */
  readonly code = 'CacheNotSynced';
  constructor(readonly kind: string) {
    super(`the ${kind} cache has not listed yet; the pass is retried`);
    this.name = 'CacheNotSyncedError';
  }
}

export type { RolloutFlavour } from '../../kube/rollout-flavour.js';

/** Options of {@link RolloutSpecSource}. */
export interface RolloutSpecSourceOptions {
  /** Whose Rollouts these are (default `graylane`). */
  flavour?: RolloutFlavour | undefined;
  /** graylane Rollouts. */
  rollouts: ObjectCache<RolloutObject>;
  /** ReplicaSets (those of every Rollout; filtered by owner uid). */
  replicaSets: ObjectCache<V1ReplicaSet>;
  /** apps/v1 Deployments, for `workloadRef`. */
  deployments: ObjectCache<V1Deployment>;
  /** Where retired ReplicaSets are deleted. */
  apps: AppsV1Api;
  /**
   * A release's member runs the release's timeline: its spec as the member it is, or the sentence
   * why it cannot be one; undefined for a Rollout in no release (release-members.ts).
   */
  memberSpec?: ((key: ObjectKey, spec: RolloutSpec) => { spec: RolloutSpec } | { invalid: string } | undefined) | undefined;
}

/**
 * The revision number a ReplicaSet carries; 0 when it has none (it then sorts first). With
 * `argo`, a ReplicaSet Argo's controller left (graylane's annotation not yet there) has Argo's.
 */
function revisionNumberOf(rs: V1ReplicaSet, flavour: RolloutFlavour = 'graylane'): number {
  const annotations = rs.metadata?.annotations ?? {};
  const n = Number(annotations[REVISION_ANNOTATION] ?? (flavour === 'argo' ? annotations[ARGO_REVISION_ANNOTATION] : undefined));
  return Number.isInteger(n) && n > 0 ? n : 0;
}

function creationMs(rs: V1ReplicaSet): number {
  const t = rs.metadata?.creationTimestamp as Date | string | undefined;
  return t === undefined ? 0 : new Date(t).getTime();
}

/** See the file comment. */
export class RolloutSpecSource implements SpecSource {
  /**
   * The last validation per `namespace/name`, with what it was made from: every pass reads the
   * spec, and the loader (YAML text, schema, cross-checks) was most of a pass's CPU. The spec
   * changes only with `metadata.generation`; the labels and annotations the loader also reads do not
   * bump it, so they are part of the stamp. Status writes (most changes) leave the stamp alone.
   */
  private readonly validated = new Map<string, { stamp: string; result: RolloutDoc | string }>();

  constructor(private readonly options: RolloutSpecSourceOptions) {}

  /**
   * What `key` should be, or why it cannot be run. Throws {@link CacheNotSyncedError} before the
   * caches have listed, so that the work queue retries rather than acting on an empty picture.
   */
  check(key: ObjectKey): SpecCheck {
    const { rollouts, replicaSets, deployments } = this.options;
    for (const [kind, cache] of [['Rollout', rollouts], ['ReplicaSet', replicaSets]] as const) if (!cache.synced()) throw new CacheNotSyncedError(kind);
    const object = rollouts.get(key.namespace, key.name);
    if (!object) {
      this.validated.delete(`${key.namespace}/${key.name}`);
      return { state: 'absent' };
    }
    const loaded = this.validateOnce(object);
    if (typeof loaded === 'string') return { state: 'invalid', message: loaded };
    const member = this.options.memberSpec?.(key, loaded.spec);
    if (member && 'invalid' in member) return { state: 'invalid', message: member.invalid };
    const spec = member?.spec ?? loaded.spec;
    let podTemplate: V1PodTemplateSpec;
    let selector: V1LabelSelector;
    if (spec.workloadRef) {
      const ref = spec.workloadRef;
      if (ref.apiVersion !== 'apps/v1' || ref.kind !== 'Deployment') {
        return { state: 'invalid', message: `spec.workloadRef: graylane takes the pod template from an apps/v1 Deployment only, not ${ref.apiVersion} ${ref.kind}` };
      }
      if (!deployments.synced()) throw new CacheNotSyncedError('Deployment');
      const deployment = deployments.get(key.namespace, ref.name);
      if (!deployment?.spec) return { state: 'invalid', message: `spec.workloadRef: Deployment "${ref.name}" not found in namespace "${key.namespace}"` };
      podTemplate = deployment.spec.template;
      selector = deployment.spec.selector;
    } else {
      // The loader refuses a Rollout with neither template nor workloadRef, and one without a selector.
      podTemplate = spec.template as V1PodTemplateSpec;
      selector = spec.selector as V1LabelSelector;
    }
    if ((selector.matchExpressions ?? []).length > 0) {
      return { state: 'invalid', message: `${spec.workloadRef ? `the selector of Deployment "${spec.workloadRef.name}"` : 'spec.selector'}: matchExpressions are not supported; graylane's ReplicaSets select by matchLabels only` };
    }
    const matchLabels = selector.matchLabels ?? {};
    const uid = object.metadata?.uid ?? '';
    const owner = { apiVersion: object.apiVersion ?? GRAYLANE_API_VERSION, kind: 'Rollout', name: key.name, uid };
    const minReadySeconds = spec.minReadySeconds ?? 0;
    const flavour = this.options.flavour ?? 'graylane';
    const revisionNumber = (rs: V1ReplicaSet): number => revisionNumberOf(rs, flavour);
    const owned = replicaSets
      .list({ namespace: key.namespace, ownerUid: uid })
      .filter((rs) => rs.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL] !== undefined)
      .sort((a, b) => revisionNumber(a) - revisionNumber(b) || creationMs(a) - creationMs(b) || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
    // Argo's ReplicaSets carry Argo's hash, never graylane's: one running this template is adopted
    // by template equality, keeping its name and pods.
    const adopted = flavour === 'argo' ? owned.find((rs) => samePodTemplate(rs.spec?.template, podTemplate)) : undefined;
    const desiredRevision = adopted?.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL] ?? hashOf(podTemplate);
    const revisions: DesiredRevision[] = owned.map((rs) => {
      const name = rs.metadata!.labels![POD_TEMPLATE_HASH_LABEL]!;
      const template: RevisionTemplate = {
        podTemplate: name === desiredRevision ? podTemplate : withoutHashLabel(rs.spec?.template ?? {}),
        selector: matchLabels,
        owner,
        revisionNumber: revisionNumber(rs),
        minReadySeconds,
      };
      return { name, template };
    });
    if (!revisions.some((r) => r.name === desiredRevision)) {
      const next = Math.max(0, ...owned.map(revisionNumber)) + 1;
      const template: RevisionTemplate = { podTemplate, selector: matchLabels, owner, revisionNumber: next, minReadySeconds };
      revisions.push({ name: desiredRevision, template });
    }
    // A member goes back through the release's gates, as on a single host.
    return { state: 'valid', desired: { spec, desiredRevision, revisions, ...(member ? { fastRollback: false } : {}) } };
  }

  /** The desired rollout of `key`; undefined when it is gone or invalid (see {@link check} for the sentence). */
  desired(key: ObjectKey): Promise<DesiredRollout | undefined> {
    // Through a promise, so that a cache not synced yet is a rejection, not a synchronous throw.
    return Promise.resolve(key).then((k) => {
      const c = this.check(k);
      return c.state === 'valid' ? c.desired : undefined;
    });
  }

  /** Deletes the ReplicaSets of `revision` owned by the Rollout; one already gone is no error. */
  async forgetRevision(key: ObjectKey, revision: string): Promise<void> {
    const rollout = this.options.rollouts.get(key.namespace, key.name);
    const uid = rollout?.metadata?.uid;
    // Without the Rollout its ReplicaSets go by the owner cascade; by name alone we could delete another's.
    if (uid === undefined) return;
    const doomed = this.options.replicaSets.list({ namespace: key.namespace, ownerUid: uid, labels: { [POD_TEMPLATE_HASH_LABEL]: revision } });
    for (const rs of doomed) {
      try {
        await this.options.apps.deleteNamespacedReplicaSet({ name: rs.metadata!.name!, namespace: key.namespace, propagationPolicy: 'Background' });
      } catch (error) {
        if (!(error instanceof ApiException && error.code === 404)) throw error;
      }
    }
  }

  /** {@link validate}, remembered while the Rollout's stamp (uid, generation, labels, annotations) holds. */
  private validateOnce(object: RolloutObject): RolloutDoc | string {
    const meta = object.metadata ?? {};
    const key = `${meta.namespace ?? ''}/${meta.name ?? ''}`;
    // Without a generation (a server that keeps none) the spec itself is the stamp.
    const specPart = meta.generation === undefined ? JSON.stringify(object.spec) : String(meta.generation);
    const stamp = `${meta.uid ?? ''}|${object.apiVersion ?? ''}|${specPart}|${JSON.stringify(meta.labels ?? null)}|${JSON.stringify(usersAnnotations(meta.annotations) ?? null)}`;
    const cached = this.validated.get(key);
    if (cached?.stamp === stamp) return cached.result;
    const result = this.validate(object);
    // Frozen: one parsed spec now serves many passes, so a pass that wrote into it would leak into the next.
    this.validated.set(key, { stamp, result: typeof result === 'string' ? result : deepFreeze(result) });
    return result;
  }

  /** The Rollout through the documents' loader: its typed form, or the sentence of what is wrong. */
  private validate(object: RolloutObject): RolloutDoc | string {
    const meta = object.metadata ?? {};
    // Only what the user wrote: the server's bookkeeping and the status are not theirs to fix.
    const document = {
      apiVersion: object.apiVersion,
      kind: object.kind,
      metadata: { name: meta.name, namespace: meta.namespace, labels: meta.labels, annotations: usersAnnotations(meta.annotations) },
      spec: object.spec,
    };
    const argo = this.options.flavour === 'argo';
    if (argo && object.apiVersion !== ARGO_API_VERSION) return `not an Argo Rollout: ${object.apiVersion ?? ''} ${object.kind ?? ''}`;
    // First: the import would split such a step, and what it then finds wrong is not what is.
    const split = argo ? multiFieldSteps(object.spec) : [];
    if (split.length) return split.join('; ');
    const result = loadDocuments({ text: JSON.stringify(document), file: `${meta.namespace ?? ''}/${meta.name ?? ''}` });
    if (result.errors.length) return result.errors.map((e) => (e.path ? `${e.path}: ${e.reason}` : e.reason)).join('; ');
    const loaded = result.documents[0];
    if (loaded?.kind !== 'Rollout') return `not a graylane Rollout: ${object.apiVersion ?? ''} ${object.kind ?? ''}`;
    if (argo) {
      // The import leaves out what graylane does not run, with a warning; a controller must not
      // run a Rollout with part of it dropped, so each is a reason the spec is refused.
      const refused = result.warnings.map((w) => `${w.path}: ${w.message}`);
      if (refused.length) return refused.join('; ');
    }
    return loaded.doc;
  }
}

/**
 * Argo steps with several fields: graylane would run each as several steps, and the step index
 * in the status (what Argo's kubectl plugin shows) would no longer be Argo's.
 */
function multiFieldSteps(spec: unknown): string[] {
  const steps = (spec as { strategy?: { canary?: { steps?: unknown } } } | undefined)?.strategy?.canary?.steps;
  if (!Array.isArray(steps)) return [];
  return steps.flatMap((step: unknown, i) => {
    const keys = step !== null && typeof step === 'object' ? Object.keys(step) : [];
    return keys.length > 1 ? [`spec.strategy.canary.steps[${i}]: a step with several fields (${keys.join(', ')}) is not supported with --argo-rollouts; graylane would run it as ${keys.length} steps and the step index Argo's tools show would no longer match; write one field per step`] : [];
  });
}

/** A frozen template's hash is remembered (the cached spec's inline template): hashing it was a cost of every pass. */
const HASHES = new WeakMap<object, string>();

function hashOf(template: V1PodTemplateSpec): string {
  let hash = HASHES.get(template);
  if (hash === undefined) {
    hash = revisionHash(template);
    if (Object.isFrozen(template)) HASHES.set(template, hash);
  }
  return hash;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** A ReplicaSet's pod template as the user wrote it: the runtime adds the hash label back. */
function withoutHashLabel(template: V1PodTemplateSpec): V1PodTemplateSpec {
  const labels = { ...(template.metadata?.labels ?? {}) };
  delete labels[POD_TEMPLATE_HASH_LABEL];
  return { ...template, metadata: { ...template.metadata, labels } };
}

/**
 * A Rollout's annotations without the engine's memory (Argo Rollouts keep it there): it changes
 * with every commit, and is not the user's to validate.
 */
function usersAnnotations(annotations: Record<string, string> | undefined): Record<string, string> | undefined {
  if (annotations?.[ENGINE_MEMORY_ANNOTATION] === undefined) return annotations;
  const { [ENGINE_MEMORY_ANNOTATION]: _memory, ...rest } = annotations;
  return Object.keys(rest).length === 0 ? undefined : rest;
}
