/**
 * The one schema source for graylane's documents. From it come the TypeScript types (`Static`),
 * runtime validation (Ajv over the same JSON Schema) and the JSON Schema printed by
 * `graylane schema` (also the CRD `openAPIV3Schema`). Field names and meanings follow Argo Rollouts.
 */
import { Type, type Static, type TSchema, type TProperties, type ObjectOptions } from '@sinclair/typebox';

export const API_VERSION = 'graylane.dev/v1alpha1';
export const ARGO_API_VERSION = 'argoproj.io/v1alpha1';

/** A closed object: unknown fields are errors, never silently dropped. */
export const Closed = <T extends TProperties>(properties: T, options: ObjectOptions = {}) =>
  Type.Object(properties, { additionalProperties: false, ...options });

/** `30s`, `5m`, `1h`, `250ms`, or a bare number of seconds (as a number or a string). */
export const Duration = Type.Union(
  [
    Type.Integer({ minimum: 0 }),
    Type.String({ pattern: '^[0-9]+(ms|s|m|h)?$', description: 'a duration: 30s, 5m, 1h, 250ms or seconds' }),
  ],
  { description: 'a duration: 30s, 5m, 1h, 250ms or a number of seconds' },
);

/** An absolute count or a percentage string, as Kubernetes' IntOrString (`1`, `25%`). */
export const IntOrPercent = Type.Union(
  [Type.Integer({ minimum: 0 }), Type.String({ pattern: '^[0-9]+%$', description: 'a percentage such as 25%' })],
  { description: 'a count or a percentage such as 25%' },
);

export const Metadata = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', description: 'a DNS label: lower case letters, digits and -' }),
    namespace: Type.Optional(Type.String()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
  },
  // Kubernetes adds its own bookkeeping fields (uid, resourceVersion, …); they are not user input.
  { additionalProperties: true },
);

export const StringMatch = Closed(
  {
    exact: Type.Optional(Type.String()),
    prefix: Type.Optional(Type.String()),
    regex: Type.Optional(Type.String()),
  },
  { minProperties: 1, maxProperties: 1, description: 'exactly one of exact, prefix, regex' },
);

// ---------------------------------------------------------------------------------------------
// Analysis references (used by steps and strategies)

export const AnalysisArg = Closed({
  name: Type.String({ minLength: 1 }),
  value: Type.Optional(Type.String()),
  valueFrom: Type.Optional(
    Closed({
      podTemplateHashValue: Type.Optional(Type.Union([Type.Literal('Stable'), Type.Literal('Latest')])),
      fieldRef: Type.Optional(Closed({ fieldPath: Type.String() })),
      secretKeyRef: Type.Optional(Closed({ name: Type.String(), key: Type.String() })),
    }),
  ),
});

export const AnalysisTemplateRef = Closed({
  templateName: Type.String({ minLength: 1 }),
  clusterScope: Type.Optional(Type.Boolean()),
});

export const RolloutAnalysis = Closed({
  templates: Type.Array(AnalysisTemplateRef, { minItems: 1 }),
  args: Type.Optional(Type.Array(AnalysisArg)),
  dryRun: Type.Optional(Type.Array(Closed({ metricName: Type.String() }))),
});

export const BackgroundAnalysis = Closed({
  templates: Type.Array(AnalysisTemplateRef, { minItems: 1 }),
  args: Type.Optional(Type.Array(AnalysisArg)),
  startingStep: Type.Optional(Type.Integer({ minimum: 0 })),
  dryRun: Type.Optional(Type.Array(Closed({ metricName: Type.String() }))),
});

// ---------------------------------------------------------------------------------------------
// Canary steps: each step is an object with exactly one of these keys.

export const HeaderRouteMatch = Closed({
  headerName: Type.Optional(Type.String({ minLength: 1 })),
  headerValue: Type.Optional(StringMatch),
  /** graylane extension: match a cookie's value instead of a header's. */
  cookieName: Type.Optional(Type.String({ minLength: 1 })),
  cookieValue: Type.Optional(StringMatch),
});

export const MirrorRouteMatch = Closed({
  method: Type.Optional(StringMatch),
  path: Type.Optional(StringMatch),
  headers: Type.Optional(Type.Record(Type.String(), StringMatch)),
});

export const SetWeightStep = Closed({
  setWeight: Type.Integer({ minimum: 0, description: 'the canary\'s share of traffic: percent, or out of trafficRouting.maxTrafficWeight (without trafficRouting: its share of replicas, in percent)' }),
});
export const PauseStep = Closed({
  pause: Closed({ duration: Type.Optional(Duration) }, { description: 'wait for the duration, or until promoted when there is none' }),
});
export const AnalysisStep = Closed({ analysis: RolloutAnalysis });
export const SetCanaryScaleStep = Closed({
  setCanaryScale: Closed(
    {
      weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
      replicas: Type.Optional(Type.Integer({ minimum: 0 })),
      matchTrafficWeight: Type.Optional(Type.Boolean()),
    },
    { minProperties: 1, maxProperties: 1, description: 'size the canary apart from its traffic: exactly one of weight, replicas, matchTrafficWeight' },
  ),
});
export const SetHeaderRouteStep = Closed({
  setHeaderRoute: Closed({
    name: Type.String({ minLength: 1 }),
    match: Type.Optional(Type.Array(HeaderRouteMatch)),
  }),
});
export const SetMirrorRouteStep = Closed({
  setMirrorRoute: Closed({
    name: Type.String({ minLength: 1 }),
    percentage: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    match: Type.Optional(Type.Array(MirrorRouteMatch)),
  }),
});

