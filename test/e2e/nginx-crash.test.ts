/**
 * `graylane up` with `spec.router.type: nginx`: a daemon killed with -9 under load leaves nginx
 * serving its last table without a failed request; the next `up` adopts that same nginx (no second
 * nginx on the port, no "starting" table put in its configuration), resumes the paused canary and
 * can abort it; Ctrl-C stops nginx too.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { appDir, cli, crashUnderLoad, serviceEvents, startDaemon, stopDaemon, versionCounts, view, waitFor, writeApp, type Daemon } from './harness.js';
import { childrenOf } from '../../src/router/control/nginx/nginx-process.js';
import { signalChild } from '../../src/lib/signal-child.js';

const canary = '      canary:\n        steps: [{setWeight: 50}, {pause: {}}, {setWeight: 80}, {pause: {}}]';
const daemons: Daemon[] = [];

afterAll(async () => {
  for (const d of daemons) await stopDaemon(d);
});

function writeAppOnNginx(dir: string, version: string): string {
  const file = writeApp(dir, { version, strategy: canary });
  writeFileSync(file, readFileSync(file, 'utf8').replace('spec:\n  services:', 'spec:\n  router: {type: nginx, workers: 1}\n  services:'));
  return file;
}

/** Whether `pid` runs: a zombie does not (nginx's master, orphaned by the killed daemon, is reaped by init, in its own time). */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

const nginxPid = (stateDir: string) => Number(readFileSync(join(stateDir, 'nginx', 'nginx.pid'), 'utf8').trim());

it('kill -9 of the daemon under load: no request fails; the next up adopts the same nginx, resumes the canary and aborts it; Ctrl-C stops nginx', async () => {
  const dir = appDir();
  const file = writeAppOnNginx(dir, 'v1');
  const first = await startDaemon(dir);
  daemons.push(first);
  const pid = nginxPid(first.stateDir);
  expect(first.output()).toContain(`nginx pid ${pid} (Ctrl-C stops it; a crash leaves it serving)`);
  await waitFor(async () => (await view(first)).phase === 'Healthy', 30_000, 'v1 healthy');
  writeAppOnNginx(dir, 'v2');
  expect((await cli(first.stateDir, ['apply', '-f', file])).code).toBe(0);
  await waitFor(async () => {
    const v = await view(first);
    return v.phase === 'Paused' && v.step === 2;
  }, 30_000, 'paused at step 2');
  // The table of the paused step is in nginx (a reload follows the step by a moment).
  await waitFor(async () => {
    const seen = await versionCounts(`${first.info.routerUrl}/`, 20);
    return (seen.v1 ?? 0) > 0 && (seen.v2 ?? 0) > 0;
  }, 10_000, 'both versions served');

  const summary = await crashUnderLoad(first, { rps: 100, durationMs: 6000, killAfterMs: 2000 });
  expect(summary.sent).toBeGreaterThan(300);
  expect(summary.failed).toBe(0);
  expect(summary.ok).toBe(summary.sent);
  expect(running(pid)).toBe(true);
  const during = await versionCounts(`${first.info.routerUrl}/`, 40);
  expect(during.v1).toBeGreaterThan(5);
  expect(during.v2).toBeGreaterThan(5);
  const routes = readFileSync(join(first.stateDir, 'nginx', 'routes.conf'), 'utf8');
  const workersBefore = childrenOf(pid);

  const second = await startDaemon(dir);
  daemons.push(second);
  expect(second.output()).toContain(`nginx pid ${pid}, adopted from an earlier daemon`);
  expect(second.output()).not.toContain('Address already in use');
  expect(nginxPid(second.stateDir)).toBe(pid);
  // --listen 127.0.0.1:0: the port nginx holds, not another free one.
  expect(second.info.routerUrl).toBe(first.info.routerUrl);
  expect(await view(second)).toMatchObject({ phase: 'Paused', step: 2 });
  // The new daemon's table is the same paused step: nginx was not even reloaded (a reload closes
  // the idle keep-alive connections of its old workers, which clients would see fail).
  expect(readFileSync(join(second.stateDir, 'nginx', 'routes.conf'), 'utf8')).toBe(routes);
  expect(childrenOf(pid)).toEqual(workersBefore);
  const status = await cli(second.stateDir, ['status']);
  expect(status.out).toContain(`data plane: nginx (master pid ${pid}, adopted from an earlier daemon) at ${second.info.routerUrl}`);

  expect((await cli(second.stateDir, ['abort', 'app'])).code).toBe(0);
  await waitFor(async () => (await view(second)).revisions.every((r) => r.weight === (r.number === 1 ? 100 : 0)), 20_000, 'all weight on stable');
  await waitFor(async () => (await versionCounts(`${second.info.routerUrl}/`, 20)).v1 === 20, 10_000, 'nginx reloaded with the abort');
  expect(await versionCounts(`${second.info.routerUrl}/`, 50)).toEqual({ v1: 50 });
  // Its access log is read by the new daemon: status counts the requests.
  await waitFor(async () => (await view(second)).revisions.some((r) => r.requestsPerSecond > 0), 5000, 'requests counted');

  const workers = childrenOf(pid);
  await stopDaemon(second);
  await waitFor(() => !running(pid) && workers.every((w) => !running(w)), 20_000, 'nginx stopped with its daemon');
}, 180_000);

