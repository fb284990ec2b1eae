/**
 * A store decorator that turns a failed write into one kind of error the daemon can survive and
 * report: a full disk (SQLITE_FULL, ENOSPC, EDQUOT) reads "the state directory is full"; anything
 * else names its own cause. Reads pass straight through: a full disk does not stop routing.
 */
import { StoreError, type Store } from './store.js';

/** Hooks of {@link guardWrites}. */
export interface WriteGuardHooks {
  /** A write failed; called with the error the caller is about to receive. */
  onWriteFailed(error: StoreError): void;
  /** A write succeeded (the daemon learns that writing works again). */
  onWriteSucceeded(): void;
}

const FULL_CODES = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT']);

/** Whether err is a write failure the guard produced (as opposed to a bug or a corrupt file). */
export function isWriteFailure(err: unknown): err is StoreError {
  return err instanceof StoreError && (err.code === 'StateDirFull' || err.code === 'StateWriteFailed');
}

const IO_CODES = new Set([...FULL_CODES, 'EIO', 'EROFS', 'EACCES', 'EPERM', 'ENOENT']);

/** Whether err came from the database or the file system, rather than from the caller's own code. */
function isIoError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_') || IO_CODES.has(code));
}

/** The sentence and code for a failed write of the state at `location`. */
export function writeFailure(err: unknown, location: string | undefined): StoreError {
  if (isWriteFailure(err)) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  const dir = location ? ` (${location.replace(/\/[^/]*$/, '') || '/'})` : '';
  const full = (typeof code === 'string' && FULL_CODES.has(code)) || /disk is full|no space left/i.test(message);
  if (full) {
    return new StoreError('StateDirFull', `the state directory is full${dir}: graylane cannot record changes, keeps routing with what it has and retries; free some space there`, location);
  }
  const why = typeof code === 'string' ? `${code}: ${message}` : message;
  return new StoreError('StateWriteFailed', `graylane cannot write to its state directory${dir} (${why}); it keeps routing with what it has and retries`, location);
}

const WRITES = [
  'transaction', 'putService', 'deleteService', 'addRevision', 'deleteRevision', 'commit', 'commitRollout',
  'commitRelease', 'putRelease', 'putApp', 'appendEvents', 'putInstance', 'deleteInstance', 'putAnalysisRun',
  'setSetting', 'trimEvents',
] as const satisfies readonly (keyof Store)[];

/**
 * Wraps store so that every write either succeeds (and says so) or throws a StoreError with code
 * `StateDirFull` or `StateWriteFailed` (and says so). Writes nested in a transaction report once.
 */
export function guardWrites(store: Store, hooks: WriteGuardHooks): Store {
  let depth = 0;
  const guarded = Object.create(store) as Store;
  for (const name of WRITES) {
    const write = (store[name] as (...args: unknown[]) => unknown).bind(store);
    Object.defineProperty(guarded, name, {
      value: (...args: unknown[]) => {
        depth++;
        let result: unknown;
        try {
          result = write(...args);
        } catch (err) {
          depth--;
          // The caller's own errors (inside a transaction) are not the disk's fault.
          if (!isIoError(err) && !isWriteFailure(err)) throw err;
          const failure = writeFailure(err, store.location);
          if (depth === 0) hooks.onWriteFailed(failure);
          throw failure;
        }
        depth--;
        if (depth === 0) hooks.onWriteSucceeded();
        return result;
      },
    });
  }
  return guarded;
}
