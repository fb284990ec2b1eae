/**
 * `graylane up` with the router in its own processes: a daemon killed with -9 under load leaves the
 * router serving its last table without a failed request; the next `up` adopts that same
 * supervisor, resumes the paused canary, and can abort it; Ctrl-C stops the supervisor too.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { afterAll, expect, it } from 'vitest';
import { supervisorChildren } from '../fixtures/router/supervisor-children.js';
import { alive, appDir, BIN, cli, crashUnderLoad, serviceEvents, startDaemon, stopDaemon, stopDaemonsAndSupervisors, versionCounts, view, waitFor, writeApp, type Daemon } from './harness.js';
import { signalChild } from '../../src/lib/signal-child.js';

const canary = '      canary:\n        steps: [{setWeight: 50}, {pause: {}}, {setWeight: 80}, {pause: {}}]';
const daemons: Daemon[] = [];
const supervisors: number[] = [];

afterAll(() => stopDaemonsAndSupervisors(daemons, supervisors));


/** The App file with `spec.router.workers: 2`. */
function writeAppWithWorkers(dir: string, version: string): string {
  const file = writeApp(dir, { version, strategy: canary });
  writeFileSync(file, readFileSync(file, 'utf8').replace('spec:\n  services:', 'spec:\n  router: {workers: 2}\n  services:'));
  return file;
}

/** The supervisor's router workers. */
const routerWorkers = (supervisor: number) => supervisorChildren(supervisor).workers;

/** `up` of a new App with 2 router workers, v1 healthy; the daemon and its supervisor's pid. */
async function healthyWithWorkers(): Promise<{ d: Daemon; pid: number }> {
  const dir = appDir();
  writeAppWithWorkers(dir, 'v1');
  const d = await startDaemon(dir);
  daemons.push(d);
  const pid = supervisorPid(d.stateDir);
  supervisors.push(pid);
  await waitFor(async () => (await view(d)).phase === 'Healthy', 30_000, 'v1 healthy');
  return { d, pid };
}

const supervisorPid = (stateDir: string) => (JSON.parse(readFileSync(join(stateDir, 'router.json'), 'utf8')) as { pid: number }).pid;

