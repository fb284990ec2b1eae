/**
 * A deadline for a health check that does not blame the checked app for a stall of this process.
 * When this process's event loop is blocked (a long garbage collection, a heavy pass, the host or
 * VM paused), every timer fires late and all at once: a probe whose answer arrived meanwhile, or
 * whose request was not even sent, would count as timed out, and an instance that served
 * throughout would be taken out of the routes. A deadline that fires well past its time therefore
 * gives the check its time again, once, counted from when the process woke.
 */

/** A timer this late (ms past its time, or half the timeout when that is longer) means this process stalled. */
export const STALL_TOLERANCE_MS = 250;

/** A running deadline. */
export interface Deadline {
  /** Cancels it; idempotent. */
  clear(): void;
}

/** Calls `onExpired` after `timeoutMs`, or after twice that when this process stalled past the first (see the file comment). */
export function stallTolerantDeadline(timeoutMs: number, onExpired: () => void): Deadline {
  let timer: NodeJS.Timeout | undefined;
  const arm = (again: boolean): void => {
    const dueMs = performance.now() + timeoutMs;
    timer = setTimeout(() => {
      const lateMs = performance.now() - dueMs;
      if (!again && lateMs > Math.max(STALL_TOLERANCE_MS, timeoutMs / 2)) arm(true);
      else onExpired();
    }, timeoutMs);
    timer.unref();
  };
  arm(false);
  return { clear: () => clearTimeout(timer) };
}
