/**
 * The controller's workload: its ServiceAccount, its Deployment (leader-elected replicas,
 * probes, resources, a locked-down security context) and the Service in front of its metrics.
 */
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { CONTROLLER_NAME, CONTROLLER_UID, HEALTH_PORT, METRICS_PORT, METRICS_SERVICE_NAME, commonLabels, selectorLabels } from './install-names.js';

/** A ServiceAccount as plain data. */
export type ServiceAccountObject = IServiceAccount & { apiVersion: 'v1'; kind: 'ServiceAccount' };
/** A Deployment as plain data. */
export type DeploymentObject = IDeployment & { apiVersion: 'apps/v1'; kind: 'Deployment' };
/** A Service as plain data. */
export type ServiceObject = IService & { apiVersion: 'v1'; kind: 'Service' };

/**
 * Requests sized for a few hundred Rollouts; the memory limit leaves room above the benchmark's
 * goal (2,000 Rollouts in ≤ 300 MB). No CPU limit: throttling a controller only delays
 * reconciles, and leader election renews on a deadline.
 */
export const DEFAULT_RESOURCES: IResourceRequirements = {
  requests: { cpu: '100m', memory: '128Mi' },
  limits: { memory: '512Mi' },
};

/** What the controller's workload is built from. */
export interface ControllerWorkloadOptions {
  /** Namespace of the ServiceAccount, Deployment and Service. */
  namespace: string;
  /** Container image of the controller. */
  image: string;
  /** Deployment replicas (one leads, the others stand by). */
  replicas: number;
  /** Container resources. */
  resources: IResourceRequirements;
  /** Run the controller with `--argo-rollouts` (it reconciles Argo's Rollouts instead of graylane's). */
  argoRollouts?: boolean | undefined;
  /** The guard's Prometheus (`--prometheus-url`), if any. */
  prometheusUrl?: string | undefined;
}

/** The ServiceAccount the controller's pods run as (the RBAC binds to it). */
export function controllerServiceAccount(options: { namespace: string }): ServiceAccountObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: CONTROLLER_NAME, namespace: options.namespace, labels: commonLabels() } };
}

/** The controller Deployment. */
export function controllerDeployment(options: ControllerWorkloadOptions): DeploymentObject {
  const { namespace, image, replicas, resources } = options;
  const argo = [...(options.argoRollouts === true ? ['--argo-rollouts'] : []), ...(options.prometheusUrl ? ['--prometheus-url', options.prometheusUrl] : [])];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: CONTROLLER_NAME, namespace, labels: commonLabels() },
    spec: {
      replicas,
      selector: { matchLabels: selectorLabels() },
      template: {
        metadata: { labels: commonLabels() },
        spec: {
          serviceAccountName: CONTROLLER_NAME,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: CONTROLLER_UID,
            runAsGroup: CONTROLLER_UID,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [{
            name: 'controller',
            image,
            // The controller watches every namespace; a leader elected on a Lease makes the
            // standby replicas harmless.
            args: ['controller', '--leader-elect', '--health-addr', `:${HEALTH_PORT}`, '--metrics-addr', `:${METRICS_PORT}`, '--all-namespaces', ...argo],
            // The lease holder's identity and the namespace of its Lease.
            env: [
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            ],
            ports: [
              { name: 'health', containerPort: HEALTH_PORT, protocol: 'TCP' },
              { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
            ],
            livenessProbe: { httpGet: { path: '/healthz', port: 'health' }, initialDelaySeconds: 5, periodSeconds: 10, failureThreshold: 3 },
            readinessProbe: { httpGet: { path: '/readyz', port: 'health' }, periodSeconds: 5, failureThreshold: 3 },
            resources: structuredClone(resources),
            securityContext: {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              runAsNonRoot: true,
              runAsUser: CONTROLLER_UID,
              capabilities: { drop: ['ALL'] },
            },
            // Node writes a few temporary files (its compile cache, diagnostics): the root
            // filesystem is read-only, /tmp is not.
            volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
          }],
          volumes: [{ name: 'tmp', emptyDir: {} }],
        },
      },
    },
  };
}

/** The Service in front of the controllers' Prometheus endpoint (every replica serves metrics). */
export function metricsService(options: { namespace: string }): ServiceObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: METRICS_SERVICE_NAME, namespace: options.namespace, labels: commonLabels() },
    spec: {
      selector: selectorLabels(),
      ports: [{ name: 'metrics', port: METRICS_PORT, targetPort: 'metrics', protocol: 'TCP' }],
    },
  };
}