export const CanaryStep = Type.Union(
  [SetWeightStep, PauseStep, AnalysisStep, SetCanaryScaleStep, SetHeaderRouteStep, SetMirrorRouteStep],
  { description: 'one of setWeight, pause, analysis, setCanaryScale, setHeaderRoute, setMirrorRoute' },
);

// ---------------------------------------------------------------------------------------------
// Traffic routing

/** A VirtualService whose weights a rollout sets, with the routes in it that carry them (Argo's field names). */
export const IstioVirtualService = Closed({
  name: Type.String(),
  routes: Type.Optional(Type.Array(Type.String(), { description: 'names of the HTTP routes to split; none: the only HTTP route, or the first unnamed one' })),
  tlsRoutes: Type.Optional(Type.Array(Closed({
    port: Type.Optional(Type.Integer({ minimum: 0 })),
    sniHosts: Type.Optional(Type.Array(Type.String())),
  }), { description: 'TLS routes to split, each found by the one port and the SNI hosts its matches name' })),
  tcpRoutes: Type.Optional(Type.Array(Closed({
    port: Type.Optional(Type.Integer({ minimum: 0 })),
  }), { description: 'TCP routes to split, each found by the one port its matches name' })),
});

/** Gateway API routes a rollout weighs: graylane's spelling of Argo's `plugins."argoproj-labs/gatewayAPI"` block, same fields. */
const GatewayApiRouteRef = Closed({
  name: Type.String({ minLength: 1 }),
  useHeaderRoutes: Type.Optional(Type.Boolean({ description: 'header and mirror routes are added to this route' })),
});
export const GatewayApiRouting = Closed({
  httpRoute: Type.Optional(Type.String({ minLength: 1, description: 'the HTTPRoute whose backendRef weights are set (takes header and mirror routes)' })),
  httpRoutes: Type.Optional(Type.Array(GatewayApiRouteRef)),
  grpcRoute: Type.Optional(Type.String({ minLength: 1, description: 'the GRPCRoute whose backendRef weights are set (takes header routes)' })),
  grpcRoutes: Type.Optional(Type.Array(GatewayApiRouteRef)),
  namespace: Type.Optional(Type.String({ minLength: 1, description: 'the routes\' namespace (default: the Rollout\'s)' })),
}, { description: 'Gateway API routing: the same block as Argo’s plugins."argoproj-labs/gatewayAPI"; name one of the two' });

export const TrafficRouting = Closed({
  /** graylane's own router (single host); the default when nothing else is named. */
  builtin: Type.Optional(Closed({})),
  nginx: Type.Optional(
    Closed({
      stableIngress: Type.Optional(Type.String()),
      stableIngresses: Type.Optional(Type.Array(Type.String())),
      annotationPrefix: Type.Optional(Type.String()),
      additionalIngressAnnotations: Type.Optional(Type.Record(Type.String(), Type.String())),
      canaryIngressAnnotations: Type.Optional(Type.Record(Type.String(), Type.String())),
    }),
  ),
  istio: Type.Optional(
    Closed({
      virtualService: Type.Optional(IstioVirtualService),
      virtualServices: Type.Optional(Type.Array(IstioVirtualService)),
      destinationRule: Type.Optional(
        Closed({ name: Type.String(), canarySubsetName: Type.String(), stableSubsetName: Type.String() }),
      ),
    }),
  ),
  /** Gateway API through Argo's plugin name, kept so Argo manifests load as they are. */
  plugins: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  gatewayAPI: Type.Optional(GatewayApiRouting),
  managedRoutes: Type.Optional(Type.Array(Closed({ name: Type.String() }))),
  maxTrafficWeight: Type.Optional(Type.Integer({ minimum: 1, description: 'the scale every weight (setWeight, set weight) is on, as the traffic router is given it (Argo’s); default 100: percent' })),
});

// ---------------------------------------------------------------------------------------------
// The guard: continuous canary-versus-stable judgement behind the built-in router

/** Where the guard reads a revision's counters on Kubernetes (nothing there counts requests but the data plane). */
export const GuardPrometheus = Closed(
  {
    address: Type.Optional(Type.String({ description: 'Prometheus base URL for this rollout; default: the controller’s --prometheus-url' })),
    requests: Type.Optional(Type.String({ description: 'PromQL giving one revision’s cumulative requests (a counter, summed to one series); placeholders {{namespace}}, {{rollout}}, {{revision}}, {{service}} (the Service in front of that revision); default: the traffic provider’s query (needed with gatewayAPI)' })),
    errors: Type.Optional(Type.String({ description: 'PromQL giving one revision’s cumulative server errors (5xx), same placeholders; default: the traffic provider’s query (needed with gatewayAPI)' })),
    latencyBuckets: Type.Optional(Type.String({ description: 'PromQL giving one revision’s cumulative latency histogram buckets, one series per `le`, same placeholders; optional: without it latency is not judged' })),
    latencyUnit: Type.Optional(Type.Union([Type.Literal('seconds'), Type.Literal('milliseconds')], { description: 'unit of the `le` bounds of latencyBuckets (default seconds)' })),
  },
  { description: 'the guard’s Prometheus on Kubernetes, and query templates in place of the traffic provider’s defaults' },
);

