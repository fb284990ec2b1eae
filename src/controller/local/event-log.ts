/**
 * The single host's event log and its watchers: events are recorded in the store and streamed
 * to subscribers; while the state directory refuses writes they are held, in order, and written
 * with an outage event once writes work again (the daemon keeps routing meanwhile).
 */
import type { Store, StoreError, StoredEvent } from '../../state/store.js';
import { isWriteFailure } from '../../state/write-guard.js';
import type { EventView } from '../control-plane.js';
import type { ServiceView } from '../view-model.js';
import type { RouterEventRecord } from './router-events.js';
import { StoreHealth } from './store-health.js';

/** One change a watcher hears of: an event, a view, or both. */
export type ChangeListener = (change: { event?: EventView; view?: ServiceView }) => void;

/** How much of the event log the daemon keeps. Older events are deleted in the background. */
export interface EventRetention {
  /** Newest events kept per service (and for the daemon itself); default 1000. */
  keepPerService: number;
  /** Events older than this go, however few; default 30 days. */
  maxAgeMs: number;
  /** How often the log is trimmed, and only when events were added since; default 60 s. */
  trimIntervalMs: number;
}

/** Defaults of {@link EventRetention}. */
export const DEFAULT_EVENT_RETENTION: EventRetention = { keepPerService: 1000, maxAgeMs: 30 * 24 * 3600_000, trimIntervalMs: 60_000 };

/** Options of {@link LocalEventLog}. */
export interface LocalEventLogOptions {
  /** Clock, epoch ms. */
  nowMs: () => number;
  /** Writes work again and the held events are written: the caller catches up (instance records, views). */
  onRecovered: () => void;
  /** Writes began to fail: views now say so. */
  onFault: () => void;
  /** Hears every event streamed, watched or not (notifications); must not throw or block. */
  onEvent?: ((event: EventView) => void) | undefined;
}

/** Records, holds and streams events; see the file's comment. */
export class LocalEventLog {
  /** Write failures of the state store: the daemon keeps routing and retries with back-off. */
  readonly health: StoreHealth;
  private readonly listeners = new Set<ChangeListener>();
  private store: Store | undefined;
  private flushing = false;
  /** Newest event id at the last trim: nothing new, nothing to trim (an idle daemon writes nothing). */
  private trimmedUpToId = -1;

  constructor(private readonly options: LocalEventLogOptions) {
    this.health = new StoreHealth({ nowMs: options.nowMs });
  }

  /** The (write-guarded) store events go to; set once, right after the guard is made. */
  attach(store: Store): void {
    this.store = store;
  }

  /** Whether anyone listens (views are built only then). */
  get watched(): boolean {
    return this.listeners.size > 0;
  }

  /** Adds a watcher; returns the unsubscribe. */
  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Streams a change to every watcher. */
  notify(change: { event?: EventView; view?: ServiceView }): void {
    if (change.event) this.options.onEvent?.(change.event);
    for (const l of this.listeners) l(change);
  }

  /** Records and streams an event; while writes fail it waits (in order) for them to work again. */
  emit(service: string, level: StoredEvent['level'], reason: string, message: string): void {
    this.record({ service, atMs: this.options.nowMs(), level, reason, message });
  }

  /** Records and streams an event made elsewhere (the router's). */
  record(event: RouterEventRecord): void {
    if (this.health.backlog) return this.health.hold(event);
    let id: number;
    try {
      [id] = this.requireStore().appendEvents(event.service, [{ atMs: event.atMs, level: event.level, reason: event.reason, message: event.message }]) as [number];
    } catch (err) {
      if (!isWriteFailure(err)) throw err;
      return this.health.hold(event);
    }
    this.notify({ event: { id, ...event } });
  }

  /** An error of background work, as an event; a write failure is already on record. */
  reportFailure(service: string, reason: string, err: unknown): void {
    if (isWriteFailure(err)) return;
    this.emit(service, 'error', reason, err instanceof Error ? err.message : String(err));
  }

  /** The write guard saw a write fail. */
  writeFailed(err: StoreError): void {
    if (this.health.failed(err)) this.options.onFault();
  }

  /** The write guard saw a write land. */
  writeSucceeded(): void {
    if (this.health.backlog) this.flushBacklog();
  }

  /** Writes the outage event and held events; on success the outage is over. */
  flushBacklog(): void {
    if (this.flushing) return;
    this.flushing = true;
    try {
      const store = this.requireStore();
      const events = this.health.drain();
      const ids = store.transaction(() => events.map((e) => store.appendEvents(e.service, [e])[0]!));
      this.health.written();
      events.forEach((e, i) => this.notify({ event: { id: ids[i]!, ...e } }));
      this.options.onRecovered();
    } catch (err) {
      if (!isWriteFailure(err)) throw err;
    } finally {
      this.flushing = false;
    }
  }

  /** Keeps the event log within its retention; runs on a timer, never on the way of an event. */
  trim(retention: EventRetention): void {
    if (this.health.backlog) return;
    const store = this.requireStore();
    const newest = store.listEvents({ limit: 1 })[0]?.id ?? 0;
    if (newest === this.trimmedUpToId) return;
    try {
      store.trimEvents({ keepPerService: retention.keepPerService, maxAgeMs: retention.maxAgeMs, nowMs: this.options.nowMs() });
      this.trimmedUpToId = newest;
    } catch (err) {
      if (!isWriteFailure(err)) throw err;
    }
  }

  private requireStore(): Store {
    if (!this.store) throw new Error('LocalEventLog used before attach()');
    return this.store;
  }
}
