/**
 * The state port the controller core reconciles against: typed, asynchronous and versioned.
 * Each rollout (and each release) is one record with a version; a commit names the version it
 * was decided on and is refused with {@link StateConflictError} when someone else committed in
 * between. The single-host adapter keeps records in SQLite; a Kubernetes adapter keeps them in a
 * Rollout's status subresource with its `resourceVersion`, behind this same interface.
 */
import type { RolloutStatus, TrafficInForce } from '../engine/index.js';
import type { ReleaseState } from '../engine/release/releases.js';

/** Every object is named by namespace and name; a single host has one namespace, `default`. */
export interface ObjectKey {
  /** `default` on a single host. */
  namespace: string;
  /** The service's (rollout's) or the release's name. */
  name: string;
}

/** The namespace of everything on a single host. */
export const DEFAULT_NAMESPACE = 'default';

/** One event to record with a commit (the store assigns ids). */
export interface NewEvent {
  /** Epoch ms. */
  atMs: number;
  /** Severity. */
  level: 'info' | 'warning' | 'error';
  /** Machine-readable reason, e.g. `StepCompleted`. */
  reason: string;
  /** A sentence for people. */
  message: string;
}

/** A rollout's committed state. */
export interface RolloutRecord {
  /** Which rollout. */
  key: ObjectKey;
  /** The engine's memory. */
  status: RolloutStatus;
  /** The traffic decision in force (what the traffic provider was last asked to apply); absent before the first. */
  traffic?: TrafficInForce | undefined;
  /** Bumped by every commit; 0 before the first. */
  version: number;
  /**
   * What the adapter shows of the world beside the engine's memory is out of date (a Rollout's
   * replica counts in Kubernetes): the next pass commits even when the engine changed nothing.
   * Absent for adapters that show nothing but the engine's memory.
   */
  stale?: boolean | undefined;
  /**
   * Whether the traffic in force was verified on the data plane when last committed, as the
   * adapter shows it (a Rollout's `Healthy` condition waits on it): a pass that finds otherwise
   * commits even when the engine changed nothing. Absent for adapters that show nothing of it.
   */
  trafficVerified?: boolean | undefined;
}

/** What one pass commits for a rollout, all or nothing. */
export interface RolloutChange {
  /** The new status. */
  status: RolloutStatus;
  /** The new traffic decision; absent: the one in force stays. */
  traffic?: TrafficInForce | undefined;
  /** Events of the pass. */
  events?: NewEvent[] | undefined;
  /**
   * Whether the traffic in force after this commit was found in force on the data plane (the
   * provider's `verify`); absent when the provider cannot tell. Adapters that show a rollout as
   * done (Kubernetes' `Healthy`) hold that until it is true; others may ignore it.
   */
  trafficVerified?: boolean | undefined;
}

/** A release's committed state. */
export interface ReleaseRecord {
  /** Which release. */
  key: ObjectKey;
  /** The release's own state. */
  state: ReleaseState;
  /** Bumped by every commit; 0 before the first. */
  version: number;
}

/** What a commit returns. */
export interface CommitResult {
  /** The record's version after the commit. */
  version: number;
  /** Ids of the events recorded with it, in order. */
  eventIds: number[];
}

/** The versioned state port. */
export interface StatePort {
  /** Adapter type, e.g. `sqlite`, `kubernetes`. */
  readonly type: string;
  /** A rollout's record; undefined before its first commit. The record is the caller's: changing it changes nothing stored. */
  load(key: ObjectKey): Promise<RolloutRecord | undefined>;
  /**
   * Commits `change` if the record is still at `expectedVersion` (0: it must not exist yet);
   * otherwise rejects with {@link StateConflictError} and changes nothing (its events are not
   * recorded either). Of two commits decided on the same version, one lands and one is refused.
   * A commit without `traffic` keeps the traffic in force.
   */
  commit(key: ObjectKey, change: RolloutChange, expectedVersion: number): Promise<CommitResult>;
  /** A release's record; undefined before its first commit. */
  loadRelease(key: ObjectKey): Promise<ReleaseRecord | undefined>;
  /** Commits a release's state if it is still at `expectedVersion`; rejects with {@link StateConflictError} otherwise. */
  commitRelease(key: ObjectKey, state: ReleaseState, expectedVersion: number): Promise<CommitResult>;
}

/** Someone else committed first: reload, decide again, retry. */
export class StateConflictError extends Error {
  readonly code = 'StateConflict';
  constructor(
    /** The record that moved. */
    readonly key: ObjectKey,
    /** The version the commit was decided on. */
    readonly expectedVersion: number,
    /** The version found. */
    readonly actualVersion: number,
  ) {
    super(`${key.namespace}/${key.name} changed meanwhile (version ${expectedVersion} expected, ${actualVersion} found)`);
    this.name = 'StateConflictError';
  }
}