export const GuardSpec = Closed(
  {
    enabled: Type.Optional(Type.Boolean({ description: 'judge the canary continuously against stable (default true behind the built-in router)' })),
    alpha: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 0.5, description: 'probability of ever aborting a canary no worse than the margins, over the whole rollout (default 0.001)' })),
    minRequests: Type.Optional(Type.Integer({ minimum: 0, description: 'canary and stable requests before the guard reports Healthy rather than Inconclusive (default 50)' })),
    errorRateMargin: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'canary error rate above stable’s by more than this fraction aborts (default 0.01 = 1 point)' })),
    latencyQuantile: Type.Optional(Type.Number({ minimum: 0.5, exclusiveMaximum: 1, description: 'stable latency quantile the slow threshold is built on (default 0.9)' })),
    latencyFactor: Type.Optional(Type.Number({ minimum: 1, description: 'slow threshold = this × stable’s latency quantile (default 1.5)' })),
    latencyMargin: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'canary share of slow requests above stable’s by more than this aborts (default 0.02)' })),
    latencyReferenceRequests: Type.Optional(Type.Integer({ minimum: 1, description: 'stable requests the slow threshold is fixed from: the router’s last minute of stable traffic when it holds that many, else stable’s first requests once the canary runs (default 200)' })),
    restartEverySeconds: Type.Optional(Type.Integer({ minimum: 1, description: 'seconds between fresh sequential tests, so late failures are caught fast (default 10)' })),
    minCanaryRequests: Type.Optional(Type.Integer({ minimum: 0, description: 'requests the canary must serve during a timed pause step before the step ends: a pause whose time is up waits for them, up to progressDeadlineSeconds; a step that ends with fewer is reported as "promoted without evidence" (default 0: never wait)' })),
    prometheus: Type.Optional(GuardPrometheus),
  },
  { description: 'continuous canary-versus-stable judgement on error rate and latency' },
);

// ---------------------------------------------------------------------------------------------
// Strategies

export const CanaryStrategy = Closed({
  steps: Type.Optional(Type.Array(CanaryStep, { description: 'the canary steps, in order; none means a rolling update' })),
  maxSurge: Type.Optional(IntOrPercent),
  maxUnavailable: Type.Optional(IntOrPercent),
  trafficRouting: Type.Optional(TrafficRouting),
  dynamicStableScale: Type.Optional(Type.Boolean({ description: 'scale the stable down as the canary takes traffic (needs trafficRouting)' })),
  minPodsPerReplicaSet: Type.Optional(Type.Integer({ minimum: 1, description: 'behind trafficRouting, a revision with any instances has at least this many (at most replicas)' })),
  abortScaleDownDelaySeconds: Type.Optional(Type.Integer({ minimum: 0, description: 'after an abort, keep the canary up this long before scaling it down; default 30' })),
  scaleDownDelaySeconds: Type.Optional(Type.Integer({ minimum: 0, description: 'after promotion, keep the old stable up this long (clients still pinned to it); default 30' })),
  scaleDownDelayRevisionLimit: Type.Optional(Type.Integer({ minimum: 0, description: 'old revisions kept running during their scale-down delay' })),
  analysis: Type.Optional(BackgroundAnalysis),
  guard: Type.Optional(GuardSpec),
  canaryService: Type.Optional(Type.String({ description: 'Kubernetes Service graylane points at the canary pods' })),
  stableService: Type.Optional(Type.String({ description: 'Kubernetes Service graylane points at the stable pods' })),
});

export const BlueGreenStrategy = Closed({
  activeService: Type.Optional(Type.String({ description: 'Kubernetes Service that serves users (required on Kubernetes)' })),
  previewService: Type.Optional(Type.String({ description: 'Kubernetes Service that reaches the new revision before promotion' })),
  allowPreviewHeader: Type.Optional(Type.Boolean({ description: 'behind the built-in router, requests with the header `x-graylane-preview: 1` or the cookie `graylane-preview=<service>` reach the preview revision before promotion (users stay on the active one); default false' })),
  autoPromotionEnabled: Type.Optional(Type.Boolean({ description: 'promote as soon as the new revision is ready; default true' })),
  autoPromotionSeconds: Type.Optional(Type.Integer({ minimum: 0, description: 'promote automatically this long after the new revision is ready' })),
  scaleDownDelaySeconds: Type.Optional(Type.Integer({ minimum: 0, description: 'keep the old revision up this long after promotion; default 30' })),
  scaleDownDelayRevisionLimit: Type.Optional(Type.Integer({ minimum: 0, description: 'old revisions kept running during their scale-down delay' })),
  previewReplicaCount: Type.Optional(Type.Integer({ minimum: 0, description: 'instances of the new revision before promotion; default all' })),
  prePromotionAnalysis: Type.Optional(RolloutAnalysis),
  postPromotionAnalysis: Type.Optional(RolloutAnalysis),
  abortScaleDownDelaySeconds: Type.Optional(Type.Integer({ minimum: 0, description: 'after an abort, keep the new revision up this long; default 30' })),
});

