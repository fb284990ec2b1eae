import type { AnalysisTemplate, BackgroundAnalysis, RolloutAnalysis, RolloutSpec } from '../documents/schema.js';
import type { RevisionReplicas } from './replica-counts.js';
import type {
  Action, AnalysisKind, AnalysisRunRecord, EventAction, ObservedAnalysisRun, ObservedRevision, PauseReason, RolloutStatus, SetTrafficAction,
} from './types.js';

/** A fresh status: nothing deployed yet. */
export function initialStatus(now: number): RolloutStatus {
  return {
    phase: 'Progressing',
    currentStepIndex: 0,
    abort: false,
    promoteFull: false,
    pauseConditions: [],
    controllerPause: false,
    weights: { canary: 0, stable: 100 },
    headerRoutes: [],
    mirrorRoutes: [],
    blueGreen: {},
    scaleDownDeadlines: [],
    progress: { lastProgressMs: now, fingerprint: '', deadlineExceeded: false },
    analysisRuns: [],
    attempt: 0,
  };
}

/** Default seconds before an old revision is scaled down once it no longer takes traffic. */
export const DEFAULT_SCALE_DOWN_DELAY_SECONDS = 30;
/** Default seconds before an aborted canary/preview is scaled down. */
export const DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS = 30;
/** Default progressDeadlineSeconds. */
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
/**
 * Relaunches of one instance without it becoming ready that make a new revision crash-looping:
 * the rollout is aborted at once (reason `CrashLoopBackOff`) and the revision's instances stop,
 * rather than waiting out progressDeadlineSeconds. Three, as the restarts Kubernetes shows
 * before most people call a pod crash-looping; a slow start is not a crash (it is not relaunched).
 */
export const CRASH_LOOP_RESTARTS = 3;
/** The status reason of a rollout aborted because its new revision crash-loops. */
export const CRASH_LOOP_REASON = 'CrashLoopBackOff';

/** The working state of one reconcile or operation: the status being built and the actions so far. */
export class Context {
  readonly replicas: number;
  readonly actions: Action[] = [];
  /** Desired instances per revision; revisions not named here go to 0 unless held. */
  readonly scale = new Map<string, number>();
  /** Revisions kept at whatever they have now (a scale-down delay runs). */
  readonly hold = new Set<string>();
  traffic: SetTrafficAction | undefined;
  readonly wakeAtMs: number[] = [];
  /** The canary's request counter as observed this pass; undefined when nothing counts it. */
  canaryRequests: number | undefined;
  /** Whether the traffic decision in force is verified; undefined when nothing verifies it (see `Observed.trafficVerified`). */
  trafficVerified: boolean | undefined;
  /** A promotion happened in this pass: its switch of traffic goes out only after the pass. */
  promotedNow = false;
  private readonly observedRuns: Map<string, ObservedAnalysisRun>;
  private readonly observedRevisions: Map<string, ObservedRevision>;

  constructor(
    readonly spec: RolloutSpec,
    readonly status: RolloutStatus,
    readonly now: number,
    readonly revisions: readonly ObservedRevision[],
    runs: readonly ObservedAnalysisRun[],
    readonly templates: readonly AnalysisTemplate[] | undefined,
  ) {
    this.replicas = spec.replicas ?? 1;
    this.observedRuns = new Map(runs.map((r) => [r.name, r]));
    this.observedRevisions = new Map(revisions.map((r) => [r.name, r]));
  }

  /** The revision's instances as the replica math wants them, or undefined when it has none and never had. */
  rs(name: string | undefined): RevisionReplicas | undefined {
    if (!name) return undefined;
    const o = this.observedRevisions.get(name);
    return o ? { name, replicas: o.replicas, availableReplicas: o.readyReplicas } : undefined;
  }

  ready(name: string | undefined): number {
    return (name && this.observedRevisions.get(name)?.readyReplicas) || 0;
  }

  asked(name: string | undefined): number {
    return (name && this.observedRevisions.get(name)?.replicas) || 0;
  }

  /** True when the revision has exactly `count` instances asked for and all of them ready. */
  settledAt(name: string | undefined, count: number): boolean {
    return this.asked(name) === count && this.ready(name) >= count;
  }

