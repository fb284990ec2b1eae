import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { createInterface } from 'node:readline';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProcessTemplate } from '../../documents/schema.js';
import { describeRuntimeConformance } from '../runtime.case.test.js';
import type { AdoptRecord, InstanceChange, InstanceInfo } from '../runtime.js';
import { waitForInstances } from '../wait.js';
import { isAlive } from './proc-fs.js';
import { findOrphans } from './orphans.js';
import { adoptRecordOf, ProcessRuntime, type ProcessRuntimeOptions } from './process-runtime.js';
import { signalChild } from '../../lib/signal-child.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/runtime');
const node = process.execPath;
const runtimes: ProcessRuntime[] = [];
const strayPids: number[] = [];

function makeRuntime(options: Partial<ProcessRuntimeOptions> = {}): ProcessRuntime {
  const stateDir = options.stateDir ?? mkdtempSync(path.join(os.tmpdir(), 'graylane-rt-'));
  const runtime = new ProcessRuntime({ baseDir: fixtures, backoff: { initialMs: 200, maxMs: 2_000 }, adoptedPollMs: 100, ...options, stateDir });
  runtimes.push(runtime);
  return runtime;
}

function template(env: Record<string, string> = {}, extra: Partial<ProcessTemplate> = {}): ProcessTemplate {
  return {
    command: [node, 'server.mjs'],
    env,
    readinessProbe: { httpGet: { path: '/ready' }, periodSeconds: 0.1, failureThreshold: 2 },
    terminationGracePeriodSeconds: 2,
    ...extra,
  };
}

function record(runtime: ProcessRuntime): InstanceChange[] {
  const changes: InstanceChange[] = [];
  runtime.on('change', (c) => changes.push(c));
  return changes;
}

const allReady = (n: number) => (list: InstanceInfo[]) => list.length === n && list.every((i) => i.state === 'ready');

async function get(address: string, urlPath: string): Promise<string> {
  const res = await fetch(`http://${address}${urlPath}`);
  return res.text();
}

afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.shutdown({ stopInstances: true })));
  for (const pid of strayPids.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

describe('ProcessRuntime: starting', () => {
  it('starts replicas that become ready and see PORT, GRAYLANE_* and the template env', async () => {
    const runtime = makeRuntime();
    const started = await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template({ EXTRA: 'yes' }), replicas: 2 });
    expect(started).toHaveLength(2);
    const ready = await waitForInstances(runtime, allReady(2), { service: 'api', timeoutMs: 20_000 });
    const ports = new Set(ready.map((i) => i.address));
    expect(ports.size).toBe(2);
    for (const inst of ready) {
      const env = JSON.parse(await get(inst.address, '/env'));
      expect(env).toEqual({
        pid: inst.pid, PORT: inst.address.split(':')[1], GRAYLANE_SERVICE: 'api', GRAYLANE_REVISION: 'r1',
        GRAYLANE_INSTANCE: inst.id, EXTRA: 'yes',
      });
      expect(inst.restarts).toBe(0);
    }
  });

  it('is ready once the port accepts connections when there is no readiness probe', async () => {
    const runtime = makeRuntime();
    const t: ProcessTemplate = { command: [node, 'server.mjs'], env: { READY_DELAY_MS: '600000' } };
    await runtime.ensureInstances({ service: 'web', revision: 'r1', template: t, replicas: 1 });
    const [inst] = await waitForInstances(runtime, allReady(1), { timeoutMs: 20_000 });
    expect(await get(inst!.address, '/')).toMatch(/^hello from/);
  });

  it('is idempotent and scales down the least useful instances, calling beforeStop while still serving', async () => {
    const runtime = makeRuntime();
    const t = template();
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: t, replicas: 3 });
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: t, replicas: 3 });
    const ready = await waitForInstances(runtime, allReady(3), { timeoutMs: 20_000 });
    const served: string[] = [];
    const left = await runtime.ensureInstances({
      service: 'api', revision: 'r1', template: t, replicas: 1,
      beforeStop: async (inst) => {
        expect(inst.state).toBe('stopping');
        served.push(await get(inst.address, '/'));
      },
    });
    expect(left).toHaveLength(1);
    expect(served).toHaveLength(2);
    expect(served.every((s) => s.startsWith('hello from'))).toBe(true);
    for (const inst of ready.filter((i) => i.id !== left[0]!.id)) expect(isAlive(inst.pid!)).toBe(false);
  });

  it('keeps instances of other revisions and services apart', async () => {
    const runtime = makeRuntime();
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template(), replicas: 1 });
    await runtime.ensureInstances({ service: 'api', revision: 'r2', template: template(), replicas: 1 });
    await runtime.ensureInstances({ service: 'web', revision: 'r1', template: template(), replicas: 1 });
    expect(runtime.listInstances({ service: 'api' })).toHaveLength(2);
    expect(runtime.listInstances({ service: 'api', revision: 'r2' })).toHaveLength(1);
    expect(runtime.listInstances()).toHaveLength(3);
  });
});

