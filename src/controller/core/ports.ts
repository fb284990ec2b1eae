/**
 * The small ports the reconciler needs besides state, runtime and traffic: where the desired
 * rollout comes from, what runs analyses, what counts the canary's requests, and where events
 * go. Each composition root (single host, Kubernetes) implements them over its own world; the
 * reconciler sees nothing else of it.
 */
import type { ObservedAnalysisRun, StartAnalysisAction } from '../../engine/index.js';
import type { RolloutSpec } from '../../documents/schema.js';
import type { NewEvent, ObjectKey } from '../../state/state-port.js';

/** One revision of a service that exists (oldest first in {@link DesiredRollout.revisions}). */
export interface DesiredRevision {
  /** The revision's name (a short hash of its template). */
  name: string;
  /** What the runtime runs for it; handed to `Runtime.ensureInstances` as is. */
  template: unknown;
}

/** What a rollout should be, as the documents say now. */
export interface DesiredRollout {
  /** The rollout's spec (for a release's member: the member spec, gates included). */
  spec: RolloutSpec;
  /** The revision the service should run: a new one starts a rollout, the stable one rolls back. */
  desiredRevision: string;
  /** Every revision of the service that still exists, oldest first; the engine observes these. */
  revisions: DesiredRevision[];
  /** Host the service answers for, if any; passed to the traffic provider. */
  host?: string | undefined;
  /** Path prefix the service owns; passed to the traffic provider (`/` when absent). */
  pathPrefix?: string | undefined;
  /**
   * Whether going back to a warm or recent revision may skip the steps (the engine's
   * `fastRollback`); false for a release's members, which go back through the release's gates.
   * Default true.
   */
  fastRollback?: boolean | undefined;
}

/** Where the reconciler reads what each rollout should be. */
export interface SpecSource {
  /**
   * The desired rollout of `key`; undefined when it no longer exists (deleted meanwhile) or is
   * not a rollout at all (a service of static targets): the pass then does nothing.
   */
  desired(key: ObjectKey): Promise<DesiredRollout | undefined>;
  /**
   * Forgets a revision the engine retired (beyond `revisionHistoryLimit`). Called only once the
   * runtime runs no instance of it; idempotent.
   */
  forgetRevision(key: ObjectKey, revision: string): Promise<void>;
}

/** Runs the analyses the engine asks for and reports their phases back. */
export interface AnalysisPort {
  /**
   * Starts a run unless it is already going or already ended (idempotent: the engine asks again
   * on later passes). `stableRevision` is what the canary is compared against, when there is one.
   */
  start(key: ObjectKey, request: { action: StartAnalysisAction; stableRevision?: string | undefined }): Promise<void>;
  /** Stops a run (its step ended, the rollout was promoted or aborted); idempotent. */
  stop(key: ObjectKey, name: string): Promise<void>;
  /** The rollout's recent runs with their phases, newest first (what the engine observes). */
  list(key: ObjectKey): Promise<ObservedAnalysisRun[]>;
}

/** Counts what a revision served: the evidence canary steps are judged on. */
export interface CountersSource {
  /**
   * Requests `revision` of the rollout has served so far: a counter that only grows (it may
   * start again from 0 when the data plane restarts). Undefined when nothing counts them; steps
   * are then neither gated on nor reported for evidence.
   */
  requests(key: ObjectKey, revision: string): Promise<number | undefined>;
}

/** An event as recorded: the commit's id for it, when the state port keeps events. */
export interface RecordedEvent extends NewEvent {
  /** Id the state port gave it (absent where the state port keeps no events, e.g. Kubernetes). */
  id?: number | undefined;
}

/** Where the reconciler's events go for people to see. */
export interface EventSink {
  /**
   * A commit that changed something landed and was acted on: its events (possibly none) are
   * already recorded with it, and every view of `key` is stale. Streams them to listeners.
   */
  committed(key: ObjectKey, events: RecordedEvent[]): void;
  /**
   * An event outside any commit (a scaling call or a traffic change failed): the sink records
   * it itself, then streams it.
   */
  emit(key: ObjectKey, event: NewEvent): void;
}