export const Strategy = Closed(
  {
    canary: Type.Optional(CanaryStrategy),
    blueGreen: Type.Optional(BlueGreenStrategy),
  },
  { minProperties: 1, maxProperties: 1, description: 'exactly one of canary, blueGreen' },
);

// ---------------------------------------------------------------------------------------------
// Hooks: commands (single host) or Jobs (Kubernetes) that gate a rollout, for database changes

/** A hook's Job on Kubernetes, as a Job's own fields. */
export const HookJob = Closed(
  {
    metadata: Type.Optional(Type.Object({}, { additionalProperties: true })),
    spec: Type.Object({}, { additionalProperties: true, description: 'a Kubernetes JobSpec' }),
  },
  { description: 'run this Job instead of one made from the new revision\'s pod template (Kubernetes only)' },
);

/** One hook: a command run once; exit 0 passes, anything else (or the timeout) fails. */
export const Hook = Closed(
  {
    command: Type.Optional(Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: 'argv, run without a shell. Single host: with the new revision\'s environment (its process env, plus GRAYLANE_SERVICE, GRAYLANE_REVISION, GRAYLANE_HOOK) in its working directory. Kubernetes: in a Job made from the new revision\'s pod template, its first container\'s command replaced by this',
    })),
    env: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String(), { additionalProperties: false, description: 'added to the command\'s environment' })),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, description: 'past this the hook is stopped and fails; default 600' })),
    job: Type.Optional(HookJob),
  },
  { description: 'exactly one of command, job' },
);

/** The hooks of a rollout, by when they run. */
export const Hooks = Closed(
  {
    preRollout: Type.Optional(Hook),
    prePromotion: Type.Optional(Hook),
    postPromotion: Type.Optional(Hook),
  },
  {
    description: 'commands (single host) or Jobs (Kubernetes) for changes the new revision needs, such as database migrations. preRollout runs before the new revision starts or gets any traffic; prePromotion before the last switch to all traffic; both abort the rollout when they fail. postPromotion runs once the new revision is stable; its failure marks the rollout Degraded (traffic stays on the new revision). Hooks run again on retry, not on a rollback to an earlier revision, and also with promote --full',
  },
);

// ---------------------------------------------------------------------------------------------
// Rollout

/** A Kubernetes PodTemplateSpec; checked field by field against the Kubernetes schema. */
export const PodTemplate = Type.Object({}, { additionalProperties: true, description: 'a Kubernetes PodTemplateSpec' });

/** Argo's `workloadRef`: the pod template comes from an existing Deployment instead of `template`. */
export const WorkloadRef = Closed(
  {
    apiVersion: Type.String({ minLength: 1 }),
    kind: Type.String({ minLength: 1 }),
    name: Type.String({ minLength: 1 }),
    scaleDown: Type.Optional(Type.Union([Type.Literal('never'), Type.Literal('onsuccess'), Type.Literal('progressively')])),
  },
  { description: 'take the pod template from this workload (a Deployment) instead of template; Kubernetes only' },
);

/** Argo's `rollbackWindow`: a rollback to a recent revision skips the steps. */
export const RollbackWindow = Closed(
  { revisions: Type.Integer({ minimum: 0, description: 'how many of the latest revisions, the stable one included, a rollback skips the steps to (3: from #5 back to #4 or #3); 0 turns the window off' }) },
  { description: 'going back to a recent revision skips steps, pauses and analyses: it comes up at full size, then takes all traffic at once. A revision whose instances are still up (inside scaleDownDelaySeconds) is switched back to at once with or without it' },
);

export const RolloutSpec = Closed({
  replicas: Type.Optional(Type.Integer({ minimum: 0, description: 'desired instances; default 1' })),
  selector: Type.Optional(
    Type.Object({ matchLabels: Type.Optional(Type.Record(Type.String(), Type.String())) }, { additionalProperties: true }),
  ),
  template: Type.Optional(PodTemplate),
  workloadRef: Type.Optional(WorkloadRef),
  strategy: Strategy,
  minReadySeconds: Type.Optional(Type.Integer({ minimum: 0, description: 'seconds an instance must stay ready to count as available' })),
  progressDeadlineSeconds: Type.Optional(Type.Integer({ minimum: 1, description: 'a rollout making no progress for this long is Degraded; default 600' })),
  progressDeadlineAbort: Type.Optional(Type.Boolean({ description: 'abort (traffic back to stable) when the progress deadline passes' })),
  revisionHistoryLimit: Type.Optional(Type.Integer({ minimum: 0, description: 'old revisions kept for undo; default 10' })),
  paused: Type.Optional(Type.Boolean({ description: 'hold the rollout where it is' })),
  restartAt: Type.Optional(Type.String()),
  rollbackWindow: Type.Optional(RollbackWindow),
  hooks: Type.Optional(Hooks),
  analysis: Type.Optional(Closed({
    successfulRunHistoryLimit: Type.Optional(Type.Integer({ minimum: 0, description: 'Successful AnalysisRuns kept on Kubernetes; default 5' })),
    unsuccessfulRunHistoryLimit: Type.Optional(Type.Integer({ minimum: 0, description: 'Failed, Error and Inconclusive AnalysisRuns kept on Kubernetes; default 5' })),
  }, { description: 'how many ended AnalysisRuns are kept, as Argo Rollouts' })),
});

