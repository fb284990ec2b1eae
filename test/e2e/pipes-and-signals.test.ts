/**
 * A reader that goes away (`| head`, a `tee` killed by Ctrl-C) and a daemon that goes away: the
 * CLI says one sentence and exits with its code, the daemon still stops its app.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { alive, appDir, BIN, hit, startDaemon, stopDaemon, waitFor, writeApp, type Daemon } from './harness.js';
import { signalChild } from '../../src/lib/signal-child.js';

const rolling = '      canary: {}';
const daemons: Daemon[] = [];
const appPids: number[] = [];

afterEach(async () => {
  for (const d of daemons.splice(0)) await stopDaemon(d);
  // A failed test must not leave app processes behind.
  for (const pid of appPids.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
});


interface Run { code: number | null; signal: NodeJS.Signals | null; err: string }

/** Runs the CLI as a real process; resolves when it exits. */
function runCli(args: string[], env: NodeJS.ProcessEnv = {}, onSpawn?: (p: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    onSpawn?.(p);
    const timer = setTimeout(() => signalChild(p, 'SIGKILL'), 20_000);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, err });
    });
  });
}

/** The pids of the app's instances, seen through the router. */
async function instancePids(d: Daemon, replicas: number): Promise<number[]> {
  const pids = new Set<number>();
  await waitFor(async () => {
    pids.add((await hit(`${d.info.routerUrl}/`)).pid);
    return pids.size === replicas;
  }, 20_000, `${replicas} instances answering`);
  appPids.push(...pids);
  return [...pids];
}

describe('a closed stdout', () => {
  it('`graylane schema | head -1`: the CLI exits 0 without a stack trace', async () => {
    // The read end is closed before the CLI writes anything, as `head` does once it has its line.
    const r = await runCli(['schema', '--markdown'], {}, (p) => p.stdout?.destroy());
    expect(r.err).toBe('');
    expect(r).toMatchObject({ code: 0, signal: null });
  });

  it('`graylane up | tee` then Ctrl-C: the daemon still drains and stops its app processes, none is left', async () => {
    const dir = appDir();
    writeApp(dir, { version: 'v1', strategy: rolling });
    const d = await startDaemon(dir);
    daemons.push(d);
    const pids = await instancePids(d, 2);
    // tee dies with the Ctrl-C before the daemon prints "stopping…".
    d.proc.stdout?.destroy();
    const exited = new Promise<number | null>((resolve) => d.proc.once('exit', (code) => resolve(code)));
    signalChild(d.proc, 'SIGINT');
    expect(await exited).toBe(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  }, 60_000);
});

describe('a daemon that goes away under a following command', () => {
  it('`status --watch` and `logs -f` say so in a sentence and exit 3', async () => {
    const dir = appDir();
    writeApp(dir, { version: 'v1', replicas: 1, strategy: rolling });
    const d = await startDaemon(dir);
    daemons.push(d);
    await instancePids(d, 1);
    const env = { GRAYLANE_STATE_DIR: d.stateDir };
    let watchOut = '';
    const watching = runCli(['status', 'app', '--watch'], env, (p) => p.stdout?.on('data', (b: Buffer) => (watchOut += b.toString())));
    const following = runCli(['logs', 'app', '-f'], env);
    await waitFor(() => watchOut.includes('app'), 20_000, 'the first status view');
    // Give `logs -f` its connection before the daemon dies.
    await waitFor(async () => (await fetch(`${d.info.apiUrl}/v1/health`)).ok, 5_000, 'daemon API');
    await new Promise((r) => setTimeout(r, 500));
    signalChild(d.proc, 'SIGKILL');
    const [watch, logs] = await Promise.all([watching, following]);
    expect(watch.err).toMatch(/^error: the graylane daemon at http:\/\/127\.0\.0\.1:[0-9]+ \(pid [0-9]+\) went away/);
    // `logs -f` of an app that printed nothing yet has no answer head either: the daemon is then unreachable.
    expect(logs.err).toMatch(/^error: (the graylane daemon at .* went away|cannot reach the graylane daemon)/);
    for (const r of [watch, logs]) {
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).not.toMatch(/TypeError|\n +at /);
      expect(r.code).toBe(3);
    }
  }, 60_000);
});