  event(level: EventAction['level'], reason: string, message: string): void {
    this.actions.push({ type: 'event', level, reason, message });
  }

  wakeAt(ms: number): void {
    if (ms > this.now) this.wakeAtMs.push(ms);
  }

  pause(reason: PauseReason): void {
    if (this.status.pauseConditions.some((p) => p.reason === reason)) return;
    this.status.pauseConditions.push({ reason, startedAtMs: this.now });
    this.event('info', 'RolloutPaused', `Rollout is paused (${reason})`);
  }

  pausedBy(reason: PauseReason) {
    return this.status.pauseConditions.find((p) => p.reason === reason);
  }

  unpause(reason: PauseReason): void {
    this.status.pauseConditions = this.status.pauseConditions.filter((p) => p.reason !== reason);
  }

  /** The record of an analysis run, brought up to date with what the analysis layer reports. */
  run(name: string): AnalysisRunRecord | undefined {
    const record = this.status.analysisRuns.find((r) => r.name === name);
    const seen = this.observedRuns.get(name);
    if (record && seen && record.phase !== seen.phase) {
      record.phase = seen.phase;
      record.message = seen.message;
    }
    return record;
  }

  /** Starts a run unless one with that name already exists; a missing template aborts instead. */
  startRun(name: string, kind: AnalysisKind, analysis: RolloutAnalysis | BackgroundAnalysis, revision: string, stepIndex?: number): AnalysisRunRecord | undefined {
    const existing = this.run(name);
    if (existing) return existing;
    if (this.templates) {
      const known = new Set(this.templates.map((t) => t.metadata.name));
      const missing = analysis.templates.find((t) => !known.has(t.templateName));
      if (missing) {
        this.abort('AnalysisTemplateNotFound', `analysis template "${missing.templateName}" not found (${kind} analysis)`);
        return undefined;
      }
    }
    const record: AnalysisRunRecord = { name, kind, revision, phase: 'Running', ...(stepIndex === undefined ? {} : { stepIndex }) };
    this.status.analysisRuns.push(record);
    this.actions.push({ type: 'startAnalysis', name, kind, analysis, revision });
    return record;
  }

  /** Stops every run still running (or only those of `kinds`). */
  stopRuns(kinds?: readonly AnalysisKind[]): void {
    for (const r of this.status.analysisRuns) {
      if (kinds && !kinds.includes(r.kind)) continue;
      const current = this.run(r.name);
      if (current && (current.phase === 'Running' || current.phase === 'Pending')) {
        current.phase = 'Inconclusive';
        current.message = 'stopped';
        this.actions.push({ type: 'stopAnalysis', name: r.name });
      }
    }
  }

  /** Marks the rollout aborted (traffic back to stable is done by the strategy on this same pass). */
  abort(reason: string, message: string): void {
    if (this.status.abort) return;
    this.status.abort = true;
    this.status.abortedAtMs = this.now;
    this.status.reason = reason;
    this.status.message = message;
    this.status.manualWeight = undefined;
    this.status.pauseConditions = [];
    this.status.controllerPause = false;
    this.event('warning', 'RolloutAborted', `Rollout aborted: ${message}`);
    this.stopRuns();
  }

  /** Aborted because the new revision crash-loops: its instances stop at once, none is kept warm. */
  get crashLooped(): boolean {
    return this.status.abort && this.status.reason === CRASH_LOOP_REASON;
  }

  /** The observed revision, as the controller reported it. */
  observed(name: string | undefined): ObservedRevision | undefined {
    return name ? this.observedRevisions.get(name) : undefined;
  }

  /** Keeps `revision` up until `atMs`, then lets it go to zero. */
  scaleDownLater(revision: string, atMs: number): void {
    if (!this.status.scaleDownDeadlines.some((d) => d.revision === revision)) this.status.scaleDownDeadlines.push({ revision, atMs });
  }
}

/** Analysis run names: stable across reconciles, new per revision and per retry. */
export function runName(revision: string, attempt: number, kind: AnalysisKind, stepIndex?: number): string {
  return [revision, attempt, kind, ...(stepIndex === undefined ? [] : [stepIndex])].join('.');
}
