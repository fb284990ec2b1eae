/**
 * A managed nginx asked for a `workerPriority`: its workers get it as nginx's `worker_priority`,
 * and nginx runs in a session of its own that gets it too, since Linux with autogroup shares the
 * CPU between sessions before it looks at a process's nice value (session-priority.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, send, startUpstream } from '../../../../test/fixtures/router/support.js';
import { startNginxRouterControl, type NginxRouterControl } from './nginx-control.js';

const hasAutogroup = existsSync('/proc/self/autogroup');
const isRoot = process.getuid?.() === 0;
const hasSetpriv = existsSync('/usr/bin/setpriv');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A process's session (autogroup) and its nice value, from `/proc/PID/autogroup` ("/autogroup-42 nice -5"). */
function sessionOf(pid: number): { group: string; nice: number } {
  const [group, , nice] = readFileSync(`/proc/${pid}/autogroup`, 'utf8').trim().split(' ');
  return { group: group!, nice: Number(nice) };
}

/**
 * The master's workers once `count` of them have initialized. The control is up as soon as one is
 * forked; a worker sets its priority in its init, and only then takes its title.
 */
async function initializedWorkers(master: number, count: number): Promise<number[]> {
  const titled = (): number[] => readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
    .filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('worker process'));
  await expect.poll(() => titled().length, { timeout: 5000, interval: 20 }).toBe(count);
  return titled();
}

async function managed(workerPriority: number | undefined): Promise<{ control: NginxRouterControl; master: number; workers: number[]; port: number }> {
  const prefixDir = mkdtempSync(join(tmpdir(), 'graylane-nginx-priority-'));
  const port = await freePort();
  const control = await startNginxRouterControl({ mode: { type: 'managed', prefixDir, workers: 2, workerPriority }, listen: `127.0.0.1:${port}`, drainTimeoutMs: 1000 });
  cleanups.push(async () => {
    await control.stop({ timeoutMs: 2000 });
    rmSync(prefixDir, { recursive: true, force: true });
  });
  const master = Number(readFileSync(join(prefixDir, 'nginx.pid'), 'utf8').trim());
  return { control, master, workers: await initializedWorkers(master, 2), port };
}

describe.skipIf(!existsSync('/usr/sbin/nginx') || !hasAutogroup)('a managed nginx\'s scheduling priority', () => {
  it('gives nginx a session of its own with the priority asked for, its workers that nice value, and serves', async () => {
    const app = await startUpstream('app');
    cleanups.push(() => app.close());
    const { control, master, workers, port } = await managed(5);
    expect(control.priorityRefused).toBeUndefined();
    expect(workers).toHaveLength(2);
    const mine = sessionOf(process.pid).group;
    for (const pid of [master, ...workers]) expect(sessionOf(pid)).toEqual({ group: sessionOf(master).group, nice: 5 });
    expect(sessionOf(master).group).not.toBe(mine);
    expect(workers.map((w) => getPriority(w))).toEqual([5, 5]);
    await control.applyTable({ services: [{ name: 'web', pathPrefix: '/', stable: 'v1', canaryWeight: 0, revisions: { v1: { instances: [{ id: 'a', address: app.address, ready: true }] } } }] });
    expect((await send(`http://127.0.0.1:${port}/`)).body).toBe('app');
  }, 30_000);

  it('leaves nginx in graylane\'s session, at its priority, when none is asked for', async () => {
    const { control, master } = await managed(undefined);
    expect(control.priorityRefused).toBeUndefined();
    expect(sessionOf(master)).toEqual(sessionOf(process.pid));
  }, 30_000);

  it.skipIf(!isRoot)('gives it a priority above the default with root (CAP_SYS_NICE)', async () => {
    const { control, workers } = await managed(-5);
    expect(control.priorityRefused).toBeUndefined();
    expect(workers.map((w) => sessionOf(w).nice)).toEqual([-5, -5]);
  }, 30_000);

  it.skipIf(!isRoot || !hasSetpriv)('without CAP_SYS_NICE (dropped by setpriv), starts anyway at the default and says why', async () => {
    const port = await freePort();
    const prefixDir = mkdtempSync(join(tmpdir(), 'graylane-nginx-priority-'));
    cleanups.push(() => rmSync(prefixDir, { recursive: true, force: true }));
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const module = pathToFileURL(new URL('./nginx-control.ts', import.meta.url).pathname).href;
    const script = `
      import { readFileSync } from 'node:fs';
      import { startNginxRouterControl } from ${JSON.stringify(module)};
      const c = await startNginxRouterControl({ mode: { type: 'managed', prefixDir: ${JSON.stringify(prefixDir)}, workers: 1, workerPriority: -5 }, listen: '127.0.0.1:${port}' });
      const master = readFileSync(${JSON.stringify(join(prefixDir, 'nginx.pid'))}, 'utf8').trim();
      const nice = readFileSync('/proc/' + master + '/autogroup', 'utf8').trim().split(' ')[2];
      await c.stop({ timeoutMs: 2000 });
      console.log(JSON.stringify({ priorityRefused: c.priorityRefused, nice }));
    `;
    const out = execFileSync('/usr/bin/setpriv', ['--bounding-set', '-sys_nice', '--inh-caps', '-sys_nice', process.execPath, '--import', tsx, '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({
      priorityRefused: 'nginx\'s workers cannot be given priority -5 (EPERM: a priority below 0 needs root or CAP_SYS_NICE); they run at the default',
      nice: '0',
    });
  }, 30_000);
});