it('the next up without nginx stops the nginx an earlier daemon left serving, and says so', async () => {
  const dir = appDir();
  const file = writeAppOnNginx(dir, 'v1');
  const first = await startDaemon(dir);
  daemons.push(first);
  const pid = nginxPid(first.stateDir);
  const workers = childrenOf(pid);
  await waitFor(async () => (await view(first)).phase === 'Healthy', 30_000, 'v1 healthy');
  signalChild(first.proc, 'SIGKILL');
  await new Promise((r) => first.proc.once('exit', r));
  expect(running(pid)).toBe(true);

  // The same App with the built-in router inside the daemon.
  writeFileSync(file, readFileSync(file, 'utf8').replace('router: {type: nginx, workers: 1}', 'router: {workers: 0}'));
  const second = await startDaemon(dir);
  daemons.push(second);
  expect(second.output()).toContain(`stopped nginx pid ${pid} an earlier daemon left serving: this daemon runs the router inside itself (router workers 0)`);
  expect(running(pid)).toBe(false);
  await waitFor(() => workers.every((w) => !running(w)), 5000, 'its workers gone');
  await waitFor(async () => (await view(second)).phase === 'Healthy', 30_000, 'v1 healthy under the built-in router');
  expect(await versionCounts(`${second.info.routerUrl}/`, 10)).toEqual({ v1: 10 });
  await stopDaemon(second);
}, 120_000);

it('nginx\'s master killed with -9 under a running daemon: nginx is started again with the routes in force, and status and the events say so', async () => {
  const dir = appDir();
  writeAppOnNginx(dir, 'v1');
  const d = await startDaemon(dir);
  daemons.push(d);
  const pid = nginxPid(d.stateDir);
  const workers = childrenOf(pid);
  await waitFor(async () => (await view(d)).phase === 'Healthy', 30_000, 'v1 healthy');
  await waitFor(async () => (await versionCounts(`${d.info.routerUrl}/`, 5)).v1 === 5, 10_000, 'v1 served');
  process.kill(pid, 'SIGKILL');
  const fresh = await waitFor(() => {
    const now = nginxPid(d.stateDir);
    return now !== pid && running(now) ? now : undefined;
  }, 20_000, 'another nginx');
  await waitFor(() => d.output().includes(`nginx (master pid ${fresh}) serves in place of pid ${pid}`), 10_000, 'the start again told where up runs');
  expect(d.output()).toContain(`nginx (master pid ${pid}) exited (SIGKILL)`);
  expect(workers.every((w) => !running(w))).toBe(true);
  expect(await versionCounts(`${d.info.routerUrl}/`, 10)).toEqual({ v1: 10 });
  expect((await cli(d.stateDir, ['status'])).out).toContain(`data plane: nginx (master pid ${fresh}) at ${d.info.routerUrl}`);
  const events = await serviceEvents(d);
  expect(events.map((e) => e.reason).filter((r) => r.startsWith('Nginx'))).toEqual(['NginxExited', 'NginxRestarted']);
  await stopDaemon(d);
  await waitFor(() => !running(fresh), 20_000, 'nginx stopped with its daemon');
}, 120_000);
