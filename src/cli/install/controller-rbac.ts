/**
 * The least-privilege RBAC of graylane's controller: what it may do cluster-wide (a ClusterRole
 * listing verbs per resource, never `*`) and what it may do only in its own namespace (the
 * leader-election Lease).
 */
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IPolicyRule } from 'kubernetes-models/rbac.authorization.k8s.io/v1/PolicyRule';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { CONTROLLER_NAME, LEADER_ELECTION_NAME, commonLabels } from './install-names.js';

const READ = ['get', 'list', 'watch'];

/** The rules about graylane's own Rollouts: what the controller reconciles by default. */
const GRAYLANE_ROLLOUT_RULES: readonly IPolicyRule[] = [
  // Rollouts are what it reconciles: read and watched; update/patch for the metadata it keeps on
  // them (the revision annotation, as Argo keeps rollout.argoproj.io/revision); never create or
  // delete: users own them.
  { apiGroups: ['graylane.dev'], resources: ['rollouts'], verbs: [...READ, 'update', 'patch'] },
  // The status subresource is the state port: written once per pass, with resourceVersion.
  { apiGroups: ['graylane.dev'], resources: ['rollouts/status'], verbs: ['get', 'update', 'patch'] },
  // The scale subresource an HPA drives: the controller reads what it set and writes the replica
  // count back when it takes a workloadRef Deployment's replicas over.
  { apiGroups: ['graylane.dev'], resources: ['rollouts/scale'], verbs: ['get', 'update', 'patch'] },
];

/**
 * The rules about Argo Rollouts' Rollouts, in place of {@link GRAYLANE_ROLLOUT_RULES} when the
 * controller runs with `--argo-rollouts`: graylane's Rollouts are then not read at all.
 */
export const ARGO_ROLLOUT_RULES: readonly IPolicyRule[] = [
  // Argo's Rollouts are what it reconciles: read and watched; patch (and update) for the engine's
  // memory, an annotation on each (Argo's CRD prunes an unknown status field); never create or
  // delete: users own them.
  { apiGroups: ['argoproj.io'], resources: ['rollouts'], verbs: [...READ, 'update', 'patch'] },
  // Their status, in Argo's shape, written once per pass with resourceVersion. No rollouts/scale:
  // the controller never writes Argo's scale subresource (an HPA does, through the API server).
  { apiGroups: ['argoproj.io'], resources: ['rollouts/status'], verbs: ['get', 'update', 'patch'] },
  // Argo's analysis templates are only read, as graylane's are.
  { apiGroups: ['argoproj.io'], resources: ['analysistemplates', 'clusteranalysistemplates'], verbs: READ },
  // Argo's Rollouts get Argo's AnalysisRuns, as graylane's get graylane's: created per run,
  // terminated (patch) on abort or promote, deleted beyond the history limits.
  { apiGroups: ['argoproj.io'], resources: ['analysisruns'], verbs: [...READ, 'create', 'update', 'patch', 'delete'] },
  // Their measurements and verdict live in status.
  { apiGroups: ['argoproj.io'], resources: ['analysisruns/status'], verbs: ['get', 'update', 'patch'] },
];

