/**
 * Everything `graylane install kubernetes` prints, as objects and as one multi-document YAML:
 * the Namespace, the CRDs, the controller's ServiceAccount and RBAC, its Deployment and its
 * metrics Service. The Helm chart's test compares the chart with these objects.
 */
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import { stringify } from 'yaml';
import { customResourceDefinitions, type CustomResourceDefinitionObject } from '../../documents/crds.js';
import { controllerRbac, type ClusterRoleBindingObject, type ClusterRoleObject, type RoleBindingObject, type RoleObject } from './controller-rbac.js';
import { DEFAULT_RESOURCES, controllerDeployment, controllerServiceAccount, metricsService, type DeploymentObject, type ServiceAccountObject, type ServiceObject } from './controller-workload.js';
import { DEFAULT_IMAGE, DEFAULT_NAMESPACE, DEFAULT_REPLICAS } from './install-names.js';

/** A Namespace as plain data. */
export type NamespaceObject = INamespace & { apiVersion: 'v1'; kind: 'Namespace' };

/** One object of the install manifests. */
export type InstallObject =
  | NamespaceObject | CustomResourceDefinitionObject | ServiceAccountObject | ClusterRoleObject
  | ClusterRoleBindingObject | RoleObject | RoleBindingObject | DeploymentObject | ServiceObject;

/** What the install manifests are built from; every field has a default. */
export interface KubernetesInstallOptions {
  /** Namespace of the controller and its namespaced objects (default `graylane-system`). */
  namespace?: string;
  /** Controller image (default `ghcr.io/graylane/graylane:<version>`). */
  image?: string;
  /** Controller replicas (default 2: leader election keeps one active). */
  replicas?: number;
  /** Container resources of the controller. */
  resources?: IResourceRequirements;
  /** Only the CustomResourceDefinitions (cluster-wide: the other options do not apply). */
  crdsOnly?: boolean;
  /**
   * A controller that reconciles Argo Rollouts' Rollouts (`--argo-rollouts`), with the RBAC for
   * them in place of graylane's. Argo's own CRDs are not printed: they come with Argo.
   */
  argoRollouts?: boolean;
  /** The guard's Prometheus, passed to the controller as `--prometheus-url`. */
  prometheusUrl?: string | undefined;
}

/** Which install option was refused. */
export type InstallOptionErrorCode = 'invalid-namespace' | 'invalid-image' | 'invalid-replicas';

/** An install option no cluster would accept. */
export class InstallOptionError extends Error {
  override readonly name = 'InstallOptionError';

  constructor(
    /** Which option. */
    readonly code: InstallOptionErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A namespace name is a DNS label (RFC 1123). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** An image reference: no whitespace, no scheme, at most one digest. */
const IMAGE_REFERENCE = /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

/** Throws {@link InstallOptionError} for a namespace Kubernetes would refuse. */
export function checkNamespace(namespace: string): void {
  if (!DNS_LABEL.test(namespace) || namespace.length > 63) {
    throw new InstallOptionError('invalid-namespace', `--namespace "${namespace}" is not a namespace name: lower case letters, digits and -, at most 63`);
  }
}

/** Throws {@link InstallOptionError} for an image reference a kubelet could not pull. */
export function checkImage(image: string): void {
  if (!IMAGE_REFERENCE.test(image)) {
    throw new InstallOptionError('invalid-image', `--image "${image}" is not an image reference like ghcr.io/graylane/graylane:0.1.0`);
  }
}

/** Throws {@link InstallOptionError} unless `replicas` is a whole number of at least 1. */
export function checkReplicas(replicas: number): void {
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new InstallOptionError('invalid-replicas', `--replicas ${replicas} is not a whole number of at least 1`);
  }
}

/** The objects to apply, in the order they must be created (Namespace and CRDs first). */
export function kubernetesManifests(options: KubernetesInstallOptions = {}): InstallObject[] {
  const crds = customResourceDefinitions();
  if (options.crdsOnly) return crds;
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const image = options.image ?? DEFAULT_IMAGE;
  const replicas = options.replicas ?? DEFAULT_REPLICAS;
  checkNamespace(namespace);
  checkImage(image);
  checkReplicas(replicas);
  const ns: NamespaceObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'app.kubernetes.io/part-of': 'graylane' } } };
  return [
    ns,
    ...crds,
    controllerServiceAccount({ namespace }),
    ...controllerRbac({ namespace, argoRollouts: options.argoRollouts }),
    controllerDeployment({ namespace, image, replicas, resources: options.resources ?? DEFAULT_RESOURCES, argoRollouts: options.argoRollouts, prometheusUrl: options.prometheusUrl }),
    metricsService({ namespace }),
  ];
}

/** Objects as YAML documents, each opened by `---` (the format of `crdsYaml`). */
export function manifestsYaml(objects: readonly InstallObject[]): string {
  return objects.map((o) => `---\n${stringify(o, { lineWidth: 0 })}`).join('');
}
