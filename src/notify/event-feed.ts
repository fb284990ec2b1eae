/**
 * Controller events made into notifications, and the EventSink decorator the Kubernetes root
 * wraps its sink with (the single host feeds its event log's stream in instead, which also
 * carries the release loop's events). Only events that are transitions become notifications;
 * an abort that the guard made says so in its reason (`GuardFailed`), as the engine emits the
 * guard's event just before the abort's.
 */
import type { EventSink, RecordedEvent } from '../controller/core/ports.js';
import type { NewEvent, ObjectKey } from '../state/state-port.js';
import type { Notification } from './notification.js';
import { isReleaseReason, transitionOf } from './transitions.js';

/** Reasons whose event, just before an abort, names the abort's cause. */
const ABORT_CAUSES = new Set(['GuardFailed']);

/** Turns a stream of events into notifications for `send`. */
export class EventFeed {
  /** The cause seen last per subject, used by its next abort. */
  private readonly causes = new Map<string, string>();

  constructor(private readonly send: (n: Notification) => void) {}

  /** One event about `key` (a service's rollout, or a release by its name). */
  event(key: ObjectKey, e: NewEvent): void {
    const id = `${key.namespace}/${key.name}`;
    if (ABORT_CAUSES.has(e.reason)) {
      this.causes.set(id, e.reason);
      return;
    }
    const transition = transitionOf(e.reason);
    if (!transition) return;
    let reason = e.reason;
    if (transition === 'aborted') {
      reason = this.causes.get(id) ?? reason;
      this.causes.delete(id);
    }
    this.send({ transition, subject: isReleaseReason(e.reason) ? 'release' : 'rollout', namespace: key.namespace, name: key.name, reason, message: e.message, level: e.level, atMs: e.atMs });
  }
}

/** `inner`, whose events are also fed to `feed`. */
export function notifyingEventSink(inner: EventSink, feed: EventFeed): EventSink {
  return {
    committed(key: ObjectKey, events: RecordedEvent[]): void {
      inner.committed(key, events);
      for (const e of events) feed.event(key, e);
    },
    emit(key: ObjectKey, event: NewEvent): void {
      inner.emit(key, event);
      feed.event(key, event);
    },
  };
}