export const Rollout = Closed({
  apiVersion: Type.Union([Type.Literal(API_VERSION), Type.Literal(ARGO_API_VERSION)]),
  kind: Type.Literal('Rollout'),
  metadata: Metadata,
  spec: RolloutSpec,
  status: Type.Optional(Type.Unknown()),
});

// ---------------------------------------------------------------------------------------------
// AnalysisTemplate

export const PrometheusProvider = Closed({
  address: Type.String({ minLength: 1 }),
  query: Type.String({ minLength: 1 }),
  timeout: Type.Optional(Type.Integer({ minimum: 1, description: 'seconds' })),
  insecure: Type.Optional(Type.Boolean()),
  headers: Type.Optional(Type.Array(Closed({ key: Type.String(), value: Type.String() }))),
  authentication: Type.Optional(Type.Unknown()),
});

export const WebProvider = Closed({
  url: Type.String({ minLength: 1 }),
  method: Type.Optional(Type.Union([Type.Literal('GET'), Type.Literal('POST'), Type.Literal('PUT')])),
  headers: Type.Optional(Type.Array(Closed({ key: Type.String(), value: Type.String() }))),
  body: Type.Optional(Type.String()),
  jsonBody: Type.Optional(Type.Unknown()),
  timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
  jsonPath: Type.Optional(Type.String()),
  insecure: Type.Optional(Type.Boolean()),
});

export const BuiltinProvider = Closed({
  /** What to measure from graylane's router for the canary (and stable, for comparisons). */
  metric: Type.Union([
    Type.Literal('successRate'),
    Type.Literal('errorRate'),
    Type.Literal('latencyP50'),
    Type.Literal('latencyP90'),
    Type.Literal('latencyP99'),
    Type.Literal('requestRate'),
  ]),
  revision: Type.Optional(Type.Union([Type.Literal('canary'), Type.Literal('stable'), Type.Literal('both')])),
  window: Type.Optional(Duration),
  service: Type.Optional(Type.String()),
});

export const CommandProvider = Closed({
  command: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  env: Type.Optional(Type.Record(Type.String(), Type.String())),
  timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
});

/** Argo's job provider: a Kubernetes Job whose success or failure is the measurement. */
export const JobProvider = Closed(
  {
    metadata: Type.Optional(Type.Object({}, { additionalProperties: true })),
    spec: Type.Object({}, { additionalProperties: true, description: 'a Kubernetes JobSpec' }),
  },
  { description: 'run a Kubernetes Job: it succeeding is Successful, failing is Failed (Kubernetes only)' },
);

export const MetricProvider = Closed(
  {
    prometheus: Type.Optional(PrometheusProvider),
    web: Type.Optional(WebProvider),
    builtin: Type.Optional(BuiltinProvider),
    command: Type.Optional(CommandProvider),
    job: Type.Optional(JobProvider),
  },
  { minProperties: 1, maxProperties: 1, description: 'exactly one provider' },
);

/** A metric's duration, or an `{{args.name}}` the run fills in (checked then), as Argo allows. */
const MetricDuration = Type.Union(
  [...Duration.anyOf, Type.String({ pattern: '\\{\\{\\s*args\\.[^}]+\\}\\}' })],
  { description: 'a duration: 30s, 5m, 1h, 250ms or a number of seconds; or {{args.name}}' },
);

export const Metric = Closed({
  name: Type.String({ minLength: 1 }),
  provider: MetricProvider,
  successCondition: Type.Optional(Type.String({ description: 'expression over `result`; true means Successful' })),
  failureCondition: Type.Optional(Type.String({ description: 'expression over `result`; true means Failed' })),
  interval: Type.Optional(MetricDuration),
  initialDelay: Type.Optional(MetricDuration),
  count: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.String()])),
  failureLimit: Type.Optional(Type.Union([Type.Integer({ minimum: -1 }), Type.String()])),
  inconclusiveLimit: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.String()])),
  consecutiveErrorLimit: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.String()])),
});

export const AnalysisTemplateSpec = Closed({
  args: Type.Optional(Type.Array(AnalysisArg)),
  metrics: Type.Array(Metric, { minItems: 1, description: 'what to measure and how to judge it' }),
  dryRun: Type.Optional(Type.Array(Closed({ metricName: Type.String() }))),
  measurementRetention: Type.Optional(Type.Array(Closed({ metricName: Type.String(), limit: Type.Integer({ minimum: 1 }) }))),
});

/** An AnalysisRun's spec: a template's, args resolved, plus Argo's `terminate` (stop measuring, keep the verdict so far). */
export const AnalysisRunSpec = Closed({
  ...AnalysisTemplateSpec.properties,
  terminate: Type.Optional(Type.Boolean({ description: 'stop the run: no more measurements, the phase is decided from what was measured' })),
});

