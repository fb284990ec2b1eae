/**
 * The single host's app instances as the store remembers them: adoption records written as
 * instances change (so a restarted daemon re-adopts what runs), re-adoption at start, and what
 * an instance going unready or failing means for routing and for the event log.
 */
import type { InstanceInfo, Runtime } from '../../runtime/runtime.js';
import { adoptRecordOf } from '../../runtime/process/process-runtime.js';
import type { ProcessTemplate } from '../../documents/schema.js';
import type { Store, StoredEvent } from '../../state/store.js';
import { isWriteFailure } from '../../state/write-guard.js';

/**
 * An instance whose readiness probe keeps failing gets a `ReadinessProbeFailing` event when it
 * turns unready and again at most this often while it stays so: said, but not once per probe.
 */
export const PROBE_FAILING_EVENT_INTERVAL_MS = 60_000;

/** Options of {@link LocalInstances}. */
export interface LocalInstancesOptions {
  /** Where adoption records live. */
  store: Store;
  /** Runs `process` services. */
  processRuntime: Runtime<ProcessTemplate>;
  /** Clock, epoch ms. */
  nowMs: () => number;
  /** Records an event. */
  emit: (service: string, level: StoredEvent['level'], reason: string, message: string) => void;
  /** An instance changed state: its service's route and rollout need another look. */
  changed: (service: string) => void;
}

/** What `start` did with the instances an earlier daemon left running. */
export interface Adoption {
  /** Instances taken over. */
  adopted: number;
  /** Why the others could not be. */
  rejected: string[];
}

/** See the file's comment. */
export class LocalInstances {
  /** When each unready instance's last ReadinessProbeFailing event was recorded (controller clock). */
  private readonly probeEventAtMs = new Map<string, number>();

  constructor(private readonly options: LocalInstancesOptions) {}

  /** Re-adopts the process instances the store remembers; forgets (and says) those that are gone. */
  async adopt(): Promise<Adoption> {
    const { store, processRuntime } = this.options;
    const records = store.listInstances().filter((r) => (r.record as { pid?: number } | null)?.pid !== undefined);
    const result = await processRuntime.adopt(records.map((r) => r.record as Parameters<Runtime['adopt']>[0][number]));
    for (const r of result.rejected) store.deleteInstance(r.record.id);
    if (result.rejected.length > 0) {
      store.appendEvents('daemon', [{ atMs: this.options.nowMs(), level: 'warning', reason: 'InstancesLost', message: result.rejected.map((r) => r.message).join('; ') }]);
    }
    return { adopted: result.adopted.length, rejected: result.rejected.map((r) => r.message) };
  }

  /** A runtime's change event. */
  onChange(instance: InstanceInfo, previousState: string): void {
    try {
      this.record(instance);
    } catch (err) {
      // Recorded again once writes work (resync); routing does not wait for it.
      if (!isWriteFailure(err)) throw err;
    }
    if (previousState === instance.state) return;
    this.options.changed(instance.service);
    if (instance.state === 'failed' && instance.lastError) this.options.emit(instance.service, 'warning', 'InstanceFailed', `${instance.id}: ${instance.lastError}`);
    if (instance.state === 'unready') this.probeFailing(instance);
  }

  /** Says that an instance's readiness probe fails, with its last result; rate-limited per instance. */
  probeFailing(instance: InstanceInfo): void {
    const probe = instance.lastProbe;
    if (probe?.outcome !== 'fail') return;
    const now = this.options.nowMs();
    const last = this.probeEventAtMs.get(instance.id);
    if (last !== undefined && now - last < PROBE_FAILING_EVENT_INTERVAL_MS) return;
    this.probeEventAtMs.set(instance.id, now);
    this.options.emit(instance.service, 'warning', 'ReadinessProbeFailing', `${instance.id} (revision ${instance.revision}) is not ready: readiness probe failed: ${probe.detail}`);
  }

  /** After a write outage: the adoption records say again what runs now. */
  resync(): void {
    const { store, processRuntime } = this.options;
    const live = processRuntime.listInstances();
    const ids = new Set(live.map((i) => i.id));
    store.transaction(() => {
      for (const r of store.listInstances()) if (!ids.has(r.id) && (r.record as { pid?: number } | null)?.pid !== undefined) store.deleteInstance(r.id);
      for (const i of live) this.record(i);
    });
  }

  private record(instance: InstanceInfo): void {
    const { store } = this.options;
    if (instance.state === 'stopped') {
      this.probeEventAtMs.delete(instance.id);
      store.deleteInstance(instance.id);
      return;
    }
    const revision = store.listRevisions(instance.service).find((r) => r.name === instance.revision);
    const record = revision && instance.pid !== undefined ? adoptRecordOf(instance, revision.template as ProcessTemplate) : undefined;
    if (record) store.putInstance({ id: instance.id, service: instance.service, revision: instance.revision, record });
  }
}
