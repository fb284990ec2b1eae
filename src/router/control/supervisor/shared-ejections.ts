/**
 * Outlier ejection across the supervisor's workers. Each worker counts its own failures, as nginx's
 * do; without sharing, a failing instance would need that many failures at every worker before the
 * last one stopped sending to it, and the event log would tell each ejection once per worker. Here
 * the first worker to eject an instance owns the ejection: the others follow it, it alone probes,
 * and the daemon hears its ejections and its readmission, once.
 */
import type { RouterEvent } from '../../contract/index.js';
import type { ToWorker } from './protocol.js';

/** What to do with one worker's event. */
export interface EjectionVerdict {
  /** Whether the daemon should hear the event. */
  forward: boolean;
  /** What every other worker should be told, if anything. */
  peers: ToWorker | undefined;
}

const keyOf = (instance: string, address: string) => `${instance}|${address}`;

/** The owner of each instance's ejection, by worker id. */
export class SharedEjections {
  private readonly owners = new Map<string, { worker: number; instance: string; address: string }>();

  /** Judges an event from worker `worker`; events other than ejections and readmissions pass. */
  onEvent(worker: number, event: RouterEvent): EjectionVerdict {
    if (event.type !== 'instance-ejected' && event.type !== 'instance-readmitted') return { forward: true, peers: undefined };
    const key = keyOf(event.instance, event.address);
    const owner = this.owners.get(key);
    // Another worker ejected it at the same moment: that one owns it, this one probes unheard.
    if (owner !== undefined && owner.worker !== worker) return { forward: false, peers: undefined };
    if (event.type === 'instance-readmitted') {
      if (owner === undefined) return { forward: false, peers: undefined };
      this.owners.delete(key);
      return { forward: true, peers: { t: 'peer-ejection', instance: event.instance, address: event.address } };
    }
    this.owners.set(key, { worker, instance: event.instance, address: event.address });
    return { forward: true, peers: { t: 'peer-ejection', instance: event.instance, address: event.address, ejectionMs: event.ejectionMs ?? 0 } };
  }

  /** Worker `worker` is gone: what it held out goes back to the others (its replacement starts fresh). */
  onWorkerExit(worker: number): ToWorker[] {
    const out: ToWorker[] = [];
    for (const [key, o] of this.owners) {
      if (o.worker !== worker) continue;
      this.owners.delete(key);
      out.push({ t: 'peer-ejection', instance: o.instance, address: o.address });
    }
    return out;
  }
}
