/**
 * The small ports of the core's reconciler on Kubernetes (analysis has its own file,
 * kubernetes-analysis.ts). Counters: nothing counts a
 * revision's requests on Kubernetes yet. Events: commits' events are posted by the state port
 * (KubernetesState) with the commit; the rest (a scaling or routing failure) are posted here.
 */
import type { EventRecorder } from '../../kube/event-recorder.js';
import { rolloutApiVersion, type RolloutFlavour } from '../../kube/rollout-flavour.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import type { NewEvent, ObjectKey } from '../../state/state-port.js';
import type { CountersSource, EventSink, RecordedEvent } from '../core/ports.js';
import type { ControllerLog } from './controller-loop.js';
import type { RolloutObject } from './rollout-spec-source.js';

/** See the file comment. */
export const noCounters: CountersSource = { requests: () => Promise.resolve(undefined) };

/** Options of {@link KubernetesEventSink}. */
export interface KubernetesEventSinkOptions {
  /** Posts the Events. */
  recorder: Pick<EventRecorder, 'post'>;
  /** Where the Rollout's uid is read (so that `kubectl describe` finds the Event). */
  rollouts: ObjectCache<RolloutObject>;
  /** Every event is also a log line. */
  log: ControllerLog;
  /** Whose Rollouts (default `graylane`): the Event's involved object names their apiVersion. */
  flavour?: RolloutFlavour | undefined;
}

/** See the file comment. */
export class KubernetesEventSink implements EventSink {
  constructor(private readonly options: KubernetesEventSinkOptions) {}

  /** Logs the commit's events; KubernetesState posted them with the commit. */
  committed(key: ObjectKey, events: RecordedEvent[]): void {
    for (const e of events) this.options.log(e.level === 'info' ? 'info' : 'warn', e.message, { rollout: `${key.namespace}/${key.name}`, reason: e.reason });
  }

  /** Posts an event outside a commit as a Kubernetes Event about the Rollout, and logs it. */
  emit(key: ObjectKey, event: NewEvent): void {
    this.options.log(event.level === 'info' ? 'info' : event.level === 'warning' ? 'warn' : 'error', event.message, { rollout: `${key.namespace}/${key.name}`, reason: event.reason });
    const uid = this.options.rollouts.get(key.namespace, key.name)?.metadata?.uid;
    // Through the recorder's per-object line: two repeats of one Event posted at once would
    // both bump the same resourceVersion, and the second would be refused with a Conflict.
    this.options.recorder.post({
      object: { apiVersion: rolloutApiVersion(this.options.flavour ?? 'graylane'), kind: 'Rollout', namespace: key.namespace, name: key.name, uid },
      level: event.level, reason: event.reason, message: event.message, atMs: event.atMs,
    });
  }
}