describe('ProcessRuntime: bad input', () => {
  it('names the missing command and the cwd', async () => {
    const runtime = makeRuntime();
    const t = template({}, { command: ['graylane-no-such-command', '--x'] });
    const err = await runtime.ensureInstances({ service: 'api', revision: 'r1', template: t, replicas: 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CommandNotFound', name: 'CommandNotFoundError' });
    expect((err as Error).message).toContain('graylane-no-such-command');
    expect((err as Error).message).toContain(fixtures);
    expect(runtime.listInstances()).toEqual([]);
  });

  it('names a relative command that does not exist in the cwd', async () => {
    const runtime = makeRuntime();
    const t = template({}, { command: ['./missing.sh'] });
    await expect(runtime.ensureInstances({ service: 'api', revision: 'r1', template: t, replicas: 1 })).rejects.toThrow(
      /command "\.\/missing\.sh" not found .*missing\.sh does not exist/,
    );
  });

  it('says which working directory is missing', async () => {
    const runtime = makeRuntime();
    const t = template({}, { cwd: 'no-such-dir' });
    const err = await runtime.ensureInstances({ service: 'api', revision: 'r1', template: t, replicas: 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CwdNotFound' });
    expect((err as Error).message).toContain(path.join(fixtures, 'no-such-dir'));
  });

  it('says when the cwd is a file', async () => {
    const runtime = makeRuntime();
    const t = template({}, { cwd: 'server.mjs' });
    await expect(runtime.ensureInstances({ service: 'api', revision: 'r1', template: t, replicas: 1 })).rejects.toThrow(/is not a directory/);
  });

  it('rejects impossible replica counts and empty commands', async () => {
    const runtime = makeRuntime();
    await expect(runtime.ensureInstances({ service: 'a', revision: 'r', template: template(), replicas: -1 })).rejects.toMatchObject({ code: 'RuntimeInput' });
    await expect(runtime.ensureInstances({ service: 'a', revision: 'r', template: template(), replicas: 1.5 })).rejects.toThrow(/whole number/);
    await expect(runtime.ensureInstances({ service: 'a', revision: 'r', template: { command: [] }, replicas: 1 })).rejects.toThrow(/empty command/);
  });

  it('refuses to work after shutdown', async () => {
    const runtime = makeRuntime();
    await runtime.shutdown({ stopInstances: true });
    await expect(runtime.ensureInstances({ service: 'a', revision: 'r', template: template(), replicas: 1 })).rejects.toMatchObject({ code: 'RuntimeClosed' });
  });
});

describe('ProcessRuntime: health', () => {
  it('leaves an instance whose readiness never passes unready, with the probe failure as its error', async () => {
    const runtime = makeRuntime();
    const changes = record(runtime);
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template({ FAIL_READINESS: '1' }), replicas: 1 });
    const [inst] = await waitForInstances(runtime, (l) => l[0]?.state === 'unready', { timeoutMs: 20_000 });
    expect(inst!.lastError).toMatch(/readiness probe failed: GET \/ready returned HTTP 503/);
    await new Promise((r) => setTimeout(r, 500));
    expect(runtime.listInstances()[0]!.state).toBe('unready');
    expect(changes.some((c) => c.instance.state === 'ready')).toBe(false);
    expect(runtime.listInstances()[0]!.restarts).toBe(0);
  });

  it('becomes ready only after a slow start', async () => {
    const runtime = makeRuntime();
    const begin = Date.now();
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template({ READY_DELAY_MS: '700' }), replicas: 1 });
    const [inst] = await waitForInstances(runtime, allReady(1), { timeoutMs: 20_000 });
    expect(Date.now() - begin).toBeGreaterThanOrEqual(690);
    // The start time comes from /proc and lies between the call and now.
    expect(inst!.startedAtMs).toBeGreaterThanOrEqual(begin - 50);
    expect(inst!.startedAtMs).toBeLessThanOrEqual(Date.now());
  });

  it('restarts on liveness failure with a growing back-off and counts the restarts', async () => {
    const runtime = makeRuntime({ backoff: { initialMs: 300, maxMs: 5_000 } });
    const changes = record(runtime);
    const t = template({ LIVENESS_FAIL_AFTER_MS: '400' }, {
      livenessProbe: { httpGet: { path: '/healthz' }, periodSeconds: 0.1, failureThreshold: 2 },
      terminationGracePeriodSeconds: 1,
    });
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: t, replicas: 1 });
    await waitForInstances(runtime, (l) => (l[0]?.restarts ?? 0) >= 2, { timeoutMs: 30_000 });
    expect(changes.filter((c) => c.instance.state === 'failed').length).toBeGreaterThanOrEqual(2);
    expect(changes.some((c) => /liveness probe failed: GET \/healthz returned HTTP 500/.test(c.instance.lastError ?? ''))).toBe(true);
  });

  it('restarts a crashing process with back-off (CrashLoopBackOff) waiting at least the back-off each time', async () => {
    const runtime = makeRuntime({ backoff: { initialMs: 300, maxMs: 5_000 } });
    const times: { state: string; atMs: number; restarts: number }[] = [];
    runtime.on('change', (c) => times.push({ state: c.instance.state, atMs: Date.now(), restarts: c.instance.restarts }));
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template({ CRASH_AFTER_MS: '200' }), replicas: 1 });
    await waitForInstances(runtime, (l) => (l[0]?.restarts ?? 0) >= 3, { timeoutMs: 30_000 });
    const failed = times.filter((t) => t.state === 'failed');
    const relaunched = times.filter((t) => t.state === 'starting' && t.restarts > 0);
    expect(failed[0]!.restarts).toBe(0);
    // Lower bounds only: each relaunch waits at least 300, 600, 1200 ms after the crash before it.
    for (let n = 0; n < 3; n += 1) {
      const crash = failed.find((f) => f.restarts === n)!;
      const next = relaunched.find((r) => r.restarts === n + 1)!;
      expect(next.atMs - crash.atMs).toBeGreaterThanOrEqual(300 * 2 ** n - 20);
    }
    expect(runtime.listInstances()[0]!.lastError).toMatch(/exited with code 3/);
  });

  it('marks a process that exits before becoming ready failed, with its last output', async () => {
    const runtime = makeRuntime({ backoff: { initialMs: 60_000, maxMs: 60_000 } });
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template({ EXIT_AT_ONCE: '1' }), replicas: 1 });
    const [inst] = await waitForInstances(runtime, (l) => l[0]?.state === 'failed', { timeoutMs: 20_000 });
    expect(inst!.lastError).toMatch(/exited with code 2 before becoming ready/);
    expect(inst!.lastError).toContain('fatal: configuration missing, giving up');
    expect(inst!.pid).toBeUndefined();
  });

  it('never takes a port held by another process for readiness, and moves to a fresh port', async () => {
    const squatter = net.createServer((s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok'));
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const taken = (squatter.address() as net.AddressInfo).port;
    let calls = 0;
    const allocatePort = async () => {
      calls += 1;
      if (calls === 1) return taken;
      const s = net.createServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      const port = (s.address() as net.AddressInfo).port;
      await new Promise((r) => s.close(r));
      return port;
    };
    try {
      const runtime = makeRuntime({ allocatePort });
      const changes = record(runtime);
      await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template(), replicas: 1 });
      const [inst] = await waitForInstances(runtime, allReady(1), { timeoutMs: 20_000 });
      expect(inst!.address).not.toBe(`127.0.0.1:${taken}`);
      expect(inst!.restarts).toBeGreaterThanOrEqual(1);
      expect(changes.some((c) => c.instance.state === 'ready' && c.instance.address === `127.0.0.1:${taken}`)).toBe(false);
    } finally {
      squatter.close();
    }
  });
});

