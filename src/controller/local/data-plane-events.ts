/**
 * Tells the event log of every service when a router worker dies and when its replacement serves:
 * every service's traffic goes through every worker, and the requests a dead worker held were cut.
 * A worker that dies over and over (a bad certificate, a crash on start) cannot flood the log:
 * a few events per window, and what goes over is summed up in one event when the window ends.
 */
import { formatDurationMs } from '../../lib/duration.js';
import type { WorkerEvent } from '../../router/control/supervisor/protocol.js';
import type { StoredEvent } from '../../state/store.js';

/** One event as {@link DataPlaneEventLog} hands it over, for every service. */
export interface DataPlaneEventRecord {
  level: StoredEvent['level'];
  reason: string;
  message: string;
}

/** Options of {@link DataPlaneEventLog}. */
export interface DataPlaneEventLogOptions {
  /** Stores the event for every service (and tells the stream). */
  record(event: DataPlaneEventRecord): void;
  /** Clock of the windows. */
  nowMs: () => number;
  /** Length of a window; default 60 s. */
  windowMs?: number;
  /** Events stored one by one per window; default 6 (three deaths and their replacements). */
  perWindow?: number;
}

/** The stored form of a worker event. */
export function describeWorkerEvent(e: WorkerEvent): DataPlaneEventRecord {
  const { exit } = e;
  if (e.process === 'supervisor') {
    if (e.type === 'worker-exited') {
      return {
        level: 'warning',
        reason: 'RouterSupervisorExited',
        message: `the router supervisor (pid ${exit.pid}) exited after ${formatDurationMs(exit.livedMs)}; its workers stopped with it, cutting the requests they were serving, and it is started again with the routes in force`,
      };
    }
    return {
      level: 'info',
      reason: 'RouterSupervisorRestarted',
      message: `the router supervisor (pid ${exit.replacedBy?.pid ?? '?'}) serves in place of pid ${exit.pid}, ${exit.replacedBy ? `${Math.round(exit.replacedBy.afterMs)} ms` : 'some time'} after it exited`,
    };
  }
  if (e.process === 'nginx') {
    if (e.type === 'worker-exited') {
      return {
        level: 'warning',
        reason: 'NginxExited',
        message: `nginx (master pid ${exit.pid}) exited (${exit.cause}) after ${formatDurationMs(exit.livedMs)}; its workers were stopped, cutting the requests they were serving, and nginx is started again with the routes in force`,
      };
    }
    return {
      level: 'info',
      reason: 'NginxRestarted',
      message: `nginx (master pid ${exit.replacedBy?.pid ?? '?'}) serves in place of pid ${exit.pid}, ${exit.replacedBy ? `${Math.round(exit.replacedBy.afterMs)} ms` : 'some time'} after it exited`,
    };
  }
  if (e.type === 'worker-exited') {
    return {
      level: 'warning',
      reason: 'RouterWorkerExited',
      message: `router worker pid ${exit.pid} exited (${exit.cause}) after ${formatDurationMs(exit.livedMs)}; the requests it was serving were cut, the other workers serve on while another starts`,
    };
  }
  const by = exit.replacedBy;
  return {
    level: 'info',
    reason: 'RouterWorkerReplaced',
    message: `router worker pid ${by?.pid ?? '?'} serves in place of pid ${exit.pid}, ${by ? `${Math.round(by.afterMs)} ms` : 'some time'} after it exited`,
  };
}

/** See the module comment. */
export class DataPlaneEventLog {
  private windowStartMs: number | undefined;
  private used = 0;
  private over = 0;
  private readonly windowMs: number;
  private readonly perWindow: number;

  constructor(private readonly options: DataPlaneEventLogOptions) {
    this.windowMs = options.windowMs ?? 60_000;
    this.perWindow = options.perWindow ?? 6;
  }

  /** Stores a worker event within the window's budget. Never throws: the data plane is not to suffer. */
  onEvent(e: WorkerEvent): void {
    const now = this.options.nowMs();
    this.flush(now);
    this.windowStartMs ??= now;
    if (this.used < this.perWindow) {
      this.used++;
      this.store(describeWorkerEvent(e));
    } else if (e.type === 'worker-exited') {
      this.over++;
    }
  }

  /** Ends the window when its time is up, with one event for the deaths it did not store one by one. */
  flush(nowMs: number): void {
    if (this.windowStartMs === undefined || nowMs - this.windowStartMs < this.windowMs) return;
    if (this.over > 0) {
      this.store({
        level: 'warning',
        reason: 'RouterWorkerExited',
        message: `${this.over} more router worker exit(s) in ${formatDurationMs(nowMs - this.windowStartMs)}, not told one by one: see router-supervisor.log in the state dir`,
      });
    }
    this.windowStartMs = undefined;
    this.used = 0;
    this.over = 0;
  }

  private store(event: DataPlaneEventRecord): void {
    try {
      this.options.record(event);
    } catch {
      // The store reports its own failures (state writes); the event is lost, the router is not.
    }
  }
}