export const AnalysisTemplate = Closed({
  apiVersion: Type.Union([Type.Literal(API_VERSION), Type.Literal(ARGO_API_VERSION)]),
  kind: Type.Union([Type.Literal('AnalysisTemplate'), Type.Literal('ClusterAnalysisTemplate')]),
  metadata: Metadata,
  spec: AnalysisTemplateSpec,
});

// ---------------------------------------------------------------------------------------------
// App: the single-host file

export const HttpProbe = Closed({
  httpGet: Closed({ path: Type.String({ pattern: '^/', description: 'a path starting with /' }), port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })) }),
  initialDelaySeconds: Type.Optional(Type.Integer({ minimum: 0 })),
  periodSeconds: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  timeoutSeconds: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  failureThreshold: Type.Optional(Type.Integer({ minimum: 1 })),
  successThreshold: Type.Optional(Type.Integer({ minimum: 1 })),
});

export const ProcessTemplate = Closed({
  command: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'argv; run without a shell' }),
  cwd: Type.Optional(Type.String({ description: 'relative to the App file' })),
  env: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String(), {
    additionalProperties: false,
    description: 'the process environment: these, PATH, HOME, LANG, LC_*, TZ from the daemon, and PORT, GRAYLANE_SERVICE, GRAYLANE_REVISION, GRAYLANE_INSTANCE set by graylane',
  })),
  inheritEnv: Type.Optional(Type.Boolean({ description: 'pass the daemon’s whole environment (its secrets included) to the process, under env; default false' })),
  readinessProbe: Type.Optional(HttpProbe),
  livenessProbe: Type.Optional(HttpProbe),
  terminationGracePeriodSeconds: Type.Optional(Type.Integer({ minimum: 0 })),
});

export const HostPort = Type.String({ pattern: '^[^:\\s]+:[0-9]{1,5}$', description: 'host:port' });

export const AppService = Closed({
  name: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', description: 'a DNS label: lower case letters, digits and -' }),
  pathPrefix: Type.Optional(Type.String({ pattern: '^/', description: 'a path starting with /' })),
  host: Type.Optional(Type.String({ minLength: 1, description: 'match the Host header too; any host when absent' })),
  replicas: Type.Optional(Type.Integer({ minimum: 0, description: 'instances to run; default 1' })),
  process: Type.Optional(ProcessTemplate),
  targets: Type.Optional(Type.Array(HostPort, { minItems: 1, description: 'addresses of instances something else runs (instead of process)' })),
  strategy: Type.Optional(Strategy),
  progressDeadlineSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
  revisionHistoryLimit: Type.Optional(Type.Integer({ minimum: 0 })),
  rollbackWindow: Type.Optional(RollbackWindow),
  hooks: Type.Optional(Hooks),
  dependsOn: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'services whose new revision must be ready before this one takes traffic (in a release)' })),
  redirectToHttps: Type.Optional(Type.Boolean({ description: 'plain-HTTP requests get 308 to the same URL on spec.router.tls (default false); read when the daemon starts' })),
});

export const ReleasePinning = Closed({
  cookie: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]+$', description: 'cookie that carries the version token in browsers (default graylane-release)' })),
  header: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9-]+$', description: 'header honoured for API clients and service-to-service calls (default x-graylane-release)' })),
  skewWindow: Type.Optional(Duration),
  abortGrace: Type.Optional(
    Type.Union(Duration.anyOf, {
      description: 'after an abort, requests of pages already loaded from the canary keep the canary this long, while it has ready instances (default 5s, at most 60s; 0: none); new page loads go to stable at once',
    }),
  ),
  allowForceHeader: Type.Optional(Type.Boolean({ description: 'let a request force a side with the header value "canary" or "stable" (default false: only tokens the router issued are honoured)' })),
  assetPattern: Type.Optional(Type.String({ minLength: 1, description: 'regular expression of hashed asset paths, whose 404s count as skew errors' })),
});

/** A release's fields apart from its name: in an App the name sits beside them, in a cluster it is the object's. */
export const ReleaseSpec = Closed({
  services: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'member services; their own strategy blocks are not used' }),
  pinning: Type.Optional(ReleasePinning),
  strategy: Strategy,
});

export const Release = Closed({
  name: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', description: 'release name; `graylane status NAME` shows it' }),
  ...ReleaseSpec.properties,
});

/** One certificate of the built-in router's HTTPS listener and the hosts it serves. */
export const RouterCertificate = Closed({
  hosts: Type.Array(Type.String({ minLength: 1, pattern: '^(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$' }), { minItems: 1, description: 'host names (shop.example.com) or one-label wildcards (*.example.com) this certificate serves; a host is named by one entry' }),
  certFile: Type.String({ minLength: 1, description: 'PEM certificate (chain may follow), relative to the App file; re-read when it changes' }),
  keyFile: Type.String({ minLength: 1, description: 'PEM private key of that certificate (no passphrase), relative to the App file; re-read when it changes' }),
});