describe('ProcessRuntime: stopping', () => {
  it('sends SIGTERM, then SIGKILL after the grace period to a process that ignores SIGTERM', async () => {
    const runtime = makeRuntime();
    const changes = record(runtime);
    const t = template({ IGNORE_SIGTERM: '1' }, { terminationGracePeriodSeconds: 1 });
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: t, replicas: 1 });
    const [inst] = await waitForInstances(runtime, allReady(1), { timeoutMs: 20_000 });
    const begin = Date.now();
    await runtime.stopInstance({ id: inst!.id });
    expect(Date.now() - begin).toBeGreaterThanOrEqual(950);
    expect(isAlive(inst!.pid!)).toBe(false);
    const stopped = changes.find((c) => c.instance.state === 'stopped')!;
    expect(stopped.instance.lastError).toMatch(/did not exit within 1000 ms of SIGTERM; sent SIGKILL/);
    const logs = [];
    for await (const l of runtime.readLogs({ service: 'api' })) logs.push(l.line);
    expect(logs).toContain('got SIGTERM');
    expect(runtime.listInstances()).toEqual([]);
  });

  it('stops a well-behaved process with SIGTERM after beforeStop and the drain delay', async () => {
    const runtime = makeRuntime();
    const t = template({}, { terminationGracePeriodSeconds: 30 });
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: t, replicas: 1 });
    const [inst] = await waitForInstances(runtime, allReady(1), { timeoutMs: 20_000 });
    const order: string[] = [];
    const begin = Date.now();
    await runtime.stopInstance({ id: inst!.id, drainMs: 300, beforeStop: () => { order.push('beforeStop'); } });
    const tookMs = Date.now() - begin;
    expect(order).toEqual(['beforeStop']);
    expect(tookMs).toBeGreaterThanOrEqual(290);
    // Far below the 30 s grace period: it left on SIGTERM.
    expect(tookMs).toBeLessThan(25_000);
    expect(isAlive(inst!.pid!)).toBe(false);
  });

  it('still stops the instance when beforeStop throws, and says so', async () => {
    const runtime = makeRuntime();
    const changes = record(runtime);
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template(), replicas: 1 });
    const [inst] = await waitForInstances(runtime, allReady(1), { timeoutMs: 20_000 });
    await runtime.stopInstance({ id: inst!.id, beforeStop: () => { throw new Error('router unreachable'); } });
    expect(isAlive(inst!.pid!)).toBe(false);
    expect(changes.at(-1)!.instance).toMatchObject({ state: 'stopped', lastError: 'beforeStop hook failed: router unreachable' });
  });

  it('rejects an unknown instance id', async () => {
    const runtime = makeRuntime();
    await expect(runtime.stopInstance({ id: 'nope' })).rejects.toMatchObject({ code: 'InstanceNotFound' });
  });

  it('refuses, once a shutdown with stopInstances began, to start anything more: no process outlives it', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'graylane-rt-'));
    const runtime = makeRuntime({ stateDir });
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template(), replicas: 1 });
    await waitForInstances(runtime, allReady(1), { timeoutMs: 20_000 });
    const launching = runtime.ensureInstances({ service: 'api', revision: 'r2', template: template(), replicas: 1 });
    const stopping = runtime.shutdown({ stopInstances: true });
    // A pass of the control plane that comes in while the instances stop (Ctrl-C just after an apply).
    const late = runtime.ensureInstances({ service: 'api', revision: 'r3', template: template(), replicas: 1 }).then(() => undefined, (err: unknown) => err);
    await stopping;
    await launching;
    expect(await late).toMatchObject({ code: 'RuntimeClosed' });
    expect(findOrphans({ stateDir, known: new Set() })).toEqual([]);
    expect(runtime.listInstances()).toEqual([]);
  });

  it('leaves processes running on shutdown without stopInstances', async () => {
    const runtime = makeRuntime();
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template(), replicas: 1 });
    const [inst] = await waitForInstances(runtime, allReady(1), { timeoutMs: 20_000 });
    strayPids.push(inst!.pid!);
    await runtime.shutdown({ stopInstances: false });
    expect(isAlive(inst!.pid!)).toBe(true);
    expect(await get(inst!.address, '/')).toMatch(/^hello from/);
  });
});

