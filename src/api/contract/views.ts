/**
 * The views of the API, as TypeBox schemas: the one source of the view types the CLI, the API and
 * the console show (src/view re-exports their static types), and of the OpenAPI document's
 * response schemas. A field's `description` is its documentation in both places.
 */
import { Type, type Static } from '@sinclair/typebox';

const Percent = (description: string) => Type.Number({ minimum: 0, maximum: 100, description });

/** A revision's part in a rollout. */
export const RevisionRoleSchema = Type.Union(
  [Type.Literal('stable'), Type.Literal('canary'), Type.Literal('preview'), Type.Literal('active'), Type.Literal('old')],
  { description: 'what the revision is to the rollout now' },
);

/** Rollout phases, as DESIGN.md names them. */
export const PhaseSchema = Type.Union(
  [Type.Literal('Healthy'), Type.Literal('Progressing'), Type.Literal('Paused'), Type.Literal('Degraded'), Type.Literal('Completed')],
  { description: 'rollout phase' },
);

/** One instance of a revision, as `status` shows it: why it is not ready, in its own words. */
export const InstanceViewSchema = Type.Object({
  id: Type.String({ description: 'instance id' }),
  state: Type.String({ description: 'lifecycle state (starting, ready, unready, failed, stopping)' }),
  restarts: Type.Integer({ minimum: 0, description: 'relaunches in its life (crash, liveness failure)' }),
  lastExit: Type.Optional(Type.String({ description: 'how its last process ended, in words ("exited with code 1", "killed by SIGKILL")' })),
  lastExitAtMs: Type.Optional(Type.Number({ description: 'when that was, epoch ms' })),
  lastProbe: Type.Optional(Type.Object({
    outcome: Type.Union([Type.Literal('pass'), Type.Literal('fail'), Type.Literal('pending')], { description: 'pending: nothing listens yet' }),
    detail: Type.String({ description: 'what the check saw' }),
    atMs: Type.Number({ description: 'when it ran, epoch ms' }),
  }, { description: 'the last readiness check' })),
  lastError: Type.Optional(Type.String({ description: 'the last thing that went wrong, in a sentence (may span lines: the app\'s last output)' })),
});

/** Live figures of one revision of a service. */
export const RevisionLiveViewSchema = Type.Object({
  name: Type.String({ description: 'revision name (short hash); of a release, "member revision"' }),
  number: Type.Integer({ minimum: 0, description: '1, 2, 3 … as `graylane history` numbers them' }),
  role: RevisionRoleSchema,
  weight: Percent('percentage of traffic it receives by weight (matches aside)'),
  ready: Type.Integer({ minimum: 0, description: 'instances that are ready' }),
  total: Type.Integer({ minimum: 0, description: 'instances desired or running' }),
  requestsPerSecond: Type.Number({ minimum: 0, description: 'requests per second over the last 10 s, from the router' }),
  errorRate: Type.Number({ minimum: 0, description: 'fraction of responses that were errors (5xx and upstream failures) over the last 10 s' }),
  p99Ms: Type.Union([Type.Number(), Type.Null()], { description: 'p99 latency in ms over the last 10 s; null without traffic' }),
  fallbacks: Type.Number({ minimum: 0, description: 'requests meant for this revision that went to the other side over the last 10 s, because it had no ready instance' }),
  // Optional: a daemon started by an earlier graylane does not send it, and its views still read.
  unreadyServed: Type.Optional(Type.Number({ minimum: 0, description: 'within-page requests of a release pinned to this revision that its running but unready instances served over the last 10 s, because it had no ready instance (rather than the other version); absent from a daemon of an earlier version' })),
  member: Type.Optional(Type.String({ description: 'of a release: the member service this revision belongs to' })),
  instances: Type.Array(InstanceViewSchema, { description: 'its instances (not stopped), with what each went through' }),
});

/** A header or mirror route in force. */
export const RouteViewSchema = Type.Object({
  kind: Type.Union([Type.Literal('header'), Type.Literal('mirror')], { description: 'header: matching requests go to the canary; mirror: a copy goes to the canary' }),
  name: Type.String({ description: 'the route\'s name as the step gives it; of a release, "member/name"' }),
  description: Type.String({ description: 'one line for people, e.g. "header route beta: header x-beta=1 → canary"' }),
});

/** Analysis state in brief. */
export const AnalysisBriefViewSchema = Type.Object({
  name: Type.String({ description: 'run name' }),
  phase: Type.String({ description: 'run phase' }),
  message: Type.Optional(Type.String({ description: 'last message' })),
});

/** The guard's latest verdict on the canary being judged. */
export const GuardVerdictViewSchema = Type.Object({
  verdict: Type.String({ description: 'Healthy, Inconclusive or Failed' }),
  reason: Type.String({ description: 'why, in a sentence' }),
});