/** The rules whichever Rollouts the controller reconciles. */
const SHARED_RULES: readonly IPolicyRule[] = [
  // Templates are only read: analysis steps instantiate them into AnalysisRuns.
  { apiGroups: ['graylane.dev'], resources: ['analysistemplates', 'clusteranalysistemplates'], verbs: READ },
  // AnalysisRuns are created per analysis step, terminated (update/patch) on abort or promote,
  // and deleted beyond the history limit.
  { apiGroups: ['graylane.dev'], resources: ['analysisruns'], verbs: [...READ, 'create', 'update', 'patch', 'delete'] },
  // Their measurements and verdict live in status.
  { apiGroups: ['graylane.dev'], resources: ['analysisruns/status'], verbs: ['get', 'update', 'patch'] },
  // Releases are the users'; the release loop only reads them …
  { apiGroups: ['graylane.dev'], resources: ['releases'], verbs: READ },
  // … and records its progress in their status.
  { apiGroups: ['graylane.dev'], resources: ['releases/status'], verbs: ['get', 'update', 'patch'] },
  // The Kubernetes runtime: one ReplicaSet per revision, created, scaled, relabelled and
  // deleted beyond revisionHistoryLimit.
  { apiGroups: ['apps'], resources: ['replicasets'], verbs: [...READ, 'create', 'update', 'patch', 'delete'] },
  // A workloadRef Deployment is read for its template, scaled down and given back on removal:
  // never created or deleted.
  { apiGroups: ['apps'], resources: ['deployments'], verbs: [...READ, 'update', 'patch'] },
  // Readiness comes from pods; a restart (spec.restartAt) deletes them one by one. No endpoints
  // rule: readiness is read from pods and ReplicaSet status, never from Endpoints.
  { apiGroups: [''], resources: ['pods'], verbs: [...READ, 'delete'] },
  // Service-selector traffic: the selector and the managed-by annotation are patched in place.
  { apiGroups: [''], resources: ['services'], verbs: [...READ, 'update', 'patch'] },
  // An Event for every transition (patch: a repeated Event bumps its count).
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  // Credentials of metric providers (Prometheus tokens, web headers) referenced by templates.
  { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
  // Configuration referenced by templates (valueFrom a ConfigMap).
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
  // The job metric provider runs a Job per measurement and deletes it when the measurement is aborted.
  { apiGroups: ['batch'], resources: ['jobs'], verbs: [...READ, 'create', 'delete'] },
  // Traffic providers of the next issue. ingress-nginx: the canary Ingress is a copy of the
  // stable one, created and deleted by the controller.
  { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: [...READ, 'create', 'update', 'patch', 'delete'] },
  // Istio: the users' VirtualService weights and DestinationRule subsets are edited in place.
  { apiGroups: ['networking.istio.io'], resources: ['virtualservices', 'destinationrules'], verbs: [...READ, 'update', 'patch'] },
  // Gateway API: the users' routes' backend weights are edited in place.
  { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes', 'grpcroutes'], verbs: [...READ, 'update', 'patch'] },
];

/**
 * What the controller does anywhere in the cluster (it runs with `--all-namespaces`), one rule per
 * reason. Each rule says why it is there; a verb nobody can justify does not belong here.
 */
export const CONTROLLER_CLUSTER_RULES: readonly IPolicyRule[] = [...GRAYLANE_ROLLOUT_RULES, ...SHARED_RULES];

/** {@link CONTROLLER_CLUSTER_RULES} of a controller run with `--argo-rollouts`. */
export const ARGO_CONTROLLER_CLUSTER_RULES: readonly IPolicyRule[] = [...ARGO_ROLLOUT_RULES, ...SHARED_RULES];

/**
 * What the controller does in its own namespace only: leader election on one Lease (read,
 * created by the first replica, renewed and taken over by update). No list or watch: it reads
 * the Lease by name.
 */
export const LEADER_ELECTION_RULES: readonly IPolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

/** A ClusterRole (rbac.authorization.k8s.io/v1) as plain data. */
export type ClusterRoleObject = IClusterRole & { apiVersion: 'rbac.authorization.k8s.io/v1'; kind: 'ClusterRole' };
/** A ClusterRoleBinding as plain data. */
export type ClusterRoleBindingObject = IClusterRoleBinding & { apiVersion: 'rbac.authorization.k8s.io/v1'; kind: 'ClusterRoleBinding' };
/** A Role as plain data. */
export type RoleObject = IRole & { apiVersion: 'rbac.authorization.k8s.io/v1'; kind: 'Role' };
/** A RoleBinding as plain data. */
export type RoleBindingObject = IRoleBinding & { apiVersion: 'rbac.authorization.k8s.io/v1'; kind: 'RoleBinding' };

/**
 * The controller's RBAC objects, bound to its ServiceAccount in `namespace`; with `argoRollouts`,
 * those of a controller run with `--argo-rollouts`.
 */
export function controllerRbac(options: { namespace: string; argoRollouts?: boolean | undefined }): [ClusterRoleObject, ClusterRoleBindingObject, RoleObject, RoleBindingObject] {
  const { namespace } = options;
  const subjects = [{ kind: 'ServiceAccount', name: CONTROLLER_NAME, namespace }];
  const labels = commonLabels();
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: CONTROLLER_NAME, labels },
      rules: (options.argoRollouts === true ? ARGO_CONTROLLER_CLUSTER_RULES : CONTROLLER_CLUSTER_RULES).map(copyRule),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: CONTROLLER_NAME, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CONTROLLER_NAME },
      subjects,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: LEADER_ELECTION_NAME, namespace, labels },
      rules: LEADER_ELECTION_RULES.map(copyRule),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: LEADER_ELECTION_NAME, namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: LEADER_ELECTION_NAME },
      subjects,
    },
  ];
}

// Callers get their own arrays: a manifest edited by one caller must not change the next one's.
function copyRule(rule: IPolicyRule): IPolicyRule {
  return { apiGroups: [...(rule.apiGroups ?? [])], resources: [...(rule.resources ?? [])], verbs: [...rule.verbs] };
}
