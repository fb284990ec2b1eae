/**
 * Posts core/v1 Events about the objects graylane manages, so that `kubectl describe rollout` and
 * `kubectl get events` tell what the controller did. Like client-go's correlator, the same reason
 * and message about the same object again within a few minutes bumps `count` on the Event already
 * posted instead of adding one: a rollout stuck in a loop shows one line with a count, not a page.
 * Events are advice for people: a failure to post one is logged and never fails a pass. When the
 * API server sheds an Event write (429 or 503 with Retry-After), the Events of the time it asked
 * for are dropped, not sent: an Event is not worth adding load to a server that is shedding it.
 */
import { CoreV1Api, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import { EVENT_COMPONENT } from './names.js';
import { serverRetryAfterMs } from './retry-after.js';

/** Severity of an event (the state port's levels); `warning` and `error` post a `Warning` Event. */
export type EventLevel = 'info' | 'warning' | 'error';

/** The object an Event is about. */
export interface InvolvedObject {
  /** e.g. `graylane.dev/v1alpha1`. */
  apiVersion: string;
  /** e.g. `Rollout`. */
  kind: string;
  /** Its namespace (the Event is posted there). */
  namespace: string;
  /** Its name. */
  name: string;
  /** Its uid: `kubectl describe` matches Events to the object by it. */
  uid?: string | undefined;
  /** The resourceVersion the event was decided on. */
  resourceVersion?: string | undefined;
}

/** One event to post. */
export interface RecordedEvent {
  /** What it is about. */
  object: InvolvedObject;
  /** Severity. */
  level: EventLevel;
  /** Machine-readable reason, e.g. `RolloutPaused`. */
  reason: string;
  /** A sentence for people. */
  message: string;
  /** When it happened (epoch ms); default: now. */
  atMs?: number | undefined;
}

/** Options of {@link EventRecorder}. */
export interface EventRecorderOptions {
  /** Where to post. */
  kubeConfig: KubeConfig;
  /** `source.component` and `reportingComponent`; default `graylane-controller`. */
  component?: string | undefined;
  /** How long an Event takes repeats into its count; default 10 minutes (client-go's). */
  aggregateWindowMs?: number | undefined;
  /** Clock (epoch ms); default `Date.now`. */
  nowMs?: (() => number) | undefined;
  /** Distinct Events remembered for counting repeats, the least recently used forgotten first; default 4096. */
  maxRemembered?: number | undefined;
  /** Where failures to post are logged; default standard error. */
  log?: ((line: string) => void) | undefined;
}

/** What the recorder remembers of an Event it posted. */
interface Posted {
  event: CoreV1Event;
  lastMs: number;
}

/**
 * Annotations that keep what an Event's own fields round off: the level (`error` and `warning`
 * are both `Warning`) and the time in milliseconds (Event times are whole seconds).
 */
export const EVENT_LEVEL_ANNOTATION = 'graylane.dev/level';
/** See {@link EVENT_LEVEL_ANNOTATION}: epoch ms of the first occurrence. */
export const EVENT_TIME_ANNOTATION = 'graylane.dev/at-ms';

/** An Event graylane posted, read back as the event it records (the first occurrence's time). */
export function readRecordedEvent(event: CoreV1Event): { atMs: number; level: EventLevel; reason: string; message: string } {
  const annotations = event.metadata.annotations ?? {};
  const level = annotations[EVENT_LEVEL_ANNOTATION];
  const atMs = Number(annotations[EVENT_TIME_ANNOTATION]);
  return {
    atMs: Number.isFinite(atMs) ? atMs : (event.firstTimestamp ?? event.lastTimestamp ?? new Date(0)).getTime(),
    level: level === 'info' || level === 'warning' || level === 'error' ? level : event.type === 'Warning' ? 'warning' : 'info',
    reason: event.reason ?? '',
    message: event.message ?? '',
  };
}

const TEN_MINUTES_MS = 10 * 60 * 1000;
const MAX_REMEMBERED = 4096;

function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** See the file comment. */
export class EventRecorder {
  private readonly api: CoreV1Api;
  private readonly component: string;
  private readonly windowMs: number;
  private readonly maxRemembered: number;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly posted = new Map<string, Posted>();
  private sequence = 0;
  /** Until when (epoch ms, on the recorder's clock) Events are dropped: the server asked for quiet. */
  private quietUntilMs = 0;
  private droppedWhileQuiet = 0;
  /** Posts started by {@link post} and not settled yet, per involved object: each object's in order. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(options: EventRecorderOptions) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.component = options.component ?? EVENT_COMPONENT;
    this.windowMs = options.aggregateWindowMs ?? TEN_MINUTES_MS;
    this.maxRemembered = options.maxRemembered ?? MAX_REMEMBERED;
    this.now = options.nowMs ?? Date.now;
    this.log = options.log ?? ((line) => void process.stderr.write(`${line}\n`));
  }

  /**
   * Posts the event (or bumps the count of the same one posted lately); never rejects. Dropped
   * (and counted in the next log line) while a server's Retry-After runs.
   */
  async record(event: RecordedEvent): Promise<void> {
    const o = event.object;
    if (this.now() < this.quietUntilMs) {
      this.droppedWhileQuiet += 1;
      return;
    }
    if (this.droppedWhileQuiet > 0) {
      this.log(`${this.droppedWhileQuiet} event(s) dropped while the API server asked for quiet`);
      this.droppedWhileQuiet = 0;
    }
    const atMs = event.atMs ?? this.now();
    const type = event.level === 'info' ? 'Normal' : 'Warning';
    const key = [o.namespace, o.apiVersion, o.kind, o.name, o.uid ?? '', event.level, event.reason, event.message].join('\u0000');
    try {
      const earlier = this.posted.get(key);
      if (earlier && atMs - earlier.lastMs <= this.windowMs) {
        const bumped = await this.bump(earlier.event, event, atMs);
        if (bumped) {
          this.remember(key, { event: bumped, lastMs: atMs });
          return;
        }
      }
      const created = await this.api.createNamespacedEvent({ namespace: o.namespace, body: this.newEvent(event, type, atMs) });
      this.remember(key, { event: created, lastMs: atMs });
    } catch (error) {
      const quietMs = serverRetryAfterMs(error);
      if (quietMs !== undefined) this.quietUntilMs = this.now() + quietMs;
      const quiet = quietMs === undefined ? '' : `; the server asked for quiet: events of the next ${quietMs} ms are dropped`;
      this.log(`event ${event.reason} about ${o.kind} ${o.namespace}/${o.name} not posted: ${(error as Error).message}${quiet}`);
    }
  }

  /**
   * Posts the event without holding the caller: a reconcile pass must not wait one API round trip
   * per Event (client-go's recorder is asynchronous too). The Events of one object are posted in
   * order; {@link flush} waits for every post started.
   */
  post(event: RecordedEvent): void {
    const o = event.object;
    const key = `${o.namespace}/${o.kind}/${o.name}`;
    const next = (this.chains.get(key) ?? Promise.resolve()).then(() => this.record(event));
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  /** Resolves once every Event handed to {@link post} so far was posted (or given up on). */
  async flush(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  /**
   * The Event with its count bumped, or undefined when it is gone (deleted, expired): post a new
   * one. A Conflict (someone else bumped it: another replica, a recorder of another process)
   * is retried once on the Event as it stands now.
   */
  private async bump(existing: CoreV1Event, event: RecordedEvent, atMs: number): Promise<CoreV1Event | undefined> {
    const replace = (current: CoreV1Event): Promise<CoreV1Event> => this.api.replaceNamespacedEvent({
      namespace: event.object.namespace, name: current.metadata.name!,
      body: {
        ...current,
        count: (current.count ?? 1) + 1,
        lastTimestamp: new Date(rfc3339(atMs)),
        involvedObject: { ...current.involvedObject, ...(event.object.resourceVersion === undefined ? {} : { resourceVersion: event.object.resourceVersion }) },
      },
    });
    try {
      return await replace(existing);
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      if (statusCode(error) !== 409) throw error;
    }
    try {
      return await replace(await this.api.readNamespacedEvent({ namespace: event.object.namespace, name: existing.metadata.name! }));
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      throw error;
    }
  }

  private newEvent(event: RecordedEvent, type: 'Normal' | 'Warning', atMs: number): CoreV1Event {
    const o = event.object;
    const at = new Date(rfc3339(atMs));
    // client-go names Events <object>.<hex time>; the sequence keeps two in one millisecond apart.
    const name = `${o.name}.${atMs.toString(16)}${(this.sequence++).toString(16).padStart(4, '0')}`;
    return {
      apiVersion: 'v1', kind: 'Event',
      metadata: { name, namespace: o.namespace, annotations: { [EVENT_LEVEL_ANNOTATION]: event.level, [EVENT_TIME_ANNOTATION]: String(atMs) } },
      involvedObject: {
        apiVersion: o.apiVersion, kind: o.kind, namespace: o.namespace, name: o.name,
        ...(o.uid === undefined ? {} : { uid: o.uid }),
        ...(o.resourceVersion === undefined ? {} : { resourceVersion: o.resourceVersion }),
      },
      reason: event.reason, message: event.message, type,
      source: { component: this.component },
      reportingComponent: this.component,
      firstTimestamp: at, lastTimestamp: at, count: 1,
    };
  }

  private remember(key: string, posted: Posted): void {
    // Re-inserted, so that the map's order is the order of last use and the oldest come first.
    this.posted.delete(key);
    this.posted.set(key, posted);
    if (this.posted.size <= this.maxRemembered) return;
    // Over the cap: the least recently used go first, whether or not their window has passed (a
    // scan that frees nothing on every Event was the cost of a large fleet); such an Event's next
    // repeat is posted anew instead of counted, which is all that is lost.
    for (const k of this.posted.keys()) {
      if (this.posted.size <= this.maxRemembered) break;
      this.posted.delete(k);
    }
  }
}