/** What a release's canary really got, beside the weight set. */
export const ReleaseTrafficViewSchema = Type.Object({
  weight: Percent('the weight in force for page loads (0 after an abort, 100 once promoted)'),
  windowMs: Type.Number({ minimum: 0, description: 'the window counted, ms' }),
  pageLoads: Type.Object({ stable: Type.Number(), canary: Type.Number() }, { description: 'page loads (navigations) by the side that served them' }),
  requests: Type.Object({ stable: Type.Number(), canary: Type.Number() }, { description: 'all requests to members by the side that served them' }),
  skewErrors: Type.Optional(Type.Number({
    minimum: 0,
    description: 'skew errors caught in the window: 404s a member answered to a GET of a hashed asset path (the release\'s assetPattern), i.e. a page of one version asking the other for its assets, which pinning should have prevented; counted by the single-host router, absent on a cluster',
  })),
});

/** A write outage of the daemon's state, as `status` shows it. */
export const StateWritesViewSchema = Type.Object({
  reason: Type.Union([Type.Literal('StateDirFull'), Type.Literal('StateWriteFailed')], { description: 'StateDirFull for a full disk; StateWriteFailed for any other write error' }),
  message: Type.String({ description: 'the sentence for people' }),
  sinceMs: Type.Number({ description: 'when the first write failed, epoch ms' }),
});

/** The fields of every rollout view, a release's member included. */
const rolloutFields = {
  name: Type.String({ description: 'service (or release) name' }),
  namespace: Type.String({ description: 'the namespace of the name (`default` on a single host)' }),
  kind: Type.Union([Type.Literal('service'), Type.Literal('release')], { description: 'service or release' }),
  phase: PhaseSchema,
  strategy: Type.Union([Type.Literal('rolling'), Type.Literal('canary'), Type.Literal('blueGreen'), Type.Literal('static')], { description: 'strategy in use' }),
  step: Type.Integer({ minimum: 0, description: 'current step, 1-based; 0 when nothing is in progress' }),
  steps: Type.Integer({ minimum: 0, description: 'number of steps of the strategy' }),
  message: Type.String({ description: 'a sentence about the current state ("paused at step 2/4: waiting for promote")' }),
  done: Type.Boolean({ description: 'the rollout finished: healthy, every revision with all or none of the traffic' }),
  terminal: Type.Boolean({ description: 'nothing moves without a person: done, or degraded (aborted or failed)' }),
  revisions: Type.Array(RevisionLiveViewSchema, { description: 'revisions that have instances or traffic, stable first' }),
  analysis: Type.Array(AnalysisBriefViewSchema, { description: 'analyses in force (the guard among them while it judges)' }),
  guard: Type.Optional(GuardVerdictViewSchema),
  aborted: Type.Boolean({ description: 'whether an abort is in force' }),
  pauseReasons: Type.Array(Type.String(), { description: 'why the rollout is paused, when it is' }),
  routes: Type.Optional(Type.Array(RouteViewSchema, { description: 'header and mirror routes in force; absent when none is' })),
  version: Type.Optional(Type.Integer({ minimum: 0, description: 'commit version of the status shown; an operation sent with it is refused (409) if the status moved on' })),
  stateWrites: Type.Optional(StateWritesViewSchema),
  releaseTraffic: Type.Optional(ReleaseTrafficViewSchema),
};

/** A member's own rollout view inside its release's view. */
export const MemberViewSchema = Type.Object(rolloutFields);

/** A service (or release) as everyone shows it. */
export const ServiceViewSchema = Type.Object({
  ...rolloutFields,
  members: Type.Optional(Type.Array(MemberViewSchema, { description: 'of a release: each member service\'s own rollout view' })),
  skewWindowEndsAtMs: Type.Optional(Type.Number({
    description: 'of a promoted release: when its skew window ends, epoch ms; until then requests of pages loaded from the old version stay on the old revisions (sooner if those clients go quiet). Absent when no skew window is running, and on a cluster',
  })),
});

/** A revision as `graylane history` lists it. */
export const RevisionViewSchema = Type.Object({
  number: Type.Integer({ minimum: 0, description: '1, 2, 3 …' }),
  name: Type.String({ description: 'short hash' }),
  createdAtMs: Type.Number({ description: 'when it first appeared, epoch ms' }),
  role: Type.Union([RevisionRoleSchema, Type.Literal('retired')], { description: 'what the revision is now' }),
  summary: Type.String({ description: 'what changed, in brief (command and env)' }),
});

const SideFigures = Type.Object({ requests: Type.Number(), errors: Type.Number(), errorRate: Type.Number() });

/** The figures the guard judged a canary on, for `graylane analysis`. */
export const GuardFiguresViewSchema = Type.Object({
  canaryRevision: Type.String({ description: 'the canary revision judged' }),
  canary: SideFigures,
  stable: SideFigures,
  latency: Type.Optional(Type.Object({ thresholdMs: Type.Number(), canarySlowRate: Type.Number(), stableSlowRate: Type.Number() }, { description: 'the slow threshold and each side\'s share of requests slower than it' })),
  failedOn: Type.Optional(Type.Union([Type.Literal('errors'), Type.Literal('latency')], { description: 'which test failed the canary' })),
});

