/**
 * A router supervisor that dies while its daemon runs (kill -9, a crash) takes its workers with
 * it; the daemon's side starts another on the same addresses with the table in force, and says
 * so. Real processes, real loopback HTTP.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { supervisorCleanup } from '../../../../test/fixtures/router/supervisor-cleanup.js';
import { send, serviceTable, startUpstream, until } from '../../../../test/fixtures/router/support.js';
import type { WorkerEvent } from './protocol.js';
import { startSupervisedRouter, type SupervisedRouter } from './supervisor-control.js';

const { started, dirs } = supervisorCleanup();

async function supervised(workers: number): Promise<{ s: SupervisedRouter; events: WorkerEvent[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-sup-restart-'));
  dirs.push(dir);
  const s = await startSupervisedRouter({ stateDir: dir, workers, router: { listen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs: 2000 }, onProblem: () => undefined });
  started.push(s);
  const events: WorkerEvent[] = [];
  s.onWorkerEvent((e) => events.push(e));
  return { s, events };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('a router supervisor that dies under a running daemon', () => {
  it('is started again on the same address with the table in force; both are told; it takes the next table', async () => {
    const a = await startUpstream('a');
    const b = await startUpstream('b');
    const { s, events } = await supervised(2);
    try {
      await s.applyTable(serviceTable({ stable: [a] }));
      expect((await send(`${s.url}/`)).body).toBe('a');
      const url = s.url;
      const dead = s.pid;
      process.kill(dead, 'SIGKILL');

      await until(() => events.length >= 2, 20_000);
      expect(events[0]).toMatchObject({ type: 'worker-exited', process: 'supervisor', exit: { pid: dead } });
      expect(events[1]).toMatchObject({ type: 'worker-replaced', process: 'supervisor', exit: { pid: dead, replacedBy: { pid: s.pid } } });
      started.push({ pid: s.pid });
      expect(s.pid).not.toBe(dead);
      expect(s.url).toBe(url);
      expect(s.adopted).toBe(false);
      expect((await send(`${url}/`)).body).toBe('a');
      expect(await s.workers()).toHaveLength(2);

      await s.applyTable(serviceTable({ stable: [b] }));
      expect((await send(`${url}/`)).body).toBe('b');
      // Counted by the new one from zero: its figures go on, the earlier ones are not lost twice.
      await s.snapshot();
      expect(s.totals({ service: 'web', revision: 'v1' }).requests).toBeGreaterThan(0);
      const pid = s.pid;
      await s.stop({ drainTimeoutMs: 500 });
      await until(() => !alive(pid), 10_000);
      expect(events).toHaveLength(2);
    } finally {
      await a.close();
      await b.close();
    }
  }, 60_000);

  it('let go of (detached), it is not started again by this side', async () => {
    const a = await startUpstream('a');
    const { s, events } = await supervised(1);
    try {
      await s.applyTable(serviceTable({ stable: [a] }));
      const pid = s.pid;
      s.detach();
      process.kill(-pid, 'SIGKILL');
      await until(() => !alive(pid), 10_000);
      await new Promise((r) => setTimeout(r, 1500));
      expect(events).toEqual([]);
      expect(s.pid).toBe(pid);
    } finally {
      await a.close();
    }
  }, 30_000);
});
