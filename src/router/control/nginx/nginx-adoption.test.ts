/**
 * A managed nginx outlives the daemon that started it (a crash, here `detach()`), and the next
 * daemon takes it over instead of starting a second nginx on the port the first still holds; a
 * master that dies under a running control is replaced. Real nginx, real loopback HTTP.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RouteTable } from '../../contract/index.js';
import { startNginxRouterControl, type NginxRouterControl } from './nginx-control.js';
import { findLeftoverNginx, stopLeftoverNginx } from './leftover-nginx.js';
import { childrenOf } from './nginx-process.js';
import { freePort } from '../../../../test/fixtures/router/support.js';
import type { WorkerEvent } from '../supervisor/protocol.js';

interface Upstream { server: Server; port: number }
const held: ServerResponse[] = [];

async function upstream(name: string): Promise<Upstream> {
  const server = createServer((req, res) => {
    // /hold is answered only when the test lets go of it: a request in flight.
    if (req.url === '/hold') held.push(res);
    else res.end(name);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

/** A GET on a fresh connection: the body, or the error's code. */
function get(port: number, path = '/'): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body : `${res.statusCode}`));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';

const until = async (ok: () => boolean | Promise<boolean>, timeoutMs: number, what: string) => {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

let v1: Upstream;
let v2: Upstream;
const controls: NginxRouterControl[] = [];

function table(canaryWeight: number): RouteTable {
  return {
    services: [{
      name: 'web', pathPrefix: '/', stable: 'v1', canary: 'v2', canaryWeight,
      revisions: {
        v1: { instances: [{ id: 'v1-a', address: `127.0.0.1:${v1.port}`, ready: true }] },
        v2: { instances: [{ id: 'v2-a', address: `127.0.0.1:${v2.port}`, ready: true }] },
      },
    }],
  };
}

async function start(prefixDir: string, listenPort: number, extra: { workerPriority?: number; drainTimeoutMs?: number; onWorkerEvent?: (e: WorkerEvent) => void } = {}): Promise<NginxRouterControl> {
  const { drainTimeoutMs = 3000, onWorkerEvent, ...mode } = extra;
  const control = await startNginxRouterControl({
    mode: { type: 'managed', prefixDir, workers: 1, ...mode }, listen: `127.0.0.1:${listenPort}`, drainTimeoutMs,
    ...(onWorkerEvent !== undefined && { onWorkerEvent }), onProblem: () => undefined,
  });
  controls.push(control);
  return control;
}

/**
 * An nginx that a control started in a new prefix directory, applied `weight` to, and left serving
 * (what a daemon's crash does); the held request, when asked, is in flight at its upstream.
 */
async function leftServing(options: { canaryWeight: number; drainTimeoutMs?: number; holdOne?: boolean }): Promise<{ dir: string; port: number; pid: number; workers: number[]; inFlight: Promise<string> | undefined }> {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-nginx-adopt-'));
  const port = await freePort();
  const first = await start(dir, port, options.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: options.drainTimeoutMs });
  await first.applyTable(table(options.canaryWeight));
  const pid = first.pid!;
  const workers = childrenOf(pid);
  const inFlight = options.holdOne ? get(port, '/hold') : undefined;
  if (inFlight) await until(() => held.length === 1, 5000, 'the held request at the upstream');
  await first.detach();
  controls.splice(controls.indexOf(first), 1);
  return { dir, port, pid, workers, inFlight };
}

beforeAll(async () => {
  v1 = await upstream('v1');
  v2 = await upstream('v2');
});

afterEach(async () => {
  for (const r of held.splice(0)) r.end('released');
  for (const c of controls.splice(0)) await c.stop({ timeoutMs: 2000 }).catch(() => undefined);
});

afterAll(() => {
  v1.server.close();
  v2.server.close();
});

