// How a command finds the daemon when it is not told where the state dir is: the per-user registry
// of running daemons that `up` writes. The "daemons" here are real processes (their pids are what
// the registry checks) with a real loopback HTTP server as their API.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { registerDaemon, registryDir, unregisterDaemon } from '../../src/api/daemon-registry.js';
import { main } from '../../src/cli/main.js';
import { signalChild } from '../../src/lib/signal-child.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-discovery-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function liveProcess(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });
  cleanups.push(() => void signalChild(child, 'SIGKILL'));
  return child;
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

/** A daemon's API on loopback that records who called it, with the token it was called with. */
async function fakeDaemonApi(name: string, calls: string[]): Promise<string> {
  const server: Server = createServer((req, res) => {
    calls.push(`${name} ${req.method} ${req.url} ${req.headers.authorization}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ services: [] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A state dir as a running `up` leaves it, and its entry in the registry of `env`. */
function runningDaemon(env: NodeJS.ProcessEnv, name: string, pid: number, apiUrl: string): string {
  const stateDir = join(tempDir(), name, '.graylane');
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(stateDir, 'token'), `token-${name}\n`);
  const appFile = join(stateDir, '..', 'graylane.yaml');
  writeFileSync(join(stateDir, 'daemon.json'), JSON.stringify({ apiUrl, routerUrl: 'http://127.0.0.1:1', pid, appFile, startedAtMs: Date.now() }));
  registerDaemon(env, { pid, stateDir, appFile, startedAtMs: Date.now() });
  return stateDir;
}

async function run(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => void (out += s), err: (s) => void (err += s), isTty: false, env, cwd });
  return { code, out, err };
}

describe('finding the running daemon from any directory', () => {
  it('uses the one daemon running, from a directory that has no .graylane/', async () => {
    const env = { XDG_RUNTIME_DIR: tempDir() };
    const calls: string[] = [];
    runningDaemon(env, 'quickstart', liveProcess().pid!, await fakeDaemonApi('quickstart', calls));
    const r = await run(['get'], env, tempDir());
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(calls).toEqual(['quickstart GET /v1/services Bearer token-quickstart']);
  });

  it('with several running, exits 2 with a sentence that lists them and says how to choose', async () => {
    const env = { XDG_RUNTIME_DIR: tempDir() };
    const calls: string[] = [];
    const a = runningDaemon(env, 'a', liveProcess().pid!, await fakeDaemonApi('a', calls));
    const b = runningDaemon(env, 'b', liveProcess().pid!, await fakeDaemonApi('b', calls));
    const r = await run(['status', 'hello'], env, tempDir());
    expect(r.code).toBe(2);
    expect(r.err).toContain('2 graylane daemons are running');
    expect(r.err).toContain(a);
    expect(r.err).toContain(b);
    expect(r.err).toContain('--state-dir');
    expect(r.err).toContain('GRAYLANE_STATE_DIR');
    expect(calls).toEqual([]);
  });

  it('--state-dir and GRAYLANE_STATE_DIR still choose among several', async () => {
    const env: NodeJS.ProcessEnv = { XDG_RUNTIME_DIR: tempDir() };
    const calls: string[] = [];
    const a = runningDaemon(env, 'a', liveProcess().pid!, await fakeDaemonApi('a', calls));
    const b = runningDaemon(env, 'b', liveProcess().pid!, await fakeDaemonApi('b', calls));
    expect((await run(['get', '--state-dir', b], env, tempDir())).code).toBe(0);
    expect((await run(['get'], { ...env, GRAYLANE_STATE_DIR: a }, tempDir())).code).toBe(0);
    expect(calls.map((c) => c.split(' ')[0])).toEqual(['b', 'a']);
  });

  it('names a daemon that was killed (its process gone, its state dir still naming it) and how to start it again, until one starts there', async () => {
    const env = { XDG_RUNTIME_DIR: tempDir() };
    const pid = await deadPid();
    const stateDir = runningDaemon(env, 'killed', pid, 'http://127.0.0.1:1');
    const cwd = tempDir();
    for (let i = 0; i < 2; i++) {
      const r = await run(['get'], env, cwd);
      expect(r.code).toBe(3);
      expect(r.err).toContain(`cannot reach the graylane daemon at http://127.0.0.1:1 (pid ${pid}): is \`graylane up\` still running? Start it again with \`graylane up -f ${join(stateDir, '..', 'graylane.yaml')}\`; running apps are re-adopted.`);
      expect(readdirSync(registryDir(env))).toEqual([`${pid}.json`]);
    }
    // Started again there: the state dir names the new daemon, and the killed one's entry goes.
    const calls: string[] = [];
    const restarted = liveProcess().pid!;
    writeFileSync(join(stateDir, 'daemon.json'), JSON.stringify({ apiUrl: await fakeDaemonApi('restarted', calls), routerUrl: 'http://127.0.0.1:1', pid: restarted, appFile: join(stateDir, '..', 'graylane.yaml'), startedAtMs: Date.now() }));
    registerDaemon(env, { pid: restarted, stateDir, appFile: join(stateDir, '..', 'graylane.yaml'), startedAtMs: Date.now() });
    expect((await run(['get'], env, cwd)).code).toBe(0);
    expect(calls.map((c) => c.split(' ')[0])).toEqual(['restarted']);
    expect(readdirSync(registryDir(env))).toEqual([`${restarted}.json`]);
  });

  it('says the state dir to start with when a killed daemon\'s was not beside its App file', async () => {
    const env = { XDG_RUNTIME_DIR: tempDir() };
    const pid = await deadPid();
    const appFile = join(tempDir(), 'graylane.yaml');
    const stateDir = join(tempDir(), 'elsewhere');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, 'token'), 'token-elsewhere\n');
    writeFileSync(join(stateDir, 'daemon.json'), JSON.stringify({ apiUrl: 'http://127.0.0.1:1', routerUrl: 'http://127.0.0.1:1', pid, appFile, startedAtMs: Date.now() }));
    registerDaemon(env, { pid, stateDir, appFile, startedAtMs: Date.now() });
    const r = await run(['get'], env, tempDir());
    expect(r.code).toBe(3);
    expect(r.err).toContain(`Start it again with \`graylane up -f ${appFile} --state-dir ${stateDir}\``);
  });

  it('with several killed daemons and none running, exits 3 naming each with the command that starts it again', async () => {
    const env = { XDG_RUNTIME_DIR: tempDir() };
    const [one, two] = [await deadPid(), await deadPid()];
    const oneDir = runningDaemon(env, 'one', one, 'http://127.0.0.1:1');
    const twoDir = runningDaemon(env, 'two', two, 'http://127.0.0.1:1');
    const r = await run(['get'], env, tempDir());
    expect(r.code).toBe(3);
    expect(r.err).toContain('no graylane daemon is running; 2 ended without stopping (killed or crashed), and what they started may still serve:');
    for (const [dir, pid] of [[oneDir, one], [twoDir, two]] as const) expect(r.err).toContain(`\n  ${dir} (pid ${pid}): graylane up -f ${join(dir, '..', 'graylane.yaml')}\n`);
    // --state-dir still chooses: that daemon's own words.
    const chosen = await run(['get', '--state-dir', twoDir], env, tempDir());
    expect(chosen.code).toBe(3);
    expect(chosen.err).toContain(`cannot reach the graylane daemon at http://127.0.0.1:1 (pid ${two})`);
  });

  it('removes the entry of a daemon whose state dir is gone', async () => {
    const env = { XDG_RUNTIME_DIR: tempDir() };
    const stateDir = runningDaemon(env, 'removed', await deadPid(), 'http://127.0.0.1:1');
    rmSync(stateDir, { recursive: true, force: true });
    expect((await run(['get'], env, tempDir())).code).toBe(3);
    expect(readdirSync(registryDir(env))).toEqual([]);
  });

  it('ignores an entry whose pid is alive but whose state dir no longer names it (a reused pid)', async () => {
    const env = { XDG_RUNTIME_DIR: tempDir() };
    const calls: string[] = [];
    const stateDir = runningDaemon(env, 'gone', liveProcess().pid!, await fakeDaemonApi('gone', calls));
    rmSync(join(stateDir, 'daemon.json'));
    expect((await run(['get'], env, tempDir())).code).toBe(3);
    expect(calls).toEqual([]);
  });

  it('keeps the registry private and forgets a daemon that stops', () => {
    const env = { XDG_RUNTIME_DIR: tempDir() };
    registerDaemon(env, { pid: 4242, stateDir: '/x/.graylane', appFile: '/x/graylane.yaml', startedAtMs: 1 });
    expect(statSync(registryDir(env)).mode & 0o777).toBe(0o700);
    expect(statSync(join(registryDir(env), '4242.json')).mode & 0o777).toBe(0o600);
    unregisterDaemon(env, 4242);
    expect(existsSync(join(registryDir(env), '4242.json'))).toBe(false);
  });

  it('lives under ~/.local/state/graylane when there is no XDG_RUNTIME_DIR', () => {
    expect(registryDir({ HOME: '/home/u' })).toBe('/home/u/.local/state/graylane/daemons');
    expect(registryDir({ HOME: '/home/u', XDG_STATE_HOME: '/s' })).toBe('/s/graylane/daemons');
    expect(registryDir({ XDG_RUNTIME_DIR: '/run/user/1000' })).toBe('/run/user/1000/graylane/daemons');
  });
});
