/**
 * The names graylane writes into a cluster, in one place: every Kubernetes adapter, the
 * controller and the CLI agree on them, and users' Services, dashboards and queries see them.
 */

/** API group and version of graylane's custom resources. */
export const GRAYLANE_API_VERSION = 'graylane.dev/v1alpha1';

/**
 * The label that names a revision on its ReplicaSet, the ReplicaSet's selector, its pods and the
 * Services graylane points at it. Argo Rollouts' label, kept so that existing Services,
 * dashboards and queries keep working when a team moves to graylane.
 */
export const POD_TEMPLATE_HASH_LABEL = 'rollouts-pod-template-hash';

/** The revision number of a ReplicaSet (1, 2, 3 …: what `undo --to-revision` names). */
export const REVISION_ANNOTATION = 'graylane.dev/revision';

/** Set on a Service (or Ingress …) graylane manages, naming the Rollout that manages it. */
export const MANAGED_BY_ANNOTATION = 'graylane.dev/managed-by';

/** Field manager graylane's writes are recorded under. */
export const FIELD_MANAGER = 'graylane';

/** Event source component. */
export const EVENT_COMPONENT = 'graylane-controller';

/** API group and version of Argo Rollouts' custom resources (read with `--argo-rollouts`). */
export const ARGO_API_VERSION = 'argoproj.io/v1alpha1';

/** The revision number Argo Rollouts' controller keeps on a ReplicaSet. */
export const ARGO_REVISION_ANNOTATION = 'rollout.argoproj.io/revision';

/**
 * Where the engine's memory lives on an Argo Rollout (`--argo-rollouts`): Argo's CRD declares no
 * `status.graylane`, so the API server would prune it there. JSON; never edit it.
 */
export const ENGINE_MEMORY_ANNOTATION = 'graylane.dev/engine-memory';

/** The label naming the Rollout an AnalysisRun (or a hook's Job) belongs to: a Rollout's runs are listed by it. */
export const ROLLOUT_NAME_LABEL = 'graylane.dev/rollout';

/**
 * Istio's canonical revision of a pod: graylane sets it to the revision on every pod it creates
 * (runtime/kubernetes/replica-set-body.ts), so Istio's metrics tell canary pods from stable ones.
 * Like the pod-template hash it is the controller's, never part of the user's template.
 */
export const ISTIO_REVISION_LABEL = 'service.istio.io/canonical-revision';