/** The built-in router's HTTPS listener. */
export const RouterTls = Closed({
  listen: Type.String({ pattern: '^[^:\\s]+:[0-9]{1,5}$', description: 'host:port of the HTTPS listener (HTTP/2 and HTTP/1.1 by ALPN)' }),
  certificates: Type.Array(RouterCertificate, { minItems: 1, description: 'chosen by SNI; a client naming no listed host gets the first. Files are checked when the daemon starts; a changed file is reloaded within seconds, and a bad replacement keeps the old certificate' }),
}, { description: 'HTTPS for clients: certificates per host from files, HTTP/2 and HTTP/1.1; read when the daemon starts' });

/** How the built-in router treats clients: it is the edge, so these limits protect every service behind it. */
export const RouterSettings = Closed({
  maxRequestBodyBytes: Type.Optional(Type.Integer({ minimum: 0, description: 'request bodies larger than this get 413 and are charged to no revision; 0 = no limit (default 1073741824, 1 GiB)' })),
  clientHeaderTimeout: Type.Optional(Duration),
  clientBodyTimeout: Type.Optional(Duration),
  sendTimeout: Type.Optional(Duration),
  tunnelIdleTimeout: Type.Optional(Duration),
  maxClientConnections: Type.Optional(Type.Integer({ minimum: 0, description: 'client connections open at once; more are closed on accept; 0 = no limit (default 10000)' })),
  trustedProxies: Type.Optional(Type.Array(Type.String({ pattern: '^[0-9A-Fa-f.:]+(/[0-9]{1,3})?$' }), { description: 'addresses or CIDRs of proxies in front of the router whose X-Forwarded-* and Forwarded headers are kept; from anyone else they are replaced (default none: the router is the edge)' })),
  tls: Type.Optional(RouterTls),
  type: Type.Optional(Type.Union([Type.Literal('builtin'), Type.Literal('nginx')], { description: 'the data plane: builtin (graylane\'s router, the default) or nginx (Debian\'s nginx, configured and reloaded by graylane from the same route table; no releases, no client limits of the built-in router)' })),
  workers: Type.Optional(Type.Integer({ minimum: 0, maximum: 256, description: 'builtin: the router\'s worker processes, run by a supervisor process of its own (graylane up only; read when the daemon starts; default one per core): it keeps serving its last table when the daemon crashes and a restarted daemon adopts it; every worker serves tls too; the daemon serves the admin/metrics listener from the merged counters of the workers; 0: the router runs inside the daemon (one process, the least memory, but it stops serving when the daemon dies); `graylane up --router-workers` overrides it. nginx: worker_processes of the nginx graylane runs (default auto: one per core)' })),
  workerPriority: Type.Optional(Type.Integer({ minimum: -20, maximum: 19, description: 'scheduling priority (nice value, -20 first to 19 last) of the data plane\'s worker processes, as nginx\'s worker_priority: below 0 they get the CPU before the apps and the daemon when the host is busy (a rollout starting processes). On Linux their session gets it too (each app runs in a session of its own, and with autogroup, the kernel default, the CPU is shared between sessions before nice values count); needs root or CAP_SYS_NICE, else the start says it was refused and they keep the default. builtin: needs router workers (the default; not with spec.router.workers 0 or graylane up --router-workers 0, where the router runs inside the daemon, which would pass its priority to every app it starts). nginx: the nginx graylane runs (with router.nginx, set worker_priority in your nginx.conf)' })),
  nginx: Type.Optional(Closed({
    includeFile: Type.String({ minLength: 1, description: 'file graylane writes the http-level configuration to; include it inside http {} of your nginx.conf' }),
    reloadCommand: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'command run (no shell) after each write, e.g. [nginx, -s, reload] or [systemctl, reload, nginx]' }),
  }, { description: 'with type nginx: use an nginx you already run instead of one graylane starts; it must send its access log where the include file says' })),
}, {
  description: 'client limits of the built-in router. Durations: clientHeaderTimeout (whole request header, else 408; default 60s), clientBodyTimeout (no body byte for this long, else 408; default 60s), sendTimeout (a client reading none of its response for this long is disconnected; default 60s), tunnelIdleTimeout (a WebSocket/upgrade tunnel idle this long is closed; default 5m)',
});

export const LogSettings = Closed(
  {
    maxFileBytes: Type.Optional(Type.Integer({ minimum: 1024, description: 'an instance log is rotated a sixteenth before this size, and a rotated file holds at most this much (default 10485760 = 10 MiB)' })),
    keepFiles: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'rotated files kept per instance (default 3): an instance keeps at most maxFileBytes × (keepFiles + 1), plus what it writes during one rotation' })),
    retention: Type.Optional(Type.Union(Duration.anyOf, { description: 'logs of a retired instance are deleted this long after it stopped (default 24h); a duration: 30s, 5m, 1h, 250ms or seconds' })),
  },
  { description: 'instance logs: the disk cap per instance and how long retired instances keep theirs (read when the daemon starts)' },
);

/** A value read when the daemon or controller sends, so that secrets stay out of documents and logs. */
export const SecretSource = Closed({
  value: Type.Optional(Type.String({ description: 'the value itself (for what is no secret)' })),
  fromEnv: Type.Optional(Type.String({ minLength: 1, description: 'name of an environment variable of the daemon or controller holding the value' })),
  fromFile: Type.Optional(Type.String({ minLength: 1, description: 'path of a file holding the value (trailing newline dropped); relative to the working directory' })),
}, { description: 'exactly one of value, fromEnv, fromFile' });

