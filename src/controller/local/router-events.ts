/**
 * Turns the router's notable events (ejections, readmissions, drain timeouts) into events of their
 * service, so `graylane events` and the event stream show what the data plane did on its own.
 * A flapping instance cannot flood the store: each instance gets a few events per window, and
 * what goes over is summed up in one event when the window ends.
 */
import type { RouterEvent } from '../../router/contract/index.js';
import type { StoredEvent } from '../../state/store.js';

/** One event to store, as {@link RouterEventLog} hands it over. */
export interface RouterEventRecord {
  service: string;
  atMs: number;
  level: StoredEvent['level'];
  reason: string;
  message: string;
}

/** Options of {@link RouterEventLog}. */
export interface RouterEventLogOptions {
  /** Stores an event (and tells the stream); may throw, e.g. when the disk is full. */
  record(event: RouterEventRecord): void;
  /** Clock of the rate limit's windows. */
  nowMs: () => number;
  /** Length of a rate-limit window; default 60 s. */
  windowMs?: number;
  /** Events stored one by one per instance and window; default 4 (two eject/readmit rounds). */
  perWindow?: number;
}

interface Budget {
  service: string;
  instance: string;
  startMs: number;
  used: number;
  /** Events not stored one by one, per reason. */
  over: Map<string, number>;
}

/** The stored form of a router event, or undefined for those not worth an event (routine drains). */
export function describeRouterEvent(e: RouterEvent): Omit<RouterEventRecord, 'service' | 'atMs'> | undefined {
  const who = `instance ${e.instance} (${e.address}) of revision ${e.revision}`;
  switch (e.type) {
    case 'instance-ejected':
      return { level: 'warning', reason: 'InstanceEjected', message: `${who} taken out of balancing for ${seconds(e.ejectionMs ?? 0)}: ${e.reason ?? 'failures'}` };
    case 'instance-readmitted':
      return { level: 'info', reason: 'InstanceReadmitted', message: `${who} back in balancing: its probe passed` };
    case 'instance-drain-timeout':
      return { level: 'warning', reason: 'DrainTimeout', message: `${who} was removed with ${e.abandoned ?? 0} request(s) or stream(s) still open at the drain deadline; they were cut` };
    case 'instance-draining':
    case 'instance-drained':
      // Every rollout drains instances: the rollout's own events already tell that story.
      return undefined;
  }
}

const seconds = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`);

/** See the module comment. */
export class RouterEventLog {
  private readonly budgets = new Map<string, Budget>();
  private readonly windowMs: number;
  private readonly perWindow: number;

  constructor(private readonly options: RouterEventLogOptions) {
    this.windowMs = options.windowMs ?? 60_000;
    this.perWindow = options.perWindow ?? 4;
  }

  /** Stores a router event, within its instance's budget. Never throws: the router is not to suffer. */
  onEvent(e: RouterEvent): void {
    const described = describeRouterEvent(e);
    if (!described) return;
    const now = this.options.nowMs();
    this.flush(now);
    const key = `${e.service}\n${e.instance}`;
    let budget = this.budgets.get(key);
    if (!budget) this.budgets.set(key, (budget = { service: e.service, instance: e.instance, startMs: now, used: 0, over: new Map() }));
    if (budget.used < this.perWindow) {
      budget.used++;
      this.store({ service: e.service, atMs: e.atMs, ...described });
      return;
    }
    budget.over.set(described.reason, (budget.over.get(described.reason) ?? 0) + 1);
  }

  /** Closes windows that are over, storing one summary for each instance that went over its budget. */
  flush(now: number = this.options.nowMs()): void {
    for (const [key, b] of this.budgets) {
      if (now - b.startMs < this.windowMs) continue;
      this.budgets.delete(key);
      if (b.over.size === 0) continue;
      const total = [...b.over.values()].reduce((a, n) => a + n, 0);
      const parts = [...b.over].map(([reason, n]) => `${n} ${reason}`).join(', ');
      this.store({
        service: b.service,
        atMs: now,
        level: 'warning',
        reason: 'InstanceFlapping',
        message: `instance ${b.instance}: ${total} more router event(s) within ${seconds(this.windowMs)} not recorded one by one (${parts})`,
      });
    }
  }

  private store(event: RouterEventRecord): void {
    try {
      this.options.record(event);
    } catch {
      // Nowhere to tell (storing is what failed); the router keeps routing either way.
    }
  }
}
