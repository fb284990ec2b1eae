import { describe, expect, it } from 'vitest';
import type { WorkerEvent } from '../../router/control/supervisor/protocol.js';
import { DataPlaneEventLog, describeWorkerEvent, type DataPlaneEventRecord } from './data-plane-events.js';

const exited = (pid: number, livedMs = 200_000): WorkerEvent => ({ type: 'worker-exited', exit: { pid, atMs: 1_000, cause: 'SIGKILL', livedMs } });
const replaced = (pid: number, by: number): WorkerEvent => ({ type: 'worker-replaced', exit: { pid, atMs: 1_000, cause: 'SIGKILL', livedMs: 200_000, replacedBy: { pid: by, afterMs: 312.4 } } });

describe('router worker events in the event log', () => {
  it('a death is a warning that says the requests it held were cut; a replacement is info naming both pids', () => {
    expect(describeWorkerEvent(exited(41))).toEqual({
      level: 'warning', reason: 'RouterWorkerExited',
      message: 'router worker pid 41 exited (SIGKILL) after 3m20s; the requests it was serving were cut, the other workers serve on while another starts',
    });
    expect(describeWorkerEvent(replaced(41, 57))).toEqual({ level: 'info', reason: 'RouterWorkerReplaced', message: 'router worker pid 57 serves in place of pid 41, 312 ms after it exited' });
  });

  it('the router supervisor dying is a warning that its workers went with it; its start again is info naming both pids', () => {
    expect(describeWorkerEvent({ ...exited(41), process: 'supervisor' })).toEqual({
      level: 'warning', reason: 'RouterSupervisorExited',
      message: 'the router supervisor (pid 41) exited after 3m20s; its workers stopped with it, cutting the requests they were serving, and it is started again with the routes in force',
    });
    expect(describeWorkerEvent({ ...replaced(41, 57), process: 'supervisor' })).toEqual({ level: 'info', reason: 'RouterSupervisorRestarted', message: 'the router supervisor (pid 57) serves in place of pid 41, 312 ms after it exited' });
  });

  it('nginx\'s master dying is a warning that its workers were stopped; its start again is info naming both pids', () => {
    expect(describeWorkerEvent({ ...exited(41), process: 'nginx' })).toEqual({
      level: 'warning', reason: 'NginxExited',
      message: 'nginx (master pid 41) exited (SIGKILL) after 3m20s; its workers were stopped, cutting the requests they were serving, and nginx is started again with the routes in force',
    });
    expect(describeWorkerEvent({ ...replaced(41, 57), process: 'nginx' })).toEqual({ level: 'info', reason: 'NginxRestarted', message: 'nginx (master pid 57) serves in place of pid 41, 312 ms after it exited' });
  });

  it('a worker dying over and over gets a few events per window and one summary of the rest', () => {
    let now = 0;
    const stored: DataPlaneEventRecord[] = [];
    const log = new DataPlaneEventLog({ record: (e) => stored.push(e), nowMs: () => now, windowMs: 60_000, perWindow: 4 });
    for (let i = 0; i < 20; i++) {
      log.onEvent(exited(100 + i, 600));
      log.onEvent(replaced(100 + i, 101 + i));
      now += 1_000;
    }
    expect(stored.map((e) => e.reason)).toEqual(['RouterWorkerExited', 'RouterWorkerReplaced', 'RouterWorkerExited', 'RouterWorkerReplaced']);
    log.flush(now);
    expect(stored).toHaveLength(4);
    now = 60_000;
    log.flush(now);
    expect(stored[4]).toEqual({ level: 'warning', reason: 'RouterWorkerExited', message: '18 more router worker exit(s) in 1m, not told one by one: see router-supervisor.log in the state dir' });
    // A new window: told one by one again.
    log.onEvent(exited(500));
    expect(stored[5]!.message).toContain('pid 500');
  });

  it('a store that fails loses the event, never throws at the data plane', () => {
    const log = new DataPlaneEventLog({ record: () => { throw new Error('disk full'); }, nowMs: () => 0 });
    expect(() => log.onEvent(exited(1))).not.toThrow();
  });
});
