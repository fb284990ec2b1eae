/** A daemon killed with -9 mid-canary, and the bad inputs a user will try first. */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appDir, BIN, cli, hit, startDaemon, stopDaemon, waitFor, writeApp, type Daemon, view } from './harness.js';
import { outcomeOf } from '../../src/view/outcome.js';
import { signalChild } from '../../src/lib/signal-child.js';

const daemons: Daemon[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await stopDaemon(d);
});

function runUp(dir: string, args: string[] = []): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, 'up', '-f', join(dir, 'graylane.yaml'), ...args], { cwd: dir });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => signalChild(p, 'SIGINT'), 15_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const canary = '      canary:\n        steps: [{setWeight: 50}, {pause: {}}, {setWeight: 80}, {pause: {}}]';

describe('daemon crash', () => {
  it('kill -9 mid-canary: app keeps running, a new daemon re-adopts it without restarts and resumes at its step', async () => {
    const dir = appDir();
    const file = writeApp(dir, { version: 'v1', strategy: canary });
    const first = await startDaemon(dir);
    await waitFor(async () => (await view(first)).phase === 'Healthy', 20_000, 'v1 healthy');
    writeApp(dir, { version: 'v2', strategy: canary });
    await cli(first.stateDir, ['apply', '-f', file]);
    const paused = await waitFor(async () => {
      const v = await view(first);
      return v.phase === 'Paused' && v.step === 2 ? v : undefined;
    }, 20_000, 'paused at step 2');
    expect(paused.revisions.map((r) => r.weight)).toEqual([50, 50]);
    const pidsBefore = new Set<number>();
    for (let i = 0; i < 60; i++) pidsBefore.add((await hit(`${first.info.routerUrl}/`)).pid);
    expect(pidsBefore.size).toBe(3);

    signalChild(first.proc, 'SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    for (const pid of pidsBefore) expect(() => process.kill(pid, 0)).not.toThrow();

    const second = await startDaemon(dir);
    daemons.push(second);
    expect(second.output()).toContain('re-adopted 3 running instance(s)');
    const resumed = await view(second);
    expect(resumed).toMatchObject({ phase: 'Paused', step: 2 });
    expect(resumed.revisions.map((r) => r.weight)).toEqual([50, 50]);
    const seen = new Map<string, number>();
    const pidsAfter = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const r = await hit(`${second.info.routerUrl}/`);
      pidsAfter.add(r.pid);
      seen.set(r.version, (seen.get(r.version) ?? 0) + 1);
    }
    expect(pidsAfter).toEqual(pidsBefore);
    expect(seen.get('v1')).toBeGreaterThan(60);
    expect(seen.get('v2')).toBeGreaterThan(60);
    expect((await cli(second.stateDir, ['promote', 'app', '--full'])).code).toBe(0);
    // Done, as `status --wait` waits for: the role flips when the promotion is committed, the
    // outcome once the router's workers have the table that carries it.
    await waitFor(async () => {
      const v = await view(second);
      return outcomeOf(v).done && v.revisions.find((r) => r.number === 2)?.role === 'stable';
    }, 20_000, 'promoted and in force');
    for (let i = 0; i < 20; i++) expect((await hit(`${second.info.routerUrl}/`)).version).toBe('v2');
  }, 90_000);
});

describe('bad inputs', () => {
  it('a command that does not exist: exit 2 naming the field, nothing started', async () => {
    const dir = appDir();
    writeApp(dir, { version: 'v1', strategy: canary });
    writeFileSync(join(dir, 'graylane.yaml'), readFileSync(join(dir, 'graylane.yaml'), 'utf8').replace('[node, server.mjs]', '[no-such-binary-xyz, server.mjs]'));
    const r = await runUp(dir, ['--listen', '127.0.0.1:0']);
    expect(r.code).toBe(2);
    expect(r.out).toContain('spec.services[0].process.command[0]');
    expect(r.out).toContain('no-such-binary-xyz');
  }, 30_000);

  it('a readiness probe that never passes: the rollout stops at the progress deadline and traffic stays on stable', async () => {
    const dir = appDir();
    const extra = '    progressDeadlineSeconds: 3\n';
    const file = writeApp(dir, { version: 'v1', strategy: canary, extra });
    const d = await startDaemon(dir);
    daemons.push(d);
    await waitFor(async () => (await view(d)).phase === 'Healthy', 20_000, 'v1 healthy');
    writeApp(dir, { version: 'v2', strategy: canary, extra, env: { NEVER_READY: '1' } });
    await cli(d.stateDir, ['apply', '-f', file]);
    const degraded = await waitFor(async () => {
      const v = await view(d);
      return v.phase === 'Degraded' ? v : undefined;
    }, 20_000, 'degraded');
    expect(degraded.revisions.find((r) => r.role === 'stable')!.weight).toBe(100);
    for (let i = 0; i < 30; i++) expect((await hit(`${d.info.routerUrl}/`)).version).toBe('v1');
    const status = await cli(d.stateDir, ['status', 'app']);
    expect(status.code).toBe(1);
    expect(status.out).toMatch(/Degraded/);
  }, 60_000);

  it('a port already taken: exit 2 with a sentence saying what to do', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    const dir = appDir();
    writeApp(dir, { version: 'v1', strategy: canary });
    const r = await runUp(dir, ['--listen', `127.0.0.1:${port}`]);
    blocker.close();
    expect(r.code).toBe(2);
    expect(r.out).toContain(`cannot listen on 127.0.0.1:${port}: the address is already in use`);
  }, 30_000);

  it('a corrupt state file: exit 2, the file untouched', async () => {
    const dir = appDir();
    writeApp(dir, { version: 'v1', strategy: canary });
    mkdirSync(join(dir, '.graylane'));
    const garbage = 'not sqlite at all '.repeat(300);
    writeFileSync(join(dir, '.graylane', 'state.db'), garbage);
    const r = await runUp(dir, ['--listen', '127.0.0.1:0']);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/state file .*state\.db cannot be read/);
    expect(readFileSync(join(dir, '.graylane', 'state.db'), 'utf8')).toBe(garbage);
  }, 30_000);

  it('an invalid App file: exit 2 with file:line:col lines', async () => {
    const dir = appDir();
    writeApp(dir, { version: 'v1', strategy: '      canary: {steps: [{setWeight: 150}]}' });
    const r = await runUp(dir, ['--listen', '127.0.0.1:0']);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/graylane\.yaml:\d+:\d+: spec\.services\[0\]\.strategy\.canary\.steps\[0\]\.setWeight: /);
  }, 30_000);
});