describe('ProcessRuntime: logs', () => {
  it('writes per-instance log files under the state dir and reads them', async () => {
    const runtime = makeRuntime();
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template(), replicas: 1 });
    const [inst] = await waitForInstances(runtime, allReady(1), { timeoutMs: 20_000 });
    await get(inst!.address, '/say?text=hello&n=3');
    const stateDir = (runtime as unknown as { options: ProcessRuntimeOptions }).options.stateDir;
    const file = path.join(stateDir, 'logs', 'api', 'r1', `${inst!.id}.log`);
    expect(readFileSync(file, 'utf8')).toContain('hello 2\n');
    const lines = [];
    for await (const l of runtime.readLogs({ service: 'api', revision: 'r1' })) lines.push(l);
    expect(lines.map((l) => l.line)).toEqual(expect.arrayContaining(['hello 0', 'hello 1', 'hello 2']));
    expect(lines[0]).toMatchObject({ service: 'api', revision: 'r1', instance: inst!.id });
    const from = [];
    for await (const l of runtime.readLogs({ service: 'api', sinceBytes: readFileSync(file).length })) from.push(l);
    expect(from).toEqual([]);
    const none = [];
    for await (const l of runtime.readLogs({ service: 'nothing' })) none.push(l);
    expect(none).toEqual([]);
  });

  it('rotates by size as the log grows, keeping N files, and a read starts from the oldest kept file, losing nothing', async () => {
    // Rotation reacts to growth by itself now (it used to wait for a 5 s timer or a call): the test
    // writes in small steps and lets each rotation finish, as a normal app's output would.
    const runtime = makeRuntime({ logRotation: { maxBytes: 1_000, keepFiles: 2 }, logRotateCheckMs: 60_000 });
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template(), replicas: 1 });
    const [inst] = await waitForInstances(runtime, allReady(1), { timeoutMs: 20_000 });
    const stateDir = (runtime as unknown as { options: ProcessRuntimeOptions }).options.stateDir;
    const dir = path.join(stateDir, 'logs', 'api', 'r1');
    const written: string[] = [];
    for (let round = 0; round < 40; round += 1) {
      await get(inst!.address, `/say?text=round${round}-line&n=5`);
      for (let i = 0; i < 5; i += 1) written.push(`round${round}-line ${i}`);
      await runtime.rotateLogs();
    }
    await get(inst!.address, '/say?text=last&n=1');
    written.push('last 0');
    await runtime.rotateLogs();
    expect(readdirSync(dir).sort()).toEqual([`${inst!.id}.log`, `${inst!.id}.log.1`, `${inst!.id}.log.2`]);
    // Rotated files hold at most maxBytes. The current one is rotated once it reaches 15/16 of it, so
    // it may end one burst of output above that (log-files.ts's cap semantics): here, one round.
    for (const name of readdirSync(dir).filter((n) => n !== `${inst!.id}.log`)) expect(statSync(path.join(dir, name)).size).toBeLessThanOrEqual(1_000);
    const roundBytes = Math.max(...Array.from({ length: 40 }, (_, round) => Buffer.byteLength(Array.from({ length: 5 }, (_, i) => `round${round}-line ${i}\n`).join(''))));
    expect(statSync(path.join(dir, `${inst!.id}.log`)).size).toBeLessThanOrEqual(1_000 - Math.floor(1_000 / 16) + roundBytes);
    const lines = [];
    for await (const l of runtime.readLogs({ service: 'api' })) lines.push(l.line);
    // The oldest rounds were rotated out (keep 2); what remains is the newest output, whole and in order.
    expect(lines.filter((l) => l.startsWith('round0-'))).toEqual([]);
    expect(lines.filter((l) => l.startsWith('graylane:'))).toEqual([]);
    expect(lines.length).toBeGreaterThan(100);
    expect(lines).toEqual(written.slice(-lines.length));
  });

  it('follows new lines, across a rotation, until aborted', async () => {
    const runtime = makeRuntime({ logRotation: { maxBytes: 500, keepFiles: 1 }, logRotateCheckMs: 60_000, logPollMs: 50 });
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template(), replicas: 1 });
    const [inst] = await waitForInstances(runtime, allReady(1), { timeoutMs: 20_000 });
    const controller = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const l of runtime.readLogs({ service: 'api', follow: true, signal: controller.signal })) {
        seen.push(l.line);
        if (l.line === 'after 0') controller.abort();
      }
    })();
    await waitUntil(() => seen.some((l) => l.startsWith('listening on')));
    await get(inst!.address, '/say?text=before&n=30');
    await waitUntil(() => seen.includes('before 29'));
    await runtime.rotateLogs();
    await get(inst!.address, '/say?text=after&n=1');
    await reading;
    expect(seen.filter((l) => l.startsWith('before'))).toHaveLength(30);
    expect(seen.at(-1)).toBe('after 0');
  });
});

