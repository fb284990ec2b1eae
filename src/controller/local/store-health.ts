/**
 * Whether the daemon can write its state, and what to do while it cannot: events wait in a
 * bounded queue, retries back off, and once a write lands again the outage becomes an error event.
 */
import type { StatePort } from '../../state/state-port.js';
import type { StoreError, StoredEvent } from '../../state/store.js';
import type { StateWritesView } from '../view-model.js';

/** An event that could not be written yet. */
export type PendingEvent = Omit<StoredEvent, 'id'>;

/** Options of {@link StoreHealth}. */
export interface StoreHealthOptions {
  /** Clock. */
  nowMs: () => number;
  /** First retry delay; doubles per failure. Default 1 s. */
  initialBackoffMs?: number;
  /** Longest retry delay. Default 30 s. */
  maxBackoffMs?: number;
  /** Events kept while writes fail; older ones are dropped (and counted). Default 1000. */
  maxPendingEvents?: number;
}

/** Tracks write failures of the state store for one daemon. */
export class StoreHealth {
  private current: (StateWritesView & { error: StoreError; failures: number; nextTryMs: number; dropped: number }) | undefined;
  private readonly queue: PendingEvent[] = [];

  constructor(private readonly options: StoreHealthOptions) {}

  /** The outage in progress, if any. */
  get fault(): StateWritesView | undefined {
    if (!this.current) return undefined;
    const { reason, message, sinceMs } = this.current;
    return { reason, message, sinceMs };
  }

  /** The last write error of the outage in progress. */
  get error(): StoreError | undefined {
    return this.current?.error;
  }

  /** Records a failed write; returns true when it starts an outage. */
  failed(error: StoreError): boolean {
    const now = this.options.nowMs();
    const reason: StateWritesView['reason'] = error.code === 'StateDirFull' ? 'StateDirFull' : 'StateWriteFailed';
    const started = !this.current;
    const failures = (this.current?.failures ?? 0) + 1;
    const initial = this.options.initialBackoffMs ?? 1000;
    const delay = Math.min(this.options.maxBackoffMs ?? 30_000, initial * 2 ** Math.min(failures - 1, 20));
    this.current = { error, reason, message: error.message, sinceMs: this.current?.sinceMs ?? now, failures, nextTryMs: now + delay, dropped: this.current?.dropped ?? 0 };
    return started;
  }

  /** Whether a retry is due (always true when writes work). */
  mayTry(): boolean {
    return !this.current || this.options.nowMs() >= this.current.nextTryMs;
  }

  /** Keeps an event for when writes work again. */
  hold(event: PendingEvent): void {
    this.queue.push(event);
    const max = this.options.maxPendingEvents ?? 1000;
    if (this.queue.length > max) {
      this.queue.splice(0, this.queue.length - max);
      if (this.current) this.current.dropped++;
    }
  }

  /** Whether anything waits to be written (an outage to report, or held events). */
  get backlog(): boolean {
    return this.current !== undefined || this.queue.length > 0;
  }

  /**
   * What to write now that a write works again: the outage as an error event, then the held
   * events. The caller writes them and calls {@link written}; a failure there is just `failed`.
   */
  drain(): PendingEvent[] {
    const out: PendingEvent[] = [];
    if (this.current) {
      const now = this.options.nowMs();
      const seconds = Math.round((now - this.current.sinceMs) / 1000);
      const dropped = this.current.dropped > 0 ? ` ${this.current.dropped} event(s) were dropped.` : '';
      out.push({
        service: 'daemon', atMs: now, level: 'error', reason: this.current.reason,
        message: `writes to the state failed for ${seconds}s (${this.current.message}); they work again.${dropped}`,
      });
    }
    return [...out, ...this.queue];
  }

  /** The drained events are stored: the outage is over. */
  written(): void {
    this.queue.length = 0;
    this.current = undefined;
  }
}

/** A state port whose commits wait for the back-off while writes fail: nothing is committed (or acted on) before another try is due. */
export function gatedState(state: StatePort, health: StoreHealth): StatePort {
  return {
    type: state.type,
    load: (key) => state.load(key),
    commit: (key, change, expected) => (health.backlog && !health.mayTry() ? Promise.reject(health.error!) : state.commit(key, change, expected)),
    loadRelease: (key) => state.loadRelease(key),
    commitRelease: (key, s, expected) => (health.backlog && !health.mayTry() ? Promise.reject(health.error!) : state.commitRelease(key, s, expected)),
  };
}
