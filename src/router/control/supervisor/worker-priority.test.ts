/**
 * `spec.router.workerPriority`: the supervisor gives its workers the nice value asked for (as
 * nginx's worker_priority), replacements included; one the system refuses is said, not fatal.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { getPriority, tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSupervisedRouter, type SupervisedRouter } from './supervisor-control.js';

let supervisor: SupervisedRouter | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await supervisor?.stop({ drainTimeoutMs: 0 });
  supervisor = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(workerPriority: number): Promise<SupervisedRouter> {
  const stateDir = mkdtempSync(join(tmpdir(), 'graylane-priority-'));
  dirs.push(stateDir);
  supervisor = await startSupervisedRouter({ stateDir, workers: 2, workerPriority, router: { listen: { host: '127.0.0.1', port: 0 } } });
  return supervisor;
}

const isRoot = process.getuid?.() === 0;
const hasAutogroup = existsSync('/proc/self/autogroup');

/** A process's session (autogroup) and its nice value, from `/proc/PID/autogroup` ("/autogroup-42 nice -5"). */
function sessionOf(pid: number): { group: string; nice: number } {
  const [group, , nice] = readFileSync(`/proc/${pid}/autogroup`, 'utf8').trim().split(' ');
  return { group: group!, nice: Number(nice) };
}
const hasSetpriv = existsSync('/usr/bin/setpriv');

/** Starts a supervisor asking for `workerPriority` from a child without CAP_SYS_NICE; its priorityRefused and workers' priorities. */
function startWithoutSysNice(stateDir: string, workerPriority: number): { priorityRefused: string | undefined; priorities: number[] } {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const control = pathToFileURL(new URL('./supervisor-control.ts', import.meta.url).pathname).href;
  const script = `
    import { startSupervisedRouter } from ${JSON.stringify(control)};
    const s = await startSupervisedRouter({ stateDir: ${JSON.stringify(stateDir)}, workers: 1, workerPriority: ${workerPriority}, router: { listen: { host: '127.0.0.1', port: 0 } } });
    const priorities = (await s.workers()).map((w) => w.priority);
    await s.stop({ drainTimeoutMs: 0 });
    console.log(JSON.stringify({ priorityRefused: s.priorityRefused, priorities }));
  `;
  const out = execFileSync('/usr/bin/setpriv', ['--bounding-set', '-sys_nice', '--inh-caps', '-sys_nice', process.execPath, '--import', tsx, '--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as { priorityRefused: string | undefined; priorities: number[] };
}

describe('the router workers\' scheduling priority', () => {
  it.skipIf(!hasAutogroup)('leaves the session\'s priority alone when none is asked for', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'graylane-priority-'));
    dirs.push(stateDir);
    supervisor = await startSupervisedRouter({ stateDir, workers: 1, router: { listen: { host: '127.0.0.1', port: 0 } } });
    expect(sessionOf(supervisor.pid).nice).toBe(0);
  }, 40_000);

  it('runs every worker at a lower priority asked for (any user may), and a replacement too', async () => {
    const s = await start(5);
    expect(s.priorityRefused).toBeUndefined();
    const workers = await s.workers();
    expect(workers.map((w) => w.priority)).toEqual([5, 5]);
    expect(workers.map((w) => getPriority(w.pid))).toEqual([5, 5]);
    // The supervisor itself keeps its own.
    expect(getPriority(s.pid)).toBe(getPriority());
    if (hasAutogroup) {
      // Their session, which they share with the supervisor, has it too: the kernel shares the CPU
      // between sessions (each app instance has one) before it looks at a process's nice value.
      expect(workers.map((w) => sessionOf(w.pid))).toEqual([sessionOf(s.pid), sessionOf(s.pid)]);
      expect(sessionOf(s.pid).nice).toBe(5);
      expect(sessionOf(s.pid).group).not.toBe(sessionOf(process.pid).group);
    }
    process.kill(workers[0]!.pid, 'SIGKILL');
    const deadline = Date.now() + 15_000;
    let replaced = await s.workers();
    while ((replaced.length < 2 || replaced.some((w) => w.pid === workers[0]!.pid)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      replaced = await s.workers();
    }
    expect(replaced.map((w) => w.priority)).toEqual([5, 5]);
  }, 40_000);

  it('is adopted by a daemon asking for the same priority, and replaced for one asking for another', async () => {
    const first = await start(5);
    const stateDir = dirs.at(-1)!;
    first.detach();
    supervisor = await startSupervisedRouter({ stateDir, workers: 2, workerPriority: 5, router: { listen: { host: '127.0.0.1', port: 0 } } });
    expect([supervisor.adopted, supervisor.pid]).toEqual([true, first.pid]);
    supervisor.detach();
    supervisor = await startSupervisedRouter({ stateDir, workers: 2, workerPriority: 3, router: { listen: { host: '127.0.0.1', port: 0 } } });
    expect(supervisor.adopted).toBe(false);
    expect(supervisor.pid).not.toBe(first.pid);
    expect((await supervisor.workers()).map((w) => w.priority)).toEqual([3, 3]);
  }, 60_000);

  it.skipIf(!isRoot)('runs them at a higher priority with root (CAP_SYS_NICE)', async () => {
    const s = await start(-5);
    expect(s.priorityRefused).toBeUndefined();
    const workers = await s.workers();
    expect(workers.map((w) => w.priority)).toEqual([-5, -5]);
    if (hasAutogroup) expect(workers.map((w) => sessionOf(w.pid).nice)).toEqual([-5, -5]);
  }, 40_000);

  it.skipIf(!isRoot || !hasSetpriv)('without CAP_SYS_NICE (dropped by setpriv), starts anyway, the workers at the default, and says why', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'graylane-priority-'));
    dirs.push(stateDir);
    const { priorityRefused, priorities } = startWithoutSysNice(stateDir, -5);
    expect(priorityRefused).toBe(`the router workers cannot be given priority -5 (EACCES: a priority below 0 needs root or CAP_SYS_NICE); they run at ${getPriority()}`);
    expect(priorities).toEqual([getPriority()]);
  }, 60_000);
});
