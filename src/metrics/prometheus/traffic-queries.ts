/**
 * The PromQL the guard and the `builtin` provider read on Kubernetes, per traffic provider: one
 * revision's cumulative requests, server errors (5xx) and latency histogram. Nothing on the
 * cluster counts requests but the data plane, so each query names the series that data plane
 * exports and the labels that tell the canary's requests from stable's.
 *
 * - Istio: `istio_requests_total` and `istio_request_duration_milliseconds_bucket` as reported by
 *   the destination's sidecar (`reporter="destination"`: each request once), by
 *   `destination_workload_namespace` and `destination_canonical_revision`. Istio takes the
 *   canonical revision from the pod label `service.istio.io/canonical-revision`, which graylane's
 *   ReplicaSets set to the revision (replica-set-body.ts), so the two sides are apart whether the
 *   VirtualService splits by host (canaryService/stableService) or by DestinationRule subset.
 *   (`destination_workload` does not do it: Istio names a Rollout's pods' workload after the
 *   Rollout, for both sides.)
 * - ingress-nginx: `nginx_ingress_controller_requests` and
 *   `nginx_ingress_controller_request_duration_seconds_bucket` of the stable Ingresses (the canary
 *   Ingress is merged into their locations, so requests carry the stable Ingress's name), split by
 *   the `canary` label ingress-nginx sets to the alternative backend that served a request (empty
 *   for the main backend). Checked against kubernetes/ingress-nginx (main, March 2026):
 *   internal/ingress/metric/collectors/socket.go (namespace `nginx_ingress_controller`, metrics
 *   `requests` and `request_duration_seconds`, labels status, method, path, namespace, ingress,
 *   service, canary), rootfs/etc/nginx/lua/monitor.lua (`ingress` is `$ingress_name`, `service`
 *   `$service_name`, `canary` `$proxy_alternative_upstream_name`), rootfs/etc/nginx/template/
 *   nginx.tmpl (each location sets those from its own Ingress, the stable one, and the alternative
 *   name to "") and rootfs/etc/nginx/lua/balancer.lua (which sets it to the canary upstream,
 *   `<namespace>-<service>-<port>`, when it routes there). So `service` names the stable Service
 *   on both sides and cannot tell them apart; `canary` can. `status` is the code, or its class
 *   (`5xx`) with `--report-status-classes`: `5..` matches both.
 * - Gateway API: no common metric across implementations, so the user's templates
 *   (`guard.prometheus.requests` / `errors` / `latencyBuckets`), which may also replace the
 *   defaults above.
 */
import type { CanaryStrategy } from '../../documents/schema.js';
import { fillGuardTemplate, guardTemplateProblems } from '../../documents/guard-query-template.js';

/** The traffic providers whose data plane Prometheus reads. */
export type GuardDataPlane = 'istio' | 'nginx' | 'gatewayAPI';

/** The Gateway API plugin key of `trafficRouting.plugins` (Argo's name). */
const GATEWAY_API_PLUGIN = 'argoproj-labs/gatewayAPI';

/** One side of a canary to query. */
export interface RevisionQueryTarget {
  /** The Rollout's namespace. */
  namespace: string;
  /** The Rollout's name. */
  rollout: string;
  /** The revision (pod-template hash). */
  revision: string;
  /** Which side the revision is on (picks the Service for `{{service}}` and nginx's `canary` label). */
  side: 'canary' | 'stable';
}

/** The queries of one revision. */
export interface RevisionQueries {
  /** Cumulative requests (one series, or none before the first request). */
  requests: string;
  /** Cumulative server errors (5xx). */
  errors: string;
  /** Cumulative latency buckets, one series per `le`; absent: latency is not judged. */
  latencyBuckets?: string;
  /** Unit of the `le` bounds. */
  latencyUnit: 'seconds' | 'milliseconds';
}

/** A canary whose counters cannot be queried: no known data plane and no templates, or bad templates. */
export class GuardQueryError extends Error {
  /** Stable code for callers. */
  readonly code = 'GuardQueryUnavailable';
  constructor(message: string) {
    super(message);
    this.name = 'GuardQueryError';
  }
}