/** The transitions a receiver can be told of. */
export const NotificationTransition = Type.Union(
  ['started', 'step', 'paused', 'promoted', 'aborted', 'degraded', 'rolled-back', 'completed'].map((t) => Type.Literal(t)),
  { description: 'started, step (a step completed), paused, promoted, aborted (the guard\'s too, with the reason), degraded (progress deadline exceeded), rolled-back, completed' },
);

export const NotificationReceiver = Closed({
  name: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_.-]+$', description: 'receiver name, used in logs and metrics (never its URL)' }),
  type: Type.Union([Type.Literal('webhook'), Type.Literal('slack'), Type.Literal('alertmanager')], { description: 'webhook (JSON), slack (incoming webhook: text and blocks) or alertmanager (POST /api/v2/alerts)' }),
  url: Type.Optional(Type.String({ pattern: '^https?://', description: 'where to POST (for alertmanager: its base URL); or urlFrom' })),
  urlFrom: Type.Optional(SecretSource),
  headers: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]+$' }), SecretSource, { description: 'extra request headers, e.g. Authorization from an environment variable' })),
  filter: Type.Optional(Closed({
    transitions: Type.Optional(Type.Array(NotificationTransition, { minItems: 1, description: 'only these transitions (default all)' })),
    services: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'only these services or releases (default all)' })),
    namespaces: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'only these namespaces (default all; a single host\'s is default)' })),
  })),
  timeout: Type.Optional(Type.Union(Duration.anyOf, { description: 'per attempt (default 5s)' })),
  retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, description: 'attempts after the first, with exponential back-off from 1s (default 3); a 429 or 503 Retry-After is honoured up to 60s' })),
});

export const Notifications = Closed({
  receivers: Type.Array(NotificationReceiver, { minItems: 1 }),
}, { description: 'where transitions of rollouts and releases are sent; a receiver that is down never holds a rollout up' });

export const AppSpec = Closed({
  listen: Type.Optional(Type.String({ pattern: '^[^:\\s]+:[0-9]{1,5}$', description: 'host:port the built-in router listens on' })),
  router: Type.Optional(RouterSettings),
  services: Type.Array(AppService, { minItems: 1 }),
  releases: Type.Optional(Type.Array(Release, { description: 'services rolled out as one, with version pinning' })),
  logs: Type.Optional(LogSettings),
  notifications: Type.Optional(Notifications),
});

export const App = Closed({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('App'),
  metadata: Metadata,
  spec: AppSpec,
});

export const KINDS = { Rollout, AnalysisTemplate, App } as const satisfies Record<string, TSchema>;
export type KindName = keyof typeof KINDS;

export type Duration = Static<typeof Duration>;
export type IntOrPercent = Static<typeof IntOrPercent>;
export type StringMatch = Static<typeof StringMatch>;
export type CanaryStep = Static<typeof CanaryStep>;
export type SetHeaderRoute = Static<typeof SetHeaderRouteStep>['setHeaderRoute'];
export type SetMirrorRoute = Static<typeof SetMirrorRouteStep>['setMirrorRoute'];
export type SetCanaryScale = Static<typeof SetCanaryScaleStep>['setCanaryScale'];
export type RolloutAnalysis = Static<typeof RolloutAnalysis>;
export type BackgroundAnalysis = Static<typeof BackgroundAnalysis>;
export type TrafficRouting = Static<typeof TrafficRouting>;
export type CanaryStrategy = Static<typeof CanaryStrategy>;
export type GuardSpec = Static<typeof GuardSpec>;
export type GuardPrometheus = Static<typeof GuardPrometheus>;
export type BlueGreenStrategy = Static<typeof BlueGreenStrategy>;
export type Strategy = Static<typeof Strategy>;
export type RolloutSpec = Static<typeof RolloutSpec>;
export type Hook = Static<typeof Hook>;
export type Hooks = Static<typeof Hooks>;
export type Rollout = Static<typeof Rollout>;
export type Metric = Static<typeof Metric>;
export type AnalysisTemplateSpec = Static<typeof AnalysisTemplateSpec>;
export type AnalysisTemplate = Static<typeof AnalysisTemplate>;
export type HttpProbe = Static<typeof HttpProbe>;
export type ProcessTemplate = Static<typeof ProcessTemplate>;
export type AppService = Static<typeof AppService>;
export type AppSpec = Static<typeof AppSpec>;
export type RouterSettings = Static<typeof RouterSettings>;
export type RouterTls = Static<typeof RouterTls>;
export type LogSettings = Static<typeof LogSettings>;
export type Release = Static<typeof Release>;
export type ReleasePinning = Static<typeof ReleasePinning>;
export type App = Static<typeof App>;
export type Notifications = Static<typeof Notifications>;
export type NotificationReceiverSpec = Static<typeof NotificationReceiver>;
export type NotificationTransition = Static<typeof NotificationTransition>;
export type SecretSource = Static<typeof SecretSource>;
