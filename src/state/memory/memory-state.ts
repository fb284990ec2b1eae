/**
 * An in-memory state port: versioned records in maps, nothing persisted. For fixture tests of
 * the controller core, and as the reference the conformance suite is read against: every record
 * handed out is a copy, so a caller changing one changes nothing committed.
 */
import type { ReleaseState } from '../../engine/release/releases.js';
import {
  StateConflictError,
  type CommitResult, type NewEvent, type ObjectKey, type ReleaseRecord, type RolloutChange, type RolloutRecord, type StatePort,
} from '../state-port.js';

/** An event as the memory state keeps it. */
export interface MemoryEvent extends NewEvent {
  /** Id, increasing across every record. */
  id: number;
  /** The record it was committed with. */
  key: ObjectKey;
}

const id = (key: ObjectKey) => `${key.namespace}/${key.name}`;

/** A {@link StatePort} in memory. */
export class MemoryState implements StatePort {
  /** Adapter type. */
  readonly type = 'memory';
  private readonly rollouts = new Map<string, RolloutRecord>();
  private readonly releases = new Map<string, ReleaseRecord>();
  private readonly log: MemoryEvent[] = [];

  /** {@inheritDoc StatePort.load} */
  load(key: ObjectKey): Promise<RolloutRecord | undefined> {
    const record = this.rollouts.get(id(key));
    return Promise.resolve(record && structuredClone(record));
  }

  /** {@inheritDoc StatePort.commit} */
  commit(key: ObjectKey, change: RolloutChange, expectedVersion: number): Promise<CommitResult> {
    const current = this.rollouts.get(id(key));
    const actual = current?.version ?? 0;
    if (actual !== expectedVersion) return Promise.reject(new StateConflictError(key, expectedVersion, actual));
    const traffic = change.traffic ?? current?.traffic;
    const record: RolloutRecord = {
      key: { ...key },
      status: structuredClone(change.status),
      ...(traffic ? { traffic: structuredClone(traffic) } : {}),
      version: actual + 1,
      // Shown as a Kubernetes Rollout shows it, so the core's fixture tests see it held and written.
      ...(change.trafficVerified === undefined ? {} : { trafficVerified: change.trafficVerified }),
    };
    this.rollouts.set(id(key), record);
    const eventIds = (change.events ?? []).map((e) => {
      const event: MemoryEvent = { ...e, id: this.log.length + 1, key: { ...key } };
      this.log.push(event);
      return event.id;
    });
    return Promise.resolve({ version: record.version, eventIds });
  }

  /** {@inheritDoc StatePort.loadRelease} */
  loadRelease(key: ObjectKey): Promise<ReleaseRecord | undefined> {
    const record = this.releases.get(id(key));
    return Promise.resolve(record && structuredClone(record));
  }

  /** {@inheritDoc StatePort.commitRelease} */
  commitRelease(key: ObjectKey, state: ReleaseState, expectedVersion: number): Promise<CommitResult> {
    const actual = this.releases.get(id(key))?.version ?? 0;
    if (actual !== expectedVersion) return Promise.reject(new StateConflictError(key, expectedVersion, actual));
    this.releases.set(id(key), { key: { ...key }, state: structuredClone(state), version: actual + 1 });
    return Promise.resolve({ version: actual + 1, eventIds: [] });
  }

  /** Events committed with `key`'s records, oldest first (all of them without a key). */
  events(key?: ObjectKey): MemoryEvent[] {
    return structuredClone(key ? this.log.filter((e) => id(e.key) === id(key)) : this.log);
  }
}