/** The data plane a canary strategy routes through, or undefined (service selector, builtin). */
export function guardDataPlane(canary: Pick<CanaryStrategy, 'trafficRouting'>): GuardDataPlane | undefined {
  const r = canary.trafficRouting;
  if (r?.istio) return 'istio';
  if (r?.nginx) return 'nginx';
  if (r?.plugins?.[GATEWAY_API_PLUGIN] !== undefined) return 'gatewayAPI';
  return undefined;
}

const label = (value: string): string => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const regexAlternatives = (values: readonly string[]): string => values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');

function istioQueries(t: RevisionQueryTarget): RevisionQueries {
  const selector = `reporter="destination",destination_workload_namespace=${label(t.namespace)},destination_canonical_revision=${label(t.revision)}`;
  return {
    requests: `sum(istio_requests_total{${selector}})`,
    errors: `sum(istio_requests_total{${selector},response_code=~"5.."})`,
    latencyBuckets: `sum by (le) (istio_request_duration_milliseconds_bucket{${selector}})`,
    latencyUnit: 'milliseconds',
  };
}

function nginxQueries(canary: CanaryStrategy, t: RevisionQueryTarget): RevisionQueries {
  const nginx = canary.trafficRouting?.nginx ?? {};
  const ingresses = [...new Set([...(nginx.stableIngress !== undefined ? [nginx.stableIngress] : []), ...(nginx.stableIngresses ?? [])])];
  const selector = `namespace=${label(t.namespace)},ingress=~${label(regexAlternatives(ingresses))},canary${t.side === 'canary' ? '!=' : '='}""`;
  return {
    requests: `sum(nginx_ingress_controller_requests{${selector}})`,
    errors: `sum(nginx_ingress_controller_requests{${selector},status=~"5.."})`,
    latencyBuckets: `sum by (le) (nginx_ingress_controller_request_duration_seconds_bucket{${selector}})`,
    latencyUnit: 'seconds',
  };
}

/**
 * Why a canary strategy's guard cannot be fed from Prometheus, or undefined when it can: no data
 * plane with default queries and no templates, or templates with problems.
 */
export function guardQueryProblem(canary: CanaryStrategy): string | undefined {
  const prometheus = canary.guard?.prometheus;
  const problem = guardTemplateProblems(prometheus, canary)[0];
  if (problem) return `spec.strategy.canary.guard.prometheus.${problem.field}: ${problem.message}`;
  if (prometheus?.requests !== undefined) return undefined;
  const plane = guardDataPlane(canary);
  if (plane === 'gatewayAPI') return 'spec.strategy.canary.guard.prometheus: Gateway API implementations export no common request metric; set requests and errors (PromQL with {{namespace}}, {{rollout}}, {{revision}}, {{service}})';
  if (plane === undefined) return 'spec.strategy.canary.guard: the guard reads request counts of istio or nginx traffic routing from Prometheus; route through one, set guard.prometheus.requests and errors, or set enabled: false';
  return undefined;
}

/** The queries of one revision of a canary (the user's templates where given, else the data plane's). */
export function revisionQueries(canary: CanaryStrategy, target: RevisionQueryTarget): RevisionQueries {
  const problem = guardQueryProblem(canary);
  if (problem) throw new GuardQueryError(problem);
  const plane = guardDataPlane(canary);
  const defaults = plane === 'istio' ? istioQueries(target) : plane === 'nginx' ? nginxQueries(canary, target) : undefined;
  const templates = canary.guard?.prometheus;
  if (templates?.requests === undefined || templates.errors === undefined) {
    // guardQueryProblem returned nothing, so a data plane with defaults is there.
    return defaults!;
  }
  const values = {
    namespace: target.namespace, rollout: target.rollout, revision: target.revision,
    service: (target.side === 'canary' ? canary.canaryService : canary.stableService) ?? '',
  };
  const latency = templates.latencyBuckets;
  return {
    requests: fillGuardTemplate(templates.requests, values),
    errors: fillGuardTemplate(templates.errors, values),
    ...(latency !== undefined ? { latencyBuckets: fillGuardTemplate(latency, values) } : {}),
    latencyUnit: latency !== undefined ? templates.latencyUnit ?? 'seconds' : 'seconds',
  };
}
