import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DaemonStartError, startLocalDaemon, type LocalDaemon } from '../../src/controller/local/daemon.js';
import { isAlive } from '../../src/runtime/process/proc-fs.js';
import { appYaml, startHarness, until } from '../fixtures/controller/local-harness.js';

let daemon: LocalDaemon | undefined;
const strays: number[] = [];
afterEach(async () => {
  await daemon?.stop({ stopInstances: true });
  daemon = undefined;
  for (const pid of strays.splice(0)) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

/** A daemon ran the App, died leaving its app processes, and its state file was moved aside. */
async function lostState(): Promise<{ appFile: string; stateDir: string; pids: number[] }> {
  const h = await startHarness();
  await h.apply(appYaml({ version: 'v1' }));
  await until(() => h.controller.get('app').revisions[0]?.ready === 2, 15_000, 'healthy');
  const pids = (await Promise.all([0, 1, 2, 3, 4, 5].map(async () => ((await (await fetch(h.routerUrl)).json()) as { pid: number }).pid)));
  await h.abandon();
  const unique = [...new Set(pids)].sort();
  strays.push(...unique);
  for (const f of ['state.db', 'state.db-wal', 'state.db-shm']) rmSync(join(h.stateDir, f), { force: true });
  return { appFile: h.appFile, stateDir: h.stateDir, pids: unique };
}

const start = (s: { appFile: string; stateDir: string }, orphans?: 'adopt' | 'stop') =>
  startLocalDaemon({ appFile: s.appFile, stateDir: s.stateDir, adminToken: 'x'.repeat(32), listen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs: 1000, orphans });

async function servingPids(url: string): Promise<number[]> {
  const pids = await Promise.all(Array.from({ length: 8 }, async () => ((await (await fetch(url)).json()) as { pid: number }).pid));
  return [...new Set(pids)].sort();
}

describe('app processes left running by an earlier daemon whose state was lost', () => {
  it('without a choice, up refuses to start and names them; nothing is started', async () => {
    const s = await lostState();
    expect(s.pids).toHaveLength(2);
    const err = await start(s).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonStartError);
    expect((err as DaemonStartError).code).toBe('OrphansFound');
    expect((err as DaemonStartError).message).toMatch(new RegExp(`^2 app process\\(es\\) started earlier by graylane with state dir .* still run.*pid ${s.pids[0]} \\(app revision \\w+, port \\d+\\).*--adopt-orphans.*--stop-orphans`));
    for (const pid of s.pids) expect(isAlive(pid)).toBe(true);
  });

  it('--adopt-orphans takes them over: they keep serving and no duplicates start', async () => {
    const s = await lostState();
    daemon = await start(s, 'adopt');
    expect(daemon.orphans).toHaveLength(2);
    expect(daemon.adoption.adopted).toBe(2);
    await until(() => daemon!.controller.get('app').phase === 'Healthy', 15_000, 'healthy on adopted instances');
    expect(await servingPids(daemon.routerUrl)).toEqual(s.pids);
    expect(daemon.controller.get('app').revisions.map((r) => r.total)).toEqual([2]);
    await daemon.stop({ stopInstances: true });
    daemon = undefined;
    for (const pid of s.pids) await until(() => !isAlive(pid), 5_000, `adopted ${pid} stopped with the daemon`);
  });

  it('--stop-orphans stops them and starts the App afresh', async () => {
    const s = await lostState();
    daemon = await start(s, 'stop');
    expect(daemon.orphans.every((l) => l.startsWith('stopped pid'))).toBe(true);
    for (const pid of s.pids) expect(isAlive(pid)).toBe(false);
    await until(() => daemon!.controller.get('app').revisions[0]?.ready === 2, 15_000, 'fresh instances');
    const now = await servingPids(daemon.routerUrl);
    expect(now.some((p) => s.pids.includes(p))).toBe(false);
  });
});
