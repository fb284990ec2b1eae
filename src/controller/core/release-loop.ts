/**
 * The release loop: one pass over a release reads its state and its members' statuses, asks the
 * pure `decideRelease` what to do, commits the new state, then carries the actions out through
 * the host's callbacks (member operations go through the engine, analysis through the analysis
 * runner, events to the log). A person's operation on the release goes the same way through the
 * pure `decideReleaseOperation`. State first, then the world: as for rollouts. State is committed
 * through the versioned state port: a pass decided on a state that moved on meanwhile is decided
 * again, never acted on.
 */
import type { Release } from '../../documents/schema.js';
import type { Operation, RolloutStatus, StartAnalysisAction, UserOperation } from '../../engine/index.js';
import { decideRelease, type ReleaseAction, type ReleaseDecision } from '../../engine/release/decide.js';
import { decideReleaseOperation } from '../../engine/release/operate.js';
import type { ReleaseState } from '../../engine/release/releases.js';
import { StateConflictError, type StatePort } from '../../state/state-port.js';

/**
 * Where release state is kept: the release half of the versioned {@link StatePort} (SQLite on a
 * single host; a Kubernetes adapter implements the same two calls).
 */
export type ReleaseStateStore = Pick<StatePort, 'loadRelease' | 'commitRelease'>;

/** How often a pass decided on a state someone committed meanwhile is decided again before it fails. */
export const RELEASE_CONFLICT_RETRIES = 3;

/** Options of {@link ReleaseLoop}. */
export interface ReleaseLoopOptions {
  /** Where release state is committed, with versions. */
  state: ReleaseStateStore;
  /** The namespace releases live in (`default` on a single host). */
  namespace: string;
  /** The controller around the loop. */
  host: ReleaseLoopHost;
}

/** What the release loop needs of the controller around it. */
export interface ReleaseLoopHost {
  /** A member's committed status. */
  status(service: string): RolloutStatus | undefined;
  /** Applies an engine operation to a member (commit, then act). */
  operate(service: string, operation: Operation, why: string): void;
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

/** Drives releases: decide (pure), commit at the version decided on, act. */
export class ReleaseLoop {
  private readonly state: ReleaseStateStore;
  private readonly host: ReleaseLoopHost;
  private readonly namespace: string;

  constructor(options: ReleaseLoopOptions) {
    ({ state: this.state, host: this.host, namespace: this.namespace } = options);
  }

  /** One pass over a release. Idempotent: a pass with nothing new commits nothing and does nothing. */
  tick(release: Release): Promise<void> {
    return this.decideCommitAct(release, (before) => decideRelease({
      release,
      state: before,
      members: release.services.map((service) => ({ service, status: this.host.status(service) })),
      now: this.host.nowMs(),
      random: this.host.random(),
      analysisPhase: before?.analysisRun ? this.analysisPhase(release, before.analysisRun) : undefined,
      lastPinnedStableMs: before?.phase === 'promoted' ? this.host.lastPinnedStableMs(release.name) : undefined,
    }));
  }

  /**
   * A person's operation on the whole release: decided on the committed state, committed, then
   * carried out on every member of the attempt in force. Rejects with the engine's
   * `ReleaseOperationError` (nothing committed, nothing done) when it makes no sense now.
   */
  operate(release: Release, operation: UserOperation): Promise<void> {
    return this.decideCommitAct(release, (state) => {
      // The attempt's members, even one the release's definition no longer lists.
      const services = new Set([...release.services, ...(state?.members.map((m) => m.service) ?? [])]);
      return decideReleaseOperation({
        release,
        state,
        members: [...services].map((service) => ({ service, status: this.host.status(service) })),
        operation,
        random: this.host.random(),
        now: this.host.nowMs(),
      });
    });
  }

  /**
   * Reads the committed state, decides, commits at the version read, then acts. A commit that
   * finds the state moved on (another pass committed meanwhile) acts on nothing and decides again
   * on the new state; after {@link RELEASE_CONFLICT_RETRIES} such retries the conflict is thrown.
   */
  private async decideCommitAct(release: Release, decide: (state: ReleaseState | undefined) => ReleaseDecision): Promise<void> {
    const key = { namespace: this.namespace, name: release.name };
    for (let retry = 0; ; retry++) {
      const record = await this.state.loadRelease(key);
      const { state, actions } = decide(record?.state);
      try {
        // A release's view changes with its state (phase, step, message): watchers hear of it.
        if (!record || JSON.stringify(record.state) !== JSON.stringify(state)) {
          await this.state.commitRelease(key, state, record?.version ?? 0);
          this.host.changed(release.name);
        }
      } catch (err) {
        if (err instanceof StateConflictError && retry < RELEASE_CONFLICT_RETRIES) continue;
        throw err;
      }
      for (const action of actions) this.act(release, action);
      return;
    }
  }

  /** Carries out one decided action. */
  private act(release: Release, action: ReleaseAction): void {
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
