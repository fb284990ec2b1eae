import { describe, expect, it } from 'vitest';
import type { CanaryStrategy } from '../../documents/schema.js';
import { GuardQueryError, guardQueryProblem, revisionQueries, type RevisionQueryTarget } from './traffic-queries.js';

const istio: CanaryStrategy = { trafficRouting: { istio: { virtualService: { name: 'web' } } }, canaryService: 'web-canary', stableService: 'web-stable' };
const nginx: CanaryStrategy = { trafficRouting: { nginx: { stableIngresses: ['web', 'web.v2'] } } };
const gateway: CanaryStrategy = { trafficRouting: { plugins: { 'argoproj-labs/gatewayAPI': { httpRoute: 'web' } } }, canaryService: 'web-canary', stableService: 'web-stable' };
const gatewayTemplates: CanaryStrategy = {
  ...gateway,
  guard: { prometheus: { requests: 'sum(envoy_rq{ns="{{namespace}}",svc="{{service}}"})', errors: 'sum(envoy_rq{ns="{{namespace}}",svc="{{service}}",code=~"5.."})', latencyBuckets: 'sum by (le) (envoy_rq_time_bucket{svc="{{service}}"})', latencyUnit: 'milliseconds' } },
};
const at = (side: 'canary' | 'stable', revision = 'abc123'): RevisionQueryTarget => ({ namespace: 'shop', rollout: 'web', revision, side });
const ISTIO_SEL = 'reporter="destination",destination_workload_namespace="shop",destination_canonical_revision="abc123"';
const NGINX_SEL = (op: string) => `namespace="shop",ingress=~"web|web\\\\.v2",canary${op}""`;

describe('revisionQueries: the PromQL per traffic provider', () => {
  it.each([
    ['istio requests, canary', istio, 'canary', 'requests', `sum(istio_requests_total{${ISTIO_SEL}})`],
    ['istio errors, stable (the revision tells the side)', istio, 'stable', 'errors', `sum(istio_requests_total{${ISTIO_SEL},response_code=~"5.."})`],
    ['istio latency in ms', istio, 'canary', 'latencyBuckets', `sum by (le) (istio_request_duration_milliseconds_bucket{${ISTIO_SEL}})`],
    ['nginx canary requests (served by the alternative backend)', nginx, 'canary', 'requests', `sum(nginx_ingress_controller_requests{${NGINX_SEL('!=')}})`],
    ['nginx stable errors (the main backend)', nginx, 'stable', 'errors', `sum(nginx_ingress_controller_requests{${NGINX_SEL('=')},status=~"5.."})`],
    ['nginx latency in seconds', nginx, 'stable', 'latencyBuckets', `sum by (le) (nginx_ingress_controller_request_duration_seconds_bucket{${NGINX_SEL('=')}})`],
    ['gateway template, canary Service', gatewayTemplates, 'canary', 'requests', 'sum(envoy_rq{ns="shop",svc="web-canary"})'],
    ['gateway template, stable Service', gatewayTemplates, 'stable', 'errors', 'sum(envoy_rq{ns="shop",svc="web-stable",code=~"5.."})'],
  ] as const)('%s', (_name, strategy, side, field, want) => {
    expect(revisionQueries(strategy, at(side))[field]).toBe(want);
  });

  it.each([
    ['istio', istio, 'milliseconds'],
    ['nginx', nginx, 'seconds'],
    ['gateway template', gatewayTemplates, 'milliseconds'],
  ] as const)('latency unit of %s', (_name, strategy, unit) => {
    expect(revisionQueries(strategy, at('canary')).latencyUnit).toBe(unit);
  });

  it('escapes quotes in values filled into a template', () => {
    const s: CanaryStrategy = { ...gateway, guard: { prometheus: { requests: 'sum(x{r="{{revision}}"})', errors: 'sum(y{r="{{revision}}"})' } } };
    expect(revisionQueries(s, at('canary', 'a"b')).requests).toBe('sum(x{r="a\\"b"})');
  });

  it('a template without latencyBuckets judges no latency', () => {
    const s: CanaryStrategy = { ...istio, guard: { prometheus: { requests: 'sum(x{r="{{revision}}"})', errors: 'sum(y{r="{{revision}}"})' } } };
    expect(revisionQueries(s, at('canary')).latencyBuckets).toBeUndefined();
  });
});

describe('guardQueryProblem: a guard that cannot be fed says why', () => {
  it.each([
    ['istio', istio, undefined],
    ['nginx', nginx, undefined],
    ['gateway with templates', gatewayTemplates, undefined],
    ['gateway without templates', gateway, /Gateway API implementations export no common request metric; set requests and errors/],
    ['service selector only', { canaryService: 'a', stableService: 'b' }, /route through one, set guard\.prometheus\.requests and errors, or set enabled: false/],
    ['unknown placeholder', { ...gateway, guard: { prometheus: { requests: 'x{a="{{revison}}"}', errors: 'y{a="{{revision}}"}' } } }, /guard\.prometheus\.requests: unknown placeholder \{\{revison\}\}/],
    ['requests without errors', { ...gateway, guard: { prometheus: { requests: 'x{a="{{revision}}"}' } } }, /guard\.prometheus\.errors: requests and errors are given together/],
    ['no side placeholder', { ...gateway, guard: { prometheus: { requests: 'sum(x)', errors: 'sum(y{a="{{revision}}"})' } } }, /requests: names neither \{\{revision\}\} nor \{\{service\}\}/],
    ['{{service}} without Services', { trafficRouting: gateway.trafficRouting, guard: { prometheus: { requests: 'x{s="{{service}}"}', errors: 'y{s="{{service}}"}' } } }, /\{\{service\}\} needs strategy\.canary\.canaryService and stableService/],
    ['bad address', { ...istio, guard: { prometheus: { address: 'prometheus:9090' } } }, /address: "prometheus:9090" is not an http\(s\) URL/],
  ] as const)('%s', (_name, strategy, want) => {
    const problem = guardQueryProblem(strategy);
    if (want === undefined) expect(problem).toBeUndefined();
    else expect(problem).toMatch(want);
  });

  it('revisionQueries throws the problem as a GuardQueryError', () => {
    expect(() => revisionQueries(gateway, at('canary'))).toThrow(GuardQueryError);
  });
});