it('kill -9 of the daemon under load: no request fails; a restarted daemon adopts the same router supervisor, resumes the canary and aborts it; Ctrl-C stops the supervisor', async () => {
  const dir = appDir();
  const file = writeAppWithWorkers(dir, 'v1');
  const first = await startDaemon(dir);
  daemons.push(first);
  const pid = supervisorPid(first.stateDir);
  supervisors.push(pid);
  expect(first.output()).toContain(`router supervisor pid ${pid}`);
  expect(first.info.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  await waitFor(async () => (await view(first)).phase === 'Healthy', 30_000, 'v1 healthy');
  writeAppWithWorkers(dir, 'v2');
  expect((await cli(first.stateDir, ['apply', '-f', file])).code).toBe(0);
  await waitFor(async () => {
    const v = await view(first);
    return v.phase === 'Paused' && v.step === 2;
  }, 30_000, 'paused at step 2');

  const summary = await crashUnderLoad(first, { rps: 100, durationMs: 8000, killAfterMs: 2500 });
  expect(summary.sent).toBeGreaterThan(300);
  expect(summary.failed).toBe(0);
  expect(summary.ok).toBe(summary.sent);
  // Served by the last table: both revisions of the paused canary still answer.
  expect(alive(pid)).toBe(true);
  const during = await versionCounts(`${first.info.routerUrl}/`, 40);
  expect(during.v1).toBeGreaterThan(5);
  expect(during.v2).toBeGreaterThan(5);

  const second = await startDaemon(dir, ['--router-workers', '2']);
  daemons.push(second);
  expect(second.output()).toContain(`router supervisor pid ${pid}, adopted from an earlier daemon`);
  expect(supervisorPid(second.stateDir)).toBe(pid);
  expect(second.info.routerUrl).toBe(first.info.routerUrl);
  expect(await view(second)).toMatchObject({ phase: 'Paused', step: 2 });

  expect((await cli(second.stateDir, ['abort', 'app'])).code).toBe(0);
  await waitFor(async () => (await view(second)).revisions.every((r) => r.weight === (r.number === 1 ? 100 : 0)), 20_000, 'all weight on stable');
  expect(await versionCounts(`${second.info.routerUrl}/`, 100)).toEqual({ v1: 100 });

  await stopDaemon(second);
  await waitFor(() => !alive(pid), 20_000, 'the supervisor stopped with its daemon');
}, 180_000);

it('--router-workers that is not an integer from 0 to 256 is refused with exit 2 before anything starts', async () => {
  const dir = appDir();
  const file = writeApp(dir, { version: 'v1', strategy: canary });
  for (const bad of ['-1', '1.5', 'two', '257']) {
    const r = await cli(join(dir, '.graylane'), ['up', '-f', file, '--router-workers', bad]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--router-workers must be an integer from 0 (the router inside the daemon) to 256, not "${bad}"`);
  }
});

it('spec.router.workers below 0 is an invalid App: validate names the field', async () => {
  const dir = appDir();
  const file = writeAppWithWorkers(dir, 'v1');
  writeFileSync(file, readFileSync(file, 'utf8').replace('router: {workers: 2}', 'router: {workers: -1}'));
  const r = await cli(join(dir, '.graylane'), ['validate', file]);
  expect(r.code).toBe(2);
  expect(r.out + r.err).toContain('spec.router.workers');
});

it('by default the router runs one worker per core under its supervisor; an up asking for another count resizes it; an up with --router-workers 0 after a crash stops it, says so, and routes inside the daemon', async () => {
  const dir = appDir();
  writeApp(dir, { version: 'v1', strategy: canary });
  const first = await startDaemon(dir);
  daemons.push(first);
  const pid = supervisorPid(first.stateDir);
  supervisors.push(pid);
  expect(first.output()).toContain(`router supervisor pid ${pid}`);
  const workers = routerWorkers(pid);
  expect(workers).toHaveLength(availableParallelism());
  await waitFor(async () => (await view(first)).phase === 'Healthy', 30_000, 'v1 healthy');
  signalChild(first.proc, 'SIGKILL');
  await new Promise((r) => first.proc.once('exit', r));
  expect(await versionCounts(`${first.info.routerUrl}/`, 10)).toEqual({ v1: 10 });

  // Another count on the next up: the same supervisor, resized in place.
  const more = availableParallelism() + 1;
  const resized = await startDaemon(dir, ['--router-workers', String(more)]);
  daemons.push(resized);
  expect(resized.output()).toContain(`router supervisor pid ${pid}, adopted from an earlier daemon (resized from ${availableParallelism()} workers)`);
  await waitFor(() => routerWorkers(pid).length === more, 10_000, `${more} workers`);
  signalChild(resized.proc, 'SIGKILL');
  await new Promise((r) => resized.proc.once('exit', r));

  const second = await startDaemon(dir, ['--router-workers', '0']);
  daemons.push(second);
  expect(second.output()).toContain(`stopped the router supervisor pid ${pid} an earlier daemon left serving: this daemon runs the router inside itself (router workers 0)`);
  expect(second.output()).not.toContain('a crash leaves it serving');
  expect(alive(pid)).toBe(false);
  expect(() => readFileSync(join(second.stateDir, 'router.json'))).toThrow();
  await waitFor(async () => (await view(second)).phase === 'Healthy', 30_000, 'v1 healthy again');
  expect(await versionCounts(`${second.info.routerUrl}/`, 10)).toEqual({ v1: 10 });
  await stopDaemon(second);
}, 120_000);

it('a router worker killed with -9: up says so where it runs, `status` names the death and its replacement, and every service\'s events tell both', async () => {
  const { d, pid } = await healthyWithWorkers();
  const before = await cli(d.stateDir, ['status']);
  const [victim, survivor] = routerWorkers(pid) as [number, number];
  expect(before.out).toContain(`data plane: 2 router workers (pids ${victim}, ${survivor}) under supervisor pid ${pid} at ${d.info.routerUrl}`);
  expect(before.out).not.toContain('died');

  process.kill(victim, 'SIGKILL');
  const replacement = await waitFor(() => {
    const now = routerWorkers(pid);
    return now.length === 2 && !now.includes(victim) ? now.find((p) => p !== survivor) : undefined;
  }, 30_000, 'a replacement worker');
  await waitFor(() => d.output().includes(`router worker pid ${replacement} serves in place of pid ${victim}`), 30_000, 'the replacement told where up runs');
  expect(d.output()).toMatch(new RegExp(`router worker pid ${victim} exited \\(SIGKILL\\) after [0-9hms]+;`));
  expect(await versionCounts(`${d.info.routerUrl}/`, 10)).toEqual({ v1: 10 });

  const after = await cli(d.stateDir, ['status']);
  expect(after.code).toBe(0);
  expect(after.out).toContain(`data plane: 2 router workers (pids ${survivor}, ${replacement}) under supervisor pid ${pid}`);
  expect(after.out).toMatch(new RegExp(`1 worker died since the supervisor started; the latest, pid ${victim}, exited \\(SIGKILL\\) at [0-9:]{8} after .+, replaced by pid ${replacement} in [0-9]+ ms`));
  const json = JSON.parse((await cli(d.stateDir, ['status', '--json'])).out) as { dataPlane: { kind: string; workerExits: { total: number; latest: { pid: number; cause: string; replacedByPid: number }[] } } };
  expect(json.dataPlane.kind).toBe('workers');
  expect(json.dataPlane.workerExits.total).toBe(1);
  expect(json.dataPlane.workerExits.latest[0]).toMatchObject({ pid: victim, cause: 'SIGKILL', replacedByPid: replacement });

  const events = await serviceEvents(d);
  const told = events.filter((e) => e.reason.startsWith('RouterWorker'));
  expect(told.map((e) => [e.level, e.reason])).toEqual([['warning', 'RouterWorkerExited'], ['info', 'RouterWorkerReplaced']]);
  expect(told[0]!.message).toContain(`router worker pid ${victim} exited (SIGKILL)`);
  expect(told[1]!.message).toContain(`router worker pid ${replacement} serves in place of pid ${victim}`);
  await stopDaemon(d);
  expect(alive(pid)).toBe(false);
}, 120_000);

it('the router supervisor killed with -9 under a running daemon: another starts on the same address with the routes in force; up, status and the events say so', async () => {
  const { d, pid } = await healthyWithWorkers();
  process.kill(pid, 'SIGKILL');
  const fresh = await waitFor(() => {
    try {
      const now = supervisorPid(d.stateDir);
      return now !== pid ? now : undefined;
    } catch {
      return undefined;
    }
  }, 30_000, 'another supervisor');
  supervisors.push(fresh);
  await waitFor(() => d.output().includes(`the router supervisor (pid ${fresh}) serves in place of pid ${pid}`), 30_000, 'the start again told where up runs');
  expect(d.output()).toContain(`the router supervisor (pid ${pid}) exited after`);
  expect(await versionCounts(`${d.info.routerUrl}/`, 10)).toEqual({ v1: 10 });
  expect((await cli(d.stateDir, ['status'])).out).toContain(`under supervisor pid ${fresh} at ${d.info.routerUrl}`);
  const events = await serviceEvents(d);
  expect(events.map((e) => e.reason).filter((r) => r.startsWith('RouterSupervisor'))).toEqual(['RouterSupervisorExited', 'RouterSupervisorRestarted']);
  await stopDaemon(d);
  await waitFor(() => !alive(fresh), 20_000, 'the supervisor stopped with its daemon');
}, 120_000);

it('with the router inside the daemon, `status` says so', async () => {
  const dir = appDir();
  writeApp(dir, { version: 'v1', strategy: canary });
  const d = await startDaemon(dir, ['--router-workers', '0']);
  daemons.push(d);
  const status = await cli(d.stateDir, ['status']);
  expect(status.out).toContain(`data plane: the router inside the daemon at ${d.info.routerUrl} (it stops with the daemon: spec.router.workers 0)`);
  await stopDaemon(d);
}, 60_000);

it('a router supervisor that cannot listen: up exits 2 saying the address is in use, and leaves no supervisor behind', async () => {
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as { port: number }).port;
  const dir = appDir();
  writeAppWithWorkers(dir, 'v1');
  try {
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn(process.execPath, [BIN, 'up', '-f', join(dir, 'graylane.yaml'), '--listen', `127.0.0.1:${port}`], { cwd: dir });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => signalChild(p, 'SIGINT'), 30_000);
      p.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
    });
    expect(r.code).toBe(2);
    expect(r.out).toContain(`the router cannot listen on 127.0.0.1:${port}: the address is already in use`);
    expect(() => readFileSync(join(dir, '.graylane', 'router.json'))).toThrow();
  } finally {
    await new Promise((r) => taken.close(r));
  }
}, 60_000);
