/**
 * The store port: where the daemon keeps what it must not lose. Every transition is committed
 * here before it is acted on, so a crash at any point resumes from a state the world can catch
 * up with. The local adapter is SQLite; on Kubernetes the objects' status plays this part.
 *
 * This is the synchronous face the single-host controller uses; the versioned records behind it
 * (`loadRollout` / `commitRollout`, `loadRelease` / `commitRelease`) are what the asynchronous
 * `StatePort` (state-port.ts) serves (see `sqlite/sqlite-state.ts`). The short forms (`getStatus`, `commit`,
 * `getTraffic`, `getRelease`, `putRelease`) address the single host's namespace, `default`.
 */
import type { AnalysisTemplate, App } from '../documents/schema.js';
import type { RolloutStatus, TrafficInForce } from '../engine/index.js';
import type { ReleaseState } from '../engine/release/releases.js';
import type { CommitResult, ObjectKey, ReleaseRecord, RolloutChange, RolloutRecord } from './state-port.js';

/** A service as last applied: its document fragment and where it came from. */
export interface StoredService {
  /** Service name, unique within the store. */
  name: string;
  /** The App service document (JSON) as applied. */
  spec: unknown;
  /** Directory that relative paths in the spec resolve against (the App file's directory). */
  baseDir: string;
  /** Revision the spec asks for now (the hash of its template). */
  desiredRevision: string;
  /** When it was last applied, epoch ms. */
  appliedAtMs: number;
}

/** An immutable revision of a service's template. */
export interface StoredRevision {
  /** Owning service. */
  service: string;
  /** Revision name: the short hash of its template. */
  name: string;
  /** 1, 2, 3 … in order of first appearance, as `graylane history` shows them. */
  number: number;
  /** The template that defines the revision (process command, env, cwd; or targets). */
  template: unknown;
  /** When it first appeared, epoch ms. */
  createdAtMs: number;
}

/** An instance the runtime started, recorded so a restarted daemon can adopt it. */
export interface StoredInstance {
  /** Runtime instance id, unique. */
  id: string;
  /** Owning service. */
  service: string;
  /** Revision the instance runs. */
  revision: string;
  /** Everything the runtime needs to re-attach (pid, port, start time, command …). */
  record: unknown;
}

/** One line of a service's history of what happened. */
export interface StoredEvent {
  /** Increasing id; clients resume a stream after the last one they saw. */
  id: number;
  /** Service (or release) the event belongs to. */
  service: string;
  /** When it happened, epoch ms. */
  atMs: number;
  /** `info` for progress, `warning` for trouble that was handled, `error` for what needs a human. */
  level: 'info' | 'warning' | 'error';
  /** Short machine-readable reason, e.g. `StepCompleted`, `RolloutAborted`. */
  reason: string;
  /** A sentence for people. */
  message: string;
}

/** An analysis run and its measurements, kept for `graylane analysis`. */
export interface StoredAnalysisRun {
  /** Unique run id. */
  id: string;
  /** Owning service. */
  service: string;
  /** Run name as the engine knows it. */
  name: string;
  /** Current phase. */
  phase: string;
  /** Full run document (template, args, measurements, message). */
  run: unknown;
  /** When it started, epoch ms. */
  startedAtMs: number;
  /** Last update, epoch ms. */
  updatedAtMs: number;
}

/** The App as last applied, with the analysis templates applied beside it (a single host's own record). */
export interface StoredApp {
  /** The App document. */
  app: App;
  /** AnalysisTemplate and ClusterAnalysisTemplate documents of the same apply, in file order. */
  templates: AnalysisTemplate[];
}

/** What one reconcile pass commits, all or nothing (in the `default` namespace). */
export interface ReconcileCommit {
  /** Service the pass was for. */
  service: string;
  /** The new rollout status. */
  status: RolloutStatus;
  /** The new traffic decision in force; absent: the one in force stays. */
  traffic?: TrafficInForce | undefined;
  /** Events the pass produced, without ids (the store assigns them). */
  events?: Omit<StoredEvent, 'id' | 'service'>[];
  /**
   * The status version the pass was decided on; when given and the record has moved on, the
   * commit throws `StateConflictError` (state-port.ts) and writes nothing. Absent: no check.
   */
  expectedVersion?: number | undefined;
}

