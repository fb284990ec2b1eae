/**
 * The one view-model of a rollout that the CLI, the API and the console all show, so that the
 * three never disagree on what "step 2/4" or "ready 3/4" means.
 */

/** A revision's part in a rollout. */
export type RevisionRole = 'stable' | 'canary' | 'preview' | 'active' | 'old';

/** Live figures of one revision of a service. */
export interface RevisionLiveView {
  /** Revision name (short hash). */
  name: string;
  /** 1, 2, 3 … as `graylane history` numbers them. */
  number: number;
  /** What the revision is to the rollout now. */
  role: RevisionRole;
  /** Percentage of traffic it receives by weight (matches aside). */
  weight: number;
  /** Instances that are ready. */
  ready: number;
  /** Instances desired or running. */
  total: number;
  /** Requests per second over the last 10 s, from the router. */
  requestsPerSecond: number;
  /** Fraction of responses that were errors (5xx and upstream failures) over the last 10 s. */
  errorRate: number;
  /** p99 latency in ms over the last 10 s; null without traffic. */
  p99Ms: number | null;
  /**
   * Requests meant for this revision that the router sent to the other side over the last 10 s,
   * because it had no ready instance.
   */
  fallbacks: number;
  /** Of a release: the member service this revision belongs to. */
  member?: string;
  /** Its instances (not stopped), with what each went through. */
  instances: InstanceView[];
}

/** A header or mirror route in force. */
export interface RouteView {
  /** `header` (matching requests go to the canary) or `mirror` (a copy goes to the canary). */
  kind: 'header' | 'mirror';
  /** The route's name as the step gives it; of a release, "member/name". */
  name: string;
  /** One line for people, e.g. "header route beta: header x-beta=1 → canary". */
  description: string;
}

/** One instance of a revision, as `status` shows it: why it is not ready, in its own words. */
export interface InstanceView {
  /** Instance id. */
  id: string;
  /** Lifecycle state (`starting`, `ready`, `unready`, `failed`, `stopping`). */
  state: string;
  /** Relaunches in its life (crash, liveness failure). */
  restarts: number;
  /** How its last process ended, in words ("exited with code 1", "killed by SIGKILL"), when one has. */
  lastExit?: string;
  /** When that was, epoch ms. */
  lastExitAtMs?: number;
  /** The last readiness check: `pass`, `fail` or `pending` (nothing listens yet) and its detail. */
  lastProbe?: { outcome: 'pass' | 'fail' | 'pending'; detail: string; atMs: number };
  /** The last thing that went wrong, in a sentence (may span lines: the app's last output). */
  lastError?: string;
}

/** Analysis state in brief. */
export interface AnalysisBriefView {
  /** Run name. */
  name: string;
  /** Phase. */
  phase: string;
  /** Last message, if any. */
  message?: string;
}

/** A service (or release) as everyone shows it. */
export interface ServiceView {
  /** Service name. */
  name: string;
  /** `service` or `release`. */
  kind: 'service' | 'release';
  /** Rollout phase. */
  phase: 'Healthy' | 'Progressing' | 'Paused' | 'Degraded' | 'Completed';
  /** Strategy in use. */
  strategy: 'rolling' | 'canary' | 'blueGreen' | 'static';
  /** Current step, 1-based for people; 0 when nothing is in progress. */
  step: number;
  /** Number of steps of the strategy. */
  steps: number;
  /** A sentence about the current state ("paused at step 2/4: waiting for promote"). */
  message: string;
  /** Revisions that have instances or traffic, stable first. */
  revisions: RevisionLiveView[];
  /** Analyses in force. */
  analysis: AnalysisBriefView[];
  /** Whether an abort is in force. */
  aborted: boolean;
  /** Why the rollout is paused, when it is. */
  pauseReasons: string[];
  /** Header and mirror routes in force; absent when none is. */
  routes?: RouteView[];
  /** Commit version of the status shown; an operation sent with it is refused (409) if the status moved on. */
  version?: number;
  /** Present while the daemon cannot write its state: it routes with what it has and retries. */
  stateWrites?: StateWritesView;
  /** For a release the router pins: the weight set and the share the canary really served. */
  releaseTraffic?: ReleaseTrafficView;
}

/**
 * What a release's canary really got, beside the weight set: page loads decide a client's side, so
 * the share of page loads is what follows the weight; requests follow the pages.
 */
export interface ReleaseTrafficView {
  /** The weight in force for page loads, percent (0 after an abort, 100 once promoted). */
  weight: number;
  /** The window counted, ms (the last 30 s). */
  windowMs: number;
  /** Page loads (navigations) by the side that served them. */
  pageLoads: { stable: number; canary: number };
  /** All requests to members by the side that served them, page loads included. */
  requests: { stable: number; canary: number };
}

/** A write outage of the daemon's state, as `status` shows it. */
export interface StateWritesView {
  /** `StateDirFull` for a full disk (ENOSPC, SQLITE_FULL); `StateWriteFailed` for any other write error. */
  reason: 'StateDirFull' | 'StateWriteFailed';
  /** The sentence for people, e.g. "the state directory is full (…): …". */
  message: string;
  /** When the first write failed, epoch ms. */
  sinceMs: number;
}

/** A revision as `graylane history` lists it. */
export interface RevisionView {
  /** 1, 2, 3 … */
  number: number;
  /** Short hash. */
  name: string;
  /** When it first appeared, epoch ms. */
  createdAtMs: number;
  /** What the revision is now. */
  role: RevisionRole | 'retired';
  /** What changed, in brief (command and env). */
  summary: string;
}

/** The figures the guard judged a canary on, for `graylane analysis`. */
export interface GuardFiguresView {
  /** The canary revision judged. */
  canaryRevision: string;
  /** Requests and failed requests of each side since the guard started on this canary. */
  canary: { requests: number; errors: number; errorRate: number };
  stable: { requests: number; errors: number; errorRate: number };
  /** The slow threshold and each side's share of requests slower than it, once fixed from stable. */
  latency?: { thresholdMs: number; canarySlowRate: number; stableSlowRate: number };
  /** Which test failed the canary, when it failed. */
  failedOn?: 'errors' | 'latency';
}

/** An analysis run for `graylane analysis`. */
export interface AnalysisRunView {
  /** Run id. */
  id: string;
  /** Run name. */
  name: string;
  /** Phase. */
  phase: string;
  /** When it started, epoch ms. */
  startedAtMs: number;
  /** Measurements per metric, newest last. */
  metrics: { name: string; phase: string; measurements: { atMs: number; phase: string; value: unknown; message?: string }[] }[];
  /** Last message (for the guard: the reason of its verdict). */
  message?: string;
  /** `guard` for the guard's verdict on a canary (phase Healthy, Inconclusive or Failed); absent for analysis runs. */
  kind?: 'guard';
  /** The guard's figures, for a guard entry. */
  guard?: GuardFiguresView;
}
