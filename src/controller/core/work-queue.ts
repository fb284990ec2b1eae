/**
 * The controller's work queue, keyed by `namespace/name` as Kubernetes controllers key theirs.
 * A key waiting is run once however often it is added (coalescing); a key runs on one worker at a
 * time, and a key added while it runs runs again afterwards, so the last change is never missed;
 * different keys run in parallel up to `concurrency`. A failing key comes back after a back-off
 * that doubles per failure up to a cap and starts over after a success. When the failure carries
 * the delay a server asked for (`retryAfterMs`, see src/lib/retry-after.ts), the key waits the
 * longer of the two, and is held that long: changes meanwhile run it once the delay is over, so
 * a throttling server is not hammered by every watch event.
 */
import { retryAfterMsOf } from '../../lib/retry-after.js';

/** Timers the queue waits with; injectable so that tests drive them with a fake clock. */
export interface QueueTimers {
  /** Calls `fn` after `delayMs`; returns a handle for {@link QueueTimers.clearTimeout}. */
  setTimeout(fn: () => void, delayMs: number): unknown;
  /** Cancels a timer set by {@link QueueTimers.setTimeout}. */
  clearTimeout(handle: unknown): void;
  /** The clock (epoch ms): which of two requeues is due first. */
  nowMs(): number;
}

/** Back-off of a key whose handler failed: `baseMs`, doubled per consecutive failure, at most `maxMs`. */
export interface BackoffOptions {
  /** Delay after the first failure; default 100 ms. */
  baseMs: number;
  /** Longest delay; default 30 s. */
  maxMs: number;
}

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** Does the work of one key; a rejection is reported to `onError` and the key retried after a back-off. */
  handler: (key: string) => Promise<void>;
  /** Keys run at the same time at most; default 4. */
  concurrency?: number | undefined;
  /** Back-off after failures; see {@link BackoffOptions}. */
  backoff?: Partial<BackoffOptions> | undefined;
  /**
   * Hears of every failure of the handler, with the key's consecutive failures and the delay before
   * its retry (the larger of the back-off and the server's `retryAfterMs`, when the error names one).
   */
  onError?: ((failure: { key: string; error: unknown; failures: number; retryInMs: number }) => void) | undefined;
  /** Timers and clock; real ones (unref'd, so that a queue keeps no process alive) by default. */
  timers?: QueueTimers | undefined;
}

/** Work offered to a queue that was shut down. */
export class WorkQueueClosedError extends Error {
  readonly code = 'WorkQueueClosed';
  constructor(readonly key: string) {
    super(`the work queue is shut down: "${key}" was not run`);
    this.name = 'WorkQueueClosedError';
  }
}

/** The key of an object: `namespace/name`. */
export function queueKey(key: { namespace: string; name: string }): string {
  return `${key.namespace}/${key.name}`;
}

