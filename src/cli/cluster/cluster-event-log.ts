/**
 * The namespace's Kubernetes Events about Rollouts and Releases as the API's event stream: each
 * occurrence (a new Event, or a repeat that bumped an Event's `count`) becomes one EventView with
 * an id higher than every earlier one, so a console can resume after the last id it saw. Events
 * have no such id of their own; the ids are this process's, counted from its first list.
 */
import type { CoreV1Event } from '@kubernetes/client-node';
import type { EventView } from '../../api/contract/index.js';

/** The kinds whose Events are the console's: graylane's objects. */
const KINDS = new Set(['Rollout', 'Release']);

/** How many occurrences are kept for `events()` and resuming streams; older ones are forgotten. */
const DEFAULT_CAPACITY = 2000;

/** When the Event (this occurrence of it) happened, epoch ms. */
function atMsOf(event: CoreV1Event): number {
  const candidates = [event.lastTimestamp, event.series?.lastObservedTime, event.eventTime, event.firstTimestamp, event.metadata?.creationTimestamp];
  for (const t of candidates) {
    if (t === undefined || t === null) continue;
    const ms = new Date(t).getTime();
    if (Number.isFinite(ms)) return ms;
  }
  return 0;
}

/** Which occurrence of the Event this is: a repeat counts up. */
function occurrenceKey(event: CoreV1Event): string {
  return `${event.metadata?.uid ?? event.metadata?.name ?? ''}#${event.count ?? event.series?.count ?? 1}`;
}

/** See the file comment. */
export class ClusterEventLog {
  private readonly seen = new Set<string>();
  private readonly log: EventView[] = [];
  private nextId = 1;
  private readonly capacity: number;

  constructor(options: { capacity?: number } = {}) {
    this.capacity = options.capacity ?? DEFAULT_CAPACITY;
  }

  /**
   * Takes Events in (the first list, then each watched change) and returns the occurrences not
   * seen before, as EventViews with new ids, oldest first. Events about other kinds are ignored.
   */
  add(events: readonly CoreV1Event[]): EventView[] {
    const fresh = events
      .filter((e) => KINDS.has(e.involvedObject.kind ?? '') && !this.seen.has(occurrenceKey(e)))
      .sort((a, b) => atMsOf(a) - atMsOf(b));
    const added: EventView[] = [];
    for (const e of fresh) {
      this.seen.add(occurrenceKey(e));
      const view: EventView = {
        id: this.nextId++,
        service: e.involvedObject.name ?? '',
        atMs: atMsOf(e),
        level: e.type === 'Warning' ? 'warning' : 'info',
        reason: e.reason ?? '',
        message: e.message ?? '',
      };
      this.log.push(view);
      added.push(view);
    }
    if (this.log.length > this.capacity) this.log.splice(0, this.log.length - this.capacity);
    return added;
  }

  /** Occurrences kept, oldest first: of one service, after an id, the last `limit` of them. */
  events(options: { service?: string | undefined; afterId?: number | undefined; limit?: number | undefined } = {}): EventView[] {
    const matching = this.log.filter((e) => (options.service === undefined || e.service === options.service) && e.id > (options.afterId ?? 0));
    return options.limit === undefined ? matching : matching.slice(Math.max(0, matching.length - options.limit));
  }
}