describe('ProcessRuntime: log tail, since and retention', () => {
  async function lines(runtime: ProcessRuntime, request: { tailLines?: number; sinceMs?: number }): Promise<string[]> {
    const out: string[] = [];
    for await (const l of runtime.readLogs({ service: 'api', ...request })) out.push(l.line);
    return out;
  }

  it('tailLines gives the last N lines and sinceMs the lines written since then, to the second', async () => {
    const runtime = makeRuntime();
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template(), replicas: 1 });
    const [inst] = await waitForInstances(runtime, allReady(1), { timeoutMs: 20_000 });
    await get(inst!.address, '/say?text=old&n=5');
    // Lines carry no time: the runtime's own record of when the file had which size places them.
    await new Promise((r) => setTimeout(r, 1_200));
    const sinceMs = Date.now();
    await new Promise((r) => setTimeout(r, 200));
    await get(inst!.address, '/say?text=new&n=5');
    await runtime.rotateLogs();
    expect(await lines(runtime, { tailLines: 3 })).toEqual(['new 2', 'new 3', 'new 4']);
    expect(await lines(runtime, { tailLines: 0 })).toEqual([]);
    expect(await lines(runtime, { sinceMs })).toEqual(['new 0', 'new 1', 'new 2', 'new 3', 'new 4']);
    expect(await lines(runtime, { sinceMs, tailLines: 2 })).toEqual(['new 3', 'new 4']);
    expect((await lines(runtime, { sinceMs: sinceMs - 60_000 })).filter((l) => l.startsWith('old'))).toHaveLength(5);
  });

  it('sinceMs stays exact to the second inside a file that was rotated since', async () => {
    const runtime = makeRuntime({ logRotation: { maxBytes: 1_000, keepFiles: 2 } });
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template(), replicas: 1 });
    const [inst] = await waitForInstances(runtime, allReady(1), { timeoutMs: 20_000 });
    await get(inst!.address, '/say?text=old&n=5');
    await new Promise((r) => setTimeout(r, 1_200));
    const sinceMs = Date.now();
    await new Promise((r) => setTimeout(r, 200));
    await get(inst!.address, '/say?text=new&n=5');
    for (let i = 0; i < 15; i += 1) {
      await get(inst!.address, '/say?text=fill&n=10');
      await runtime.rotateLogs();
    }
    const stateDir = (runtime as unknown as { options: ProcessRuntimeOptions }).options.stateDir;
    // The old and the new lines are both in the rotated file now, whose time is the rotation's.
    expect(readFileSync(path.join(stateDir, 'logs', 'api', 'r1', `${inst!.id}.log.1`), 'utf8')).toContain('old 4\nnew 0\n');
    const recent = await lines(runtime, { sinceMs });
    expect(recent.slice(0, 6)).toEqual(['new 0', 'new 1', 'new 2', 'new 3', 'new 4', 'fill 0']);
    expect(recent).toHaveLength(5 + 150);
  });

  it('deletes a retired instance\'s logs after the retention, never a live one\'s however old, nor one a process still writes to', async () => {
    const runtime = makeRuntime({ logRetentionMs: 500, logSweepMs: 100 });
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template(), replicas: 1 });
    await runtime.ensureInstances({ service: 'api', revision: 'r2', template: template(), replicas: 1 });
    const [retired] = await waitForInstances(runtime, (l) => l.filter((i) => i.state === 'ready').length === 2, { timeoutMs: 20_000 }).then((l) => l.filter((i) => i.revision === 'r1'));
    const live = runtime.listInstances({ revision: 'r2' })[0]!;
    const stateDir = (runtime as unknown as { options: ProcessRuntimeOptions }).options.stateDir;
    const retiredLog = path.join(stateDir, 'logs', 'api', 'r1', `${retired!.id}.log`);
    const liveLog = path.join(stateDir, 'logs', 'api', 'r2', `${live.id}.log`);
    // A quiet live app: its log has not changed for an hour.
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(liveLog, hourAgo, hourAgo);
    // An app this runtime does not track (left by an earlier daemon) still writing to its log.
    const orphanLog = path.join(stateDir, 'logs', 'api', 'r0', 'api-r0-orphan.log');
    mkdirSync(path.dirname(orphanLog), { recursive: true });
    const fd = openSync(orphanLog, 'a');
    const orphan = spawn(node, ['-e', 'setInterval(() => {}, 1000)'], { stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    strayPids.push(orphan.pid!);
    utimesSync(orphanLog, hourAgo, hourAgo);
    // The daemon adopts (here: nothing) before it may take an untracked log for a retired one.
    await runtime.adopt([]);
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: template(), replicas: 0 });
    // Retention counts from the stop: the file is still there just after it.
    expect(existsSync(retiredLog)).toBe(true);
    await waitUntil(() => !existsSync(retiredLog), 10_000);
    expect(existsSync(path.join(stateDir, 'logs', 'api', 'r1'))).toBe(false);
    expect(existsSync(liveLog)).toBe(true);
    expect(existsSync(orphanLog)).toBe(true);
  });
});