const REAL_TIMERS: QueueTimers = {
  setTimeout: (fn, delayMs) => {
    const t = setTimeout(fn, delayMs);
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  nowMs: () => Date.now(),
};

/** A coalescing, per-key serial, back-off-retrying work queue. */
export class WorkQueue {
  private readonly handler: WorkQueueOptions['handler'];
  private readonly concurrency: number;
  private readonly backoff: BackoffOptions;
  private readonly onError: WorkQueueOptions['onError'];
  private readonly timers: QueueTimers;
  /** Keys waiting for a worker, oldest first; `queued` is the same set, for lookups. */
  private readonly ready: string[] = [];
  private readonly queued = new Set<string>();
  /** Keys held now, by the handler or by {@link WorkQueue.run}. */
  private readonly busy = new Set<string>();
  /** Keys added while held: they run again once released. */
  private readonly dirty = new Set<string>();
  /** {@link WorkQueue.run} callers waiting for a held key, per key, in order. */
  private readonly waiters = new Map<string, (() => void)[]>();
  private readonly delayed = new Map<string, { dueMs: number; handle: unknown }>();
  private readonly failures = new Map<string, number>();
  /** Keys a server asked to leave alone, until when (epoch ms): an add meanwhile waits for it. */
  private readonly holds = new Map<string, number>();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** When each key's handler started, for the keys it is running now. */
  private readonly startedMs = new Map<string, number>();
  private workers = 0;
  private closed = false;

  constructor(options: WorkQueueOptions) {
    this.handler = options.handler;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.backoff = { baseMs: 100, maxMs: 30_000, ...options.backoff };
    this.onError = options.onError;
    this.timers = options.timers ?? REAL_TIMERS;
  }

  /**
   * Queues `key` to run as soon as a worker is free (once, however often it is added meanwhile);
   * a key held after a server asked for a delay runs when the delay is over.
   */
  add(key: string): void {
    if (this.closed) return;
    const heldUntilMs = this.holds.get(key);
    if (heldUntilMs !== undefined) {
      const leftMs = heldUntilMs - this.timers.nowMs();
      if (leftMs > 0) return this.addAfter(key, leftMs);
      this.holds.delete(key);
    }
    if (this.busy.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.ready.push(key);
    this.pump();
  }

  /** Queues `key` after `delayMs` (a requeue-after); of two pending requeues of a key, the earlier one wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.closed) return;
    if (delayMs <= 0) return this.add(key);
    const dueMs = this.timers.nowMs() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.dueMs <= dueMs) return;
    if (pending) this.timers.clearTimeout(pending.handle);
    const handle = this.timers.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { dueMs, handle });
  }

  /**
   * Runs `fn` holding `key`: after the key's running work and before its next run, never beside
   * it (an operation a person asked for, serialised with the reconciles of the same object).
   * Rejects with {@link WorkQueueClosedError} after {@link WorkQueue.shutdown}.
   */
  async run<T>(key: string, fn: () => Promise<T> | T): Promise<T> {
    if (this.closed) throw new WorkQueueClosedError(key);
    const work = (async () => {
      await this.acquire(key);
      try {
        return await fn();
      } finally {
        this.release(key);
      }
    })();
    this.track(work);
    return work;
  }

  /** Keys waiting for a worker now (not those running or waiting on a requeue-after timer). */
  get length(): number {
    return this.ready.length;
  }

  /**
   * The keys whose handler runs now and for how long, longest first: a pass that never ends
   * holds its key for good (every change to it waits), so it must be visible.
   */
  running(): Array<{ key: string; forMs: number }> {
    const nowMs = this.timers.nowMs();
    return [...this.startedMs].map(([key, startedMs]) => ({ key, forMs: nowMs - startedMs })).sort((a, b) => b.forMs - a.forMs);
  }

  /** Consecutive failures of a key's handler (0 after a success). */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Stops taking work, drops what waits, and resolves once the work running now has finished. */
  async shutdown(): Promise<void> {
    this.closed = true;
    for (const { handle } of this.delayed.values()) this.timers.clearTimeout(handle);
    this.delayed.clear();
    this.holds.clear();
    this.ready.length = 0;
    this.queued.clear();
    this.dirty.clear();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private pump(): void {
    while (!this.closed && this.workers < this.concurrency) {
      // A key held by `run` waits in line without blocking the keys behind it.
      const index = this.ready.findIndex((k) => !this.busy.has(k));
      if (index < 0) return;
      const [key] = this.ready.splice(index, 1) as [string];
      this.queued.delete(key);
      this.work(key);
    }
  }

  private work(key: string): void {
    this.workers += 1;
    this.busy.add(key);
    this.startedMs.set(key, this.timers.nowMs());
    const done = (async () => {
      try {
        await this.handler(key);
        this.failures.delete(key);
      } catch (error) {
        const failures = this.failuresOf(key) + 1;
        this.failures.set(key, failures);
        const backoffMs = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** (failures - 1));
        const serverMs = retryAfterMsOf(error);
        const retryInMs = serverMs === undefined ? backoffMs : Math.max(backoffMs, serverMs);
        // Held before the key is released below: a change that came while it ran must wait too.
        if (serverMs !== undefined) this.holds.set(key, this.timers.nowMs() + retryInMs);
        this.addAfter(key, retryInMs);
        this.onError?.({ key, error, failures, retryInMs });
      } finally {
        this.startedMs.delete(key);
        this.workers -= 1;
        this.release(key);
      }
    })();
    this.track(done);
  }

  private acquire(key: string): Promise<void> {
    if (!this.busy.has(key)) {
      this.busy.add(key);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const line = this.waiters.get(key) ?? [];
      line.push(resolve);
      this.waiters.set(key, line);
    });
  }

  /** Hands a key to its next waiter (still held), or frees it and reruns it when it was added meanwhile. */
  private release(key: string): void {
    const line = this.waiters.get(key);
    const next = line?.shift();
    if (line?.length === 0) this.waiters.delete(key);
    if (next) {
      next();
      return;
    }
    this.busy.delete(key);
    if (this.dirty.delete(key)) this.add(key);
    this.pump();
  }

  private track(work: Promise<unknown>): void {
    const settled = work.then(() => undefined, () => undefined);
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
  }
}