/** An analysis run for `graylane analysis`. */
export const AnalysisRunViewSchema = Type.Object({
  id: Type.String({ description: 'run id' }),
  name: Type.String({ description: 'run name' }),
  phase: Type.String({ description: 'run phase' }),
  startedAtMs: Type.Number({ description: 'when it started, epoch ms' }),
  metrics: Type.Array(Type.Object({
    name: Type.String(),
    phase: Type.String(),
    measurements: Type.Array(Type.Object({ atMs: Type.Number(), phase: Type.String(), value: Type.Unknown(), message: Type.Optional(Type.String()) })),
  }), { description: 'measurements per metric, newest last' }),
  message: Type.Optional(Type.String({ description: 'last message (for the guard: the reason of its verdict)' })),
  kind: Type.Optional(Type.Literal('guard', { description: 'guard: the guard\'s verdict on a canary; absent for analysis runs' })),
  guard: Type.Optional(GuardFiguresViewSchema),
});

/** Static types of the view schemas (src/view re-exports them under their usual names). */
export type RevisionRole = Static<typeof RevisionRoleSchema>;
/** See {@link InstanceViewSchema}. */
export type InstanceView = Static<typeof InstanceViewSchema>;
/** See {@link RevisionLiveViewSchema}. */
export type RevisionLiveView = Static<typeof RevisionLiveViewSchema>;
/** See {@link RouteViewSchema}. */
export type RouteView = Static<typeof RouteViewSchema>;
/** See {@link AnalysisBriefViewSchema}. */
export type AnalysisBriefView = Static<typeof AnalysisBriefViewSchema>;
/** See {@link GuardVerdictViewSchema}. */
export type GuardVerdictView = Static<typeof GuardVerdictViewSchema>;
/** See {@link ReleaseTrafficViewSchema}. */
export type ReleaseTrafficView = Static<typeof ReleaseTrafficViewSchema>;
/** See {@link StateWritesViewSchema}. */
export type StateWritesView = Static<typeof StateWritesViewSchema>;
/** See {@link MemberViewSchema}. */
export type MemberView = Static<typeof MemberViewSchema>;
/** See {@link ServiceViewSchema}. */
export type ServiceView = Static<typeof ServiceViewSchema>;
/** See {@link RevisionViewSchema}. */
export type RevisionView = Static<typeof RevisionViewSchema>;
/** See {@link GuardFiguresViewSchema}. */
export type GuardFiguresView = Static<typeof GuardFiguresViewSchema>;
/** See {@link AnalysisRunViewSchema}. */
export type AnalysisRunView = Static<typeof AnalysisRunViewSchema>;

/** A data-plane worker that died without being told to, and what replaced it. */
export const WorkerExitViewSchema = Type.Object({
  pid: Type.Integer({ description: 'the worker that died' }),
  atMs: Type.Number({ description: 'when, epoch ms' }),
  cause: Type.String({ description: 'a signal\'s name (SIGKILL) or "exit code N"' }),
  livedMs: Type.Number({ minimum: 0, description: 'how long it had run' }),
  replacedByPid: Type.Optional(Type.Integer({ description: 'the worker started in its place, once it serves' })),
  replacedAfterMs: Type.Optional(Type.Number({ minimum: 0, description: 'how long after the exit the replacement served' })),
});

/** The single host's data plane: where the router runs, its workers and their deaths. */
export const DataPlaneViewSchema = Type.Object({
  kind: Type.Union([Type.Literal('in-daemon'), Type.Literal('workers'), Type.Literal('nginx')], {
    description: 'in-daemon: the router inside the daemon (spec.router.workers 0); workers: router workers under their own supervisor, which outlives the daemon; nginx: spec.router.type nginx',
  }),
  url: Type.String({ description: 'the router\'s base URL' }),
  httpsUrl: Type.Optional(Type.String({ description: 'its HTTPS base URL, when spec.router.tls is set' })),
  supervisorPid: Type.Optional(Type.Integer({ description: 'the router supervisor (kind workers)' })),
  adopted: Type.Optional(Type.Boolean({ description: 'the supervisor (kind workers) or nginx (kind nginx) was started by an earlier daemon and adopted by this one' })),
  nginxPid: Type.Optional(Type.Integer({ description: 'the nginx master graylane runs (kind nginx; absent when graylane writes an include file for an nginx you run)' })),
  workers: Type.Optional(Type.Array(Type.Object({
    pid: Type.Integer(),
    startedAtMs: Type.Number({ description: 'epoch ms' }),
    requests: Type.Integer({ minimum: 0, description: 'requests it routed, per its last report' }),
    retiring: Type.Optional(Type.Boolean({ description: 'told to stop by a resize: it finishes its requests and is not replaced' })),
  }), { description: 'the workers running now, oldest first (kind workers)' })),
  workerExits: Type.Optional(Type.Object({
    total: Type.Integer({ minimum: 0, description: 'workers that died since the supervisor started' }),
    latest: Type.Array(WorkerExitViewSchema, { description: 'the latest ones, oldest first' }),
  })),
  problem: Type.Optional(Type.String({ description: 'why the workers could not be read just now' })),
});
/** See {@link WorkerExitViewSchema}. */
export type WorkerExitView = Static<typeof WorkerExitViewSchema>;
/** See {@link DataPlaneViewSchema}. */
export type DataPlaneView = Static<typeof DataPlaneViewSchema>;