describe('ProcessRuntime: adoption', () => {
  it('re-attaches to processes left by a previous runtime, with zero restarts', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'graylane-rt-'));
    const t = template();
    const a = makeRuntime({ stateDir });
    await a.ensureInstances({ service: 'api', revision: 'r1', template: t, replicas: 2 });
    const before = await waitForInstances(a, allReady(2), { timeoutMs: 20_000 });
    // The daemon dies: nothing is stopped, the records are what it had persisted.
    await a.shutdown({ stopInstances: false });
    runtimes.splice(runtimes.indexOf(a), 1);
    before.forEach((i) => strayPids.push(i.pid!));
    const b = makeRuntime({ stateDir });
    const result = await b.adopt(before.map((i) => adoptRecordOf(i, t)!));
    expect(result.rejected).toEqual([]);
    expect(result.adopted.map((i) => i.id).sort()).toEqual(before.map((i) => i.id).sort());
    // They were ready when recorded: routable at once, not after a first probe.
    expect(result.adopted.map((i) => i.state)).toEqual(['ready', 'ready']);
    const after = await waitForInstances(b, allReady(2), { timeoutMs: 20_000 });
    for (const inst of after) {
      const old = before.find((i) => i.id === inst.id)!;
      expect(inst).toMatchObject({ pid: old.pid, address: old.address, restarts: 0, startedAtMs: old.startedAtMs });
    }
    // Still the same processes, still writing to the same log.
    await get(after[0]!.address, '/say?text=adopted&n=1');
    await waitUntil(async () => (await collect(b, 'api')).includes('adopted 0'));
    // And b can stop them.
    await b.stopInstance({ id: after[0]!.id });
    expect(isAlive(after[0]!.pid!)).toBe(false);
  });

  it('survives a kill -9 of the daemon process and is adopted by the next one, unrestarted', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'graylane-rt-'));
    const daemon = spawn(node, ['--import', 'tsx', path.join(fixtures, 'daemon.mjs'), stateDir], {
      cwd: path.resolve(fixtures, '../../..'), stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: daemon.stdout }).once('line', resolve);
      daemon.once('exit', (code) => reject(new Error(`daemon fixture exited with ${code}`)));
    });
    const rec = JSON.parse(line) as AdoptRecord;
    strayPids.push(rec.pid);
    expect(rec.wasReady).toBe(true);
    const died = new Promise((r) => daemon.once('exit', r));
    signalChild(daemon, 'SIGKILL');
    await died;
    expect(isAlive(rec.pid)).toBe(true);
    expect(await get(`127.0.0.1:${rec.port}`, '/')).toMatch(/^hello from/);
    const b = makeRuntime({ stateDir });
    const result = await b.adopt([rec]);
    expect(result.rejected).toEqual([]);
    expect(result.adopted[0]?.state).toBe('ready');
    const [inst] = await waitForInstances(b, allReady(1), { timeoutMs: 20_000 });
    expect(inst).toMatchObject({ id: rec.id, pid: rec.pid, restarts: 0, address: `127.0.0.1:${rec.port}` });
    // Its output still lands in the log, although the process that opened the file is gone.
    await get(inst!.address, '/say?text=orphan&n=1');
    await waitUntil(async () => (await collect(b, 'api')).includes('orphan 0'));
    await b.stopInstance({ id: rec.id });
    expect(isAlive(rec.pid)).toBe(false);
  });

  it('notices an adopted process dying and restarts it from the recorded template', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'graylane-rt-'));
    const t = template();
    const a = makeRuntime({ stateDir });
    await a.ensureInstances({ service: 'api', revision: 'r1', template: t, replicas: 1 });
    const [old] = await waitForInstances(a, allReady(1), { timeoutMs: 20_000 });
    await a.shutdown({ stopInstances: false });
    const b = makeRuntime({ stateDir });
    // Not known to have been ready: it waits for its first probe before it is routed.
    const { adopted } = await b.adopt([{ ...adoptRecordOf(old!, t)!, wasReady: false }]);
    expect(adopted[0]?.state).toBe('starting');
    process.kill(old!.pid!, 'SIGKILL');
    const [now] = await waitForInstances(b, (l) => l[0]?.state === 'ready' && l[0].restarts === 1, { timeoutMs: 20_000 });
    expect(now!.pid).not.toBe(old!.pid);
  });

  it('refuses a recycled pid, a dead pid, a different command and a duplicate id', async () => {
    const runtime = makeRuntime();
    const t = template();
    await runtime.ensureInstances({ service: 'api', revision: 'r1', template: t, replicas: 1 });
    const [inst] = await waitForInstances(runtime, allReady(1), { timeoutMs: 20_000 });
    const rec = adoptRecordOf(inst!, t)!;
    const other = makeRuntime();
    const result = await other.adopt([
      { ...rec, id: 'recycled', startedAtMs: rec.startedAtMs - 3_600_000 },
      { ...rec, id: 'dead', pid: 2 ** 22 + 12345 },
      { ...rec, id: 'other-command', command: ['/usr/bin/python3', 'app.py'] },
    ]);
    expect(result.adopted).toEqual([]);
    expect(result.rejected.map((r) => [r.record.id, r.reason])).toEqual([
      ['recycled', 'mismatch'], ['dead', 'dead'], ['other-command', 'mismatch'],
    ]);
    expect(result.rejected[0]!.message).toMatch(/the pid was reused/);
    expect(result.rejected[2]!.message).toMatch(/now runs/);
    expect(other.listInstances()).toEqual([]);
    const dup = await runtime.adopt([rec]);
    expect(dup.rejected[0]).toMatchObject({ reason: 'duplicate' });
    // Nothing was restarted or touched.
    expect(runtime.listInstances()[0]).toMatchObject({ pid: inst!.pid, restarts: 0, state: 'ready' });
  });
});

async function collect(runtime: ProcessRuntime, service: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const l of runtime.readLogs({ service })) lines.push(l.line);
  return lines;
}

async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}


describeRuntimeConformance<ProcessTemplate>('process', () => Promise.resolve({
  runtime: makeRuntime(),
  template: template({}, { terminationGracePeriodSeconds: 5 }),
  replicas: 2,
  dispose: () => Promise.resolve(),
}));