/** The store port. All methods are synchronous: the local store is an embedded database. */
export interface Store {
  /** Adapter type, e.g. `sqlite`. */
  readonly type: string;
  /** Where the state lives (the database file), for messages; absent for in-memory stores. */
  readonly location?: string | undefined;
  /** Runs fn in one transaction: either all of its writes land or none. */
  transaction<T>(fn: () => T): T;
  /** Creates or replaces a service. */
  putService(service: StoredService): void;
  /** A service by name. */
  getService(name: string): StoredService | undefined;
  /** All services, by name. */
  listServices(): StoredService[];
  /** Removes a service and everything that belongs to it. */
  deleteService(name: string): void;
  /** Records a revision if it is new and returns it (with its number) either way. */
  addRevision(revision: Omit<StoredRevision, 'number'>): StoredRevision;
  /** A service's revisions, oldest first. */
  listRevisions(service: string): StoredRevision[];
  /** Forgets a revision beyond the history limit. */
  deleteRevision(service: string, name: string): void;
  /** The rollout status of a service, if it has one; a stored value the engine cannot run on is a `StoreCorrupt` error. */
  getStatus(service: string): RolloutStatus | undefined;
  /** The traffic decision in force for a service (committed beside its status), if any. */
  getTraffic(service: string): TrafficInForce | undefined;
  /**
   * How many times the service's status was committed (0 before the first): operators send the
   * version they decided on, and a stale one is refused rather than silently overriding.
   */
  getStatusVersion(service: string): number;
  /** Events committed with the service's status after `version`, oldest first: what changed since. */
  eventsSinceVersion(service: string, version: number): StoredEvent[];
  /** Commits a reconcile pass: status, traffic and events in one transaction. Returns the event ids. */
  commit(commit: ReconcileCommit): number[];
  /** A rollout's versioned record, in any namespace; undefined before its first commit. */
  loadRollout(key: ObjectKey): RolloutRecord | undefined;
  /**
   * Commits a rollout's change with its events if the record is still at `expectedVersion` (0: it
   * must not exist yet); otherwise throws `StateConflictError` (state-port.ts) and writes nothing.
   */
  commitRollout(key: ObjectKey, change: RolloutChange, expectedVersion: number): CommitResult;
  /** A release's versioned record, in any namespace; undefined before its first commit. */
  loadRelease(key: ObjectKey): ReleaseRecord | undefined;
  /** Commits a release's state if it is still at `expectedVersion`; throws `StateConflictError` (state-port.ts) otherwise. */
  commitRelease(key: ObjectKey, state: ReleaseState, expectedVersion: number): CommitResult;
  /** A release's state in the `default` namespace, if it has one. */
  getRelease(name: string): ReleaseState | undefined;
  /** Writes a release's state in the `default` namespace whatever its version (the single host's one writer). */
  putRelease(state: ReleaseState): void;
  /** The App as last applied, with its analysis templates; undefined before the first apply. */
  getApp(): StoredApp | undefined;
  /** Records the App (and its templates) an apply put in force, replacing the previous one. */
  putApp(app: StoredApp): void;
  /** Appends events outside a reconcile pass (operations, daemon start). */
  appendEvents(service: string, events: Omit<StoredEvent, 'id' | 'service'>[]): number[];
  /**
   * Deletes events beyond the newest `keepPerService` of each service and those older than
   * `maxAgeMs`; returns how many went. Called off the hot path, never per event.
   */
  trimEvents(options: { keepPerService: number; maxAgeMs: number; nowMs: number }): number;
  /** Events, oldest first, of one namespace (`default` unless given), optionally of one service and after an id. */
  listEvents(options?: { namespace?: string; service?: string; afterId?: number; limit?: number }): StoredEvent[];
  /** Records (or updates) an instance so it can be adopted after a crash. */
  putInstance(instance: StoredInstance): void;
  /** Forgets an instance that was stopped. */
  deleteInstance(id: string): void;
  /** Recorded instances. */
  listInstances(service?: string): StoredInstance[];
  /** Creates or updates an analysis run. */
  putAnalysisRun(run: StoredAnalysisRun): void;
  /** Analysis runs of a service, newest first. */
  listAnalysisRuns(service: string, limit?: number): StoredAnalysisRun[];
  /** A small key/value space for untyped daemon settings; what has a type has its own record above. */
  getSetting(key: string): string | undefined;
  /** Sets a daemon setting. */
  setSetting(key: string, value: string): void;
  /** Closes the store; further calls throw. */
  close(): void;
}

/**
 * Why a store could not be used. `StateDirFull` and `StateWriteFailed` are write failures the
 * daemon survives (see `guardWrites`); the others stop it from starting.
 */
export type StoreErrorCode = 'StoreCorrupt' | 'StoreTooNew' | 'StoreLocked' | 'StoreUnavailable' | 'StateDirFull' | 'StateWriteFailed';

/** A store that cannot be opened or used; the message says what to do. */
export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    readonly file?: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

/** A row that cannot be used: one sentence naming the file, the row and what to do. */
export function corruptRow(file: string, what: string, cause: unknown): StoreError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new StoreError(
    'StoreCorrupt',
    `state file ${file} is damaged: ${what} cannot be read (${reason}). graylane changed nothing: restore the file from a backup, or move it aside and start again (graylane up then finds the app processes still running and asks whether to adopt or stop them).`,
    file,
  );
}