describe('a managed nginx an earlier daemon left serving', () => {
  it('is adopted by the next control: it serves its last table until the first apply, which reloads it; stop stops it', async () => {
    const { dir, port, pid } = await leftServing({ canaryWeight: 100 });

    // The daemon is gone: nginx serves on.
    expect(await get(port)).toBe('v2');
    const routes = readFileSync(join(dir, 'routes.conf'), 'utf8');
    const workersBefore = childrenOf(pid);

    const second = await start(dir, port);
    expect(second.adopted).toBe(true);
    expect(second.pid).toBe(pid);
    expect(second.stoppedLeftover).toBeUndefined();
    // Nothing was rewritten or reloaded: the earlier table is in force, not "starting".
    expect(readFileSync(join(dir, 'routes.conf'), 'utf8')).toBe(routes);
    expect(childrenOf(pid)).toEqual(workersBefore);
    for (let i = 0; i < 5; i++) expect(await get(port)).toBe('v2');

    // The new daemon's first table is put in force by a graceful reload of the same master.
    expect(await second.applyTable(table(0))).toEqual({ version: 1, changed: true });
    expect(second.currentTable().table).toEqual(table(0));
    // New workers serve it (the old ones may still be finishing, gracefully, for a moment).
    expect(childrenOf(pid).some((w) => !workersBefore.includes(w))).toBe(true);
    for (let i = 0; i < 5; i++) expect(await get(port)).toBe('v1');
    // Its access log is read again: requests are counted for this control.
    await until(() => second.totals({ service: 'web', revision: 'v1' }).requests >= 5, 3000, 'v1 counted');

    await second.stop({ timeoutMs: 2000 });
    controls.splice(0);
    expect(alive(pid)).toBe(false);
    expect(findLeftoverNginx(dir)).toBeUndefined();
    expect(existsSync(join(dir, 'graylane-nginx.json'))).toBe(false);
  }, 60_000);

  it('is not reloaded by the first table when that table renders what it runs; another worker count is put in force by it', async () => {
    const { dir, port, pid } = await leftServing({ canaryWeight: 100 });
    const workers = childrenOf(pid);

    const second = await start(dir, port);
    // The same table, its instances listed in another order: the same configuration.
    const same = table(100);
    same.services[0]!.revisions.v2!.instances.push({ id: 'v2-b', address: `127.0.0.1:${v1.port}`, ready: false });
    same.services[0]!.revisions.v2!.instances.reverse();
    expect(await second.applyTable(same)).toEqual({ version: 1, changed: true });
    expect(childrenOf(pid)).toEqual(workers);
    expect(await get(port)).toBe('v2');
    await second.detach();
    controls.splice(0);

    // Adopted for 2 workers where it ran 1: the first table reloads it, though it renders the same.
    const third = await startNginxRouterControl({ mode: { type: 'managed', prefixDir: dir, workers: 2 }, listen: `127.0.0.1:${port}`, drainTimeoutMs: 3000 });
    controls.push(third);
    expect(third.adopted).toBe(true);
    await third.applyTable(same);
    await until(() => childrenOf(pid).filter((w) => !workers.includes(w)).length === 2, 5000, 'two new workers');
    expect(await get(port)).toBe('v2');
  }, 60_000);

  it('is stopped, and a new one started, when it was started for another address; the sentence says why', async () => {
    const { dir, port: portA, pid } = await leftServing({ canaryWeight: 0 });
    const portB = await freePort();

    const second = await start(dir, portB);
    expect(second.adopted).toBe(false);
    expect(second.pid).not.toBe(pid);
    expect(alive(pid)).toBe(false);
    expect(second.stoppedLeftover).toBe(`stopped nginx pid ${pid} an earlier daemon left serving (it listened on 127.0.0.1:${portA}, not 127.0.0.1:${portB}) and started pid ${second.pid}`);
    await second.applyTable(table(0));
    expect(await get(portB)).toBe('v1');
    expect(await get(portA)).toBe('ECONNREFUSED');
  }, 60_000);

  it('is stopped when no record says what it was started for (an older graylane), and the port is taken over', async () => {
    const { dir, port, pid } = await leftServing({ canaryWeight: 0 });
    writeFileSync(join(dir, 'graylane-nginx.json'), '{"pid": 1, "listen": "elsewhere"}\n');

    const second = await start(dir, port);
    expect(second.adopted).toBe(false);
    expect(second.stoppedLeftover).toContain(`stopped nginx pid ${pid} an earlier daemon left serving (no record of what it was started for)`);
    await second.applyTable(table(100));
    expect(await get(port)).toBe('v2');
  }, 60_000);

  it('is not taken for ours when its pid file names another process: that one is left alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graylane-nginx-adopt-'));
    const port = await freePort();
    const first = await start(dir, port);
    await first.stop({ timeoutMs: 2000 });
    controls.splice(0);
    // A stale pid file whose pid now belongs to something else (this test process).
    writeFileSync(join(dir, 'nginx.pid'), `${process.pid}\n`);
    writeFileSync(join(dir, 'graylane-nginx.json'), JSON.stringify({ pid: process.pid, listen: `127.0.0.1:${port}`, workerPriority: null, priorityRefused: null }));
    expect(findLeftoverNginx(dir)).toBeUndefined();
    expect(await stopLeftoverNginx({ prefixDir: dir, timeoutMs: 100 })).toBeUndefined();

    const second = await start(dir, port);
    expect(second.adopted).toBe(false);
    expect(second.stoppedLeftover).toBeUndefined();
    expect(second.pid).not.toBe(process.pid);
    await second.applyTable(table(0));
    expect(await get(port)).toBe('v1');
  }, 60_000);

  it('that does not stop in time (a request held past the deadline) is killed with its workers, and the port is free again', async () => {
    // Its old workers could wait 60 s for the held request: far past the deadline of the stop.
    const { dir, port, pid, workers, inFlight } = await leftServing({ canaryWeight: 0, drainTimeoutMs: 60_000, holdOne: true });

    const startedAt = Date.now();
    expect(await stopLeftoverNginx({ prefixDir: dir, timeoutMs: 300 })).toBe(pid);
    expect(Date.now() - startedAt).toBeLessThan(3000);
    expect(alive(pid)).toBe(false);
    await until(() => workers.every((w) => !alive(w)), 2000, 'its workers gone');
    // The request it held is the one lost.
    expect(await inFlight).toMatch(/ECONNRESET|socket hang up/);
    const second = await start(dir, port);
    expect(second.adopted).toBe(false);
    await second.applyTable(table(100));
    expect(await get(port)).toBe('v2');
  }, 60_000);

  it('is stopped, not adopted, when the worker priority asked for changed', async () => {
    const { dir, port, pid } = await leftServing({ canaryWeight: 0 });

    const second = await start(dir, port, { workerPriority: 5 });
    expect(second.adopted).toBe(false);
    expect(alive(pid)).toBe(false);
    expect(second.stoppedLeftover).toContain('(it ran at worker priority default, not 5)');
  }, 60_000);
});

