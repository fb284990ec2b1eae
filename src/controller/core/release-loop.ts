/**
 * The release loop: one pass over a release reads its state and its members' statuses, asks the
 * pure `decideRelease` what to do, commits the new state, then carries the actions out through
 * the host's callbacks (member operations go through the engine, analysis through the analysis
 * runner, events to the log). A person's operation on the release goes the same way through the
 * pure `decideReleaseOperation`. State first, then the world: as for rollouts.
 */
import type { Release } from '../../documents/schema.js';
import type { RolloutStatus, StartAnalysisAction, UserOperation } from '../../engine/index.js';
import { decideRelease, type ReleaseAction, type ReleaseDecision } from '../../engine/release/decide.js';
import { decideReleaseOperation } from '../../engine/release/operate.js';
import type { ReleaseState } from '../../engine/release/releases.js';

/**
 * Where release state is kept. The single host keeps it in SQLite today; over the versioned
 * `StatePort` (`loadRelease` / `commitRelease`) it is the same two calls with a version.
 */
export interface ReleaseStateStore {
  /** The release's committed state; undefined before its first commit. */
  load(name: string): ReleaseState | undefined;
  /** Commits a release's state (the whole record). */
  commit(state: ReleaseState): void;
}

/** What the release loop needs of the controller around it. */
export interface ReleaseLoopHost {
  /** A member's committed status. */
  status(service: string): RolloutStatus | undefined;
  /** Applies an engine operation to a member (commit, then act). */
  operate(service: string, operation: UserOperation, why: string): void;
  /** Starts an analysis run for the release's gate. */
  startAnalysis(service: string, action: StartAnalysisAction, stableRevision: string | undefined): void;
  /** Phase of a member's analysis run, if it exists. */
  analysisPhase(service: string, name: string): string | undefined;
  /** Stops an analysis run. */
  stopAnalysis(name: string): void;
  /** Wall-clock ms of the last request pinned to a release's old side, from the data plane. */
  lastPinnedStableMs(release: string): number | undefined;
  /** Lets an old revision go now (its scale-down delay ends). */
  retireOld(service: string, revision: string): void;
  /** Records an event about a release. */
  event(release: string, level: 'info' | 'warning' | 'error', reason: string, message: string): void;
  /** Clock (epoch ms). */
  nowMs(): number;
  /** Fresh random values: a new attempt's generation, a new release's token secret. */
  random(): { generation: string; secret: string };
  /** The release's state changed (its view may have). */
  changed(release: string): void;
}

/** Drives releases: decide (pure), commit, act. */
export class ReleaseLoop {
  constructor(
    private readonly store: ReleaseStateStore,
    private readonly host: ReleaseLoopHost,
  ) {}

  /** One pass over a release. Idempotent: a pass with nothing new commits nothing and does nothing. */
  tick(release: Release): void {
    const before = this.store.load(release.name);
    const { state, actions } = decideRelease({
      release,
      state: before,
      members: release.services.map((service) => ({ service, status: this.host.status(service) })),
      now: this.host.nowMs(),
      random: this.host.random(),
      analysisPhase: before?.analysisRun ? this.analysisPhase(release, before.analysisRun) : undefined,
      lastPinnedStableMs: before?.phase === 'promoted' ? this.host.lastPinnedStableMs(release.name) : undefined,
    });
    this.carryOut(release, { state, actions });
  }

  /**
   * A person's operation on the whole release: decided on the committed state, committed, then
   * carried out on every member of the attempt in force. Throws the engine's
   * `ReleaseOperationError` (nothing committed, nothing done) when it makes no sense now.
   */
  operate(release: Release, operation: UserOperation): void {
    const state = this.store.load(release.name);
    // The attempt's members, even one the release's definition no longer lists.
    const services = new Set([...release.services, ...(state?.members.map((m) => m.service) ?? [])]);
    this.carryOut(release, decideReleaseOperation({
      release,
      state,
      members: [...services].map((service) => ({ service, status: this.host.status(service) })),
      operation,
      random: this.host.random(),
    }));
  }

  /** Commits a decision's state, then acts on it in order. */
  private carryOut(release: Release, decision: ReleaseDecision): void {
    this.commit(decision.state);
    for (const action of decision.actions) this.act(release, action);
  }

  /** Commits a release's state when it differs from the committed one, and says it changed. */
  commit(state: ReleaseState): void {
    const before = this.store.load(state.name);
    if (before && JSON.stringify(before) === JSON.stringify(state)) return;
    this.store.commit(state);
    this.host.changed(state.name);
  }

  /** Carries out one decided action. */
  act(release: Release, action: ReleaseAction): void {
    switch (action.type) {
      case 'operateMember':
        this.host.operate(action.service, action.operation, action.why);
        return;
      case 'startAnalysis':
        this.host.startAnalysis(action.service, action.analysis, action.stableRevision);
        return;
      case 'stopAnalysis':
        this.host.stopAnalysis(action.name);
        return;
      case 'retireOld':
        this.host.retireOld(action.service, action.revision);
        return;
      case 'event':
        this.host.event(release.name, action.level, action.reason, action.message);
        return;
    }
  }

  /** The gate's run is started on one member's canary; run names are unique per release attempt. */
  private analysisPhase(release: Release, run: string): string | undefined {
    for (const service of release.services) {
      const phase = this.host.analysisPhase(service, run);
      if (phase !== undefined) return phase;
    }
    return undefined;
  }
}
