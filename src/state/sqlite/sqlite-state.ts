/**
 * The SQLite adapter of the asynchronous {@link StatePort}. It serves the versioned records of
 * a (synchronous) store, so that the port and the store share one database connection, one
 * transaction domain and, when the store is wrapped by `guardWrites`, the daemon's handling of a
 * full disk. Every call takes effect when it is made, in call order; failures arrive as rejections.
 */
import type { ReleaseState } from '../../engine/release/releases.js';
import type { CommitResult, ObjectKey, ReleaseRecord, RolloutChange, RolloutRecord, StatePort } from '../state-port.js';
import type { Store } from '../store.js';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite-store.js';

/** Options of {@link createSqliteState}. */
export interface SqliteStateOptions {
  /**
   * The store whose records the port serves: the daemon passes its write-guarded store, so that
   * a commit through the port fails the way every other write does when the disk is full.
   */
  store: Store;
}

/** The StatePort over a store's versioned records. */
export function createSqliteState(options: SqliteStateOptions): StatePort {
  return new SqliteState(options.store);
}

/** Opens a state file and returns the port with the store under it (closing is the store's). */
export function openSqliteState(options: SqliteStoreOptions): { state: StatePort; store: Store } {
  const store = openSqliteStore(options);
  return { state: createSqliteState({ store }), store };
}

class SqliteState implements StatePort {
  readonly type = 'sqlite';

  constructor(private readonly store: Store) {}

  load(key: ObjectKey): Promise<RolloutRecord | undefined> {
    return settle(() => this.store.loadRollout(key));
  }

  commit(key: ObjectKey, change: RolloutChange, expectedVersion: number): Promise<CommitResult> {
    return settle(() => this.store.commitRollout(key, change, expectedVersion));
  }

  loadRelease(key: ObjectKey): Promise<ReleaseRecord | undefined> {
    return settle(() => this.store.loadRelease(key));
  }

  commitRelease(key: ObjectKey, state: ReleaseState, expectedVersion: number): Promise<CommitResult> {
    return settle(() => this.store.commitRelease(key, state, expectedVersion));
  }
}

/**
 * Runs fn now (so calls take effect in call order) and hands its outcome over as a promise: a
 * throw of the synchronous store (a conflict, a damaged row, a full disk) becomes a rejection,
 * as it would be from a remote adapter.
 */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