describe('a managed nginx whose master dies while a control runs it', () => {
  it('is started again with the table in force, its old workers stopped; both are told; the new one takes the next table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graylane-nginx-restart-'));
    const port = await freePort();
    const events: WorkerEvent[] = [];
    const control = await start(dir, port, { onWorkerEvent: (e) => events.push(e) });
    await control.applyTable(table(100));
    const pid = control.pid!;
    const workers = childrenOf(pid);
    expect(workers.length).toBe(1);
    process.kill(pid, 'SIGKILL');

    await until(() => events.length === 2, 10_000, 'the exit and the start again told');
    expect(events[0]).toMatchObject({ type: 'worker-exited', process: 'nginx', exit: { pid, cause: 'SIGKILL' } });
    const fresh = control.pid!;
    expect(fresh).not.toBe(pid);
    expect(events[1]).toMatchObject({ type: 'worker-replaced', process: 'nginx', exit: { pid, replacedBy: { pid: fresh } } });
    // The orphaned worker would have served the old table forever: it is gone.
    await until(() => workers.every((w) => !alive(w)), 3000, 'the old worker gone');
    expect(await get(port)).toBe('v2');
    expect(findLeftoverNginx(dir)?.pid).toBe(fresh);

    await control.applyTable(table(0));
    expect(await get(port)).toBe('v1');
    await control.stop({ timeoutMs: 2000 });
    controls.splice(0);
    expect(alive(fresh)).toBe(false);
    expect(events).toHaveLength(2);
  }, 60_000);

  it('adopted, it is watched too: killed, it is started again', async () => {
    const { dir, port, pid } = await leftServing({ canaryWeight: 100 });
    const events: WorkerEvent[] = [];
    const control = await start(dir, port, { onWorkerEvent: (e) => events.push(e) });
    expect(control.adopted).toBe(true);
    process.kill(pid, 'SIGKILL');
    await until(() => events.length === 2, 10_000, 'the exit and the start again told');
    expect(events[0]).toMatchObject({ type: 'worker-exited', process: 'nginx', exit: { pid, cause: 'exited (its exit status is unknown: it was adopted)' } });
    expect(control.pid).not.toBe(pid);
    // This control applied no table yet: the new nginx runs what the adopted one ran.
    expect(await get(port)).toBe('v2');
    await control.applyTable(table(0));
    expect(await get(port)).toBe('v1');
  }, 60_000);

  it('stopped on purpose, it is not started again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graylane-nginx-restart-'));
    const port = await freePort();
    const events: WorkerEvent[] = [];
    const control = await start(dir, port, { onWorkerEvent: (e) => events.push(e) });
    await control.applyTable(table(0));
    const pid = control.pid!;
    await control.stop({ timeoutMs: 2000 });
    controls.splice(0);
    await new Promise((r) => setTimeout(r, 1000));
    expect(events).toEqual([]);
    expect(alive(pid)).toBe(false);
    expect(findLeftoverNginx(dir)).toBeUndefined();
    expect(await get(port)).toBe('ECONNREFUSED');
  }, 30_000);
});
