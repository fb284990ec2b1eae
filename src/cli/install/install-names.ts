/**
 * The names and labels of the objects `graylane install kubernetes` prints, in one place: the
 * manifests, the Helm chart's test and the controller's own look-ups agree on them.
 */

/** graylane's version: the default image tag. Kept equal to package.json's by a test. */
export const GRAYLANE_VERSION = '0.1.0';

/** Where the controller runs unless `--namespace` says otherwise. */
export const DEFAULT_NAMESPACE = 'graylane-system';

/** The controller image unless `--image` says otherwise. */
export const DEFAULT_IMAGE = `ghcr.io/graylane/graylane:${GRAYLANE_VERSION}`;

/** Controller replicas: two, one leader and one standby that takes the Lease over. */
export const DEFAULT_REPLICAS = 2;

/** Name of the ServiceAccount, the ClusterRole, its binding and the Deployment. */
export const CONTROLLER_NAME = 'graylane-controller';

/** Name of the namespaced Role (and binding) for the leader-election Lease. */
export const LEADER_ELECTION_NAME = 'graylane-controller-leader-election';

/** Name of the Service in front of the controller's Prometheus endpoint. */
export const METRICS_SERVICE_NAME = 'graylane-controller-metrics';

/** Port of `/healthz` and `/readyz`. */
export const HEALTH_PORT = 8080;

/** Port of Prometheus `/metrics`. */
export const METRICS_PORT = 8090;

/** The numeric user the image runs as (distroless' `nonroot`); the Dockerfile's USER matches. */
export const CONTROLLER_UID = 65532;

/** The labels the controller's pods carry and its Deployment and Service select on. */
export function selectorLabels(): Record<string, string> {
  return { 'app.kubernetes.io/name': 'graylane', 'app.kubernetes.io/component': 'controller' };
}

/** The labels every printed object carries (the CRDs carry `part-of` already). */
export function commonLabels(): Record<string, string> {
  return { ...selectorLabels(), 'app.kubernetes.io/part-of': 'graylane' };
}
