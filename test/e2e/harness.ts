/** Runs a real daemon (`graylane up`, built) as a child process, with real app processes. */
import type { ServiceView } from '../../src/controller/view-model.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll } from 'vitest';
import { shopReleaseAppYaml } from '../fixtures/shop-release-app.js';
import { main } from '../../src/cli/main.js';
import type { DaemonInfo } from '../../src/api/state-dir.js';
import type { LoadSummary } from '../../src/demo/load-generator.js';
import { stopLeftoverNginx } from '../../src/router/control/nginx/leftover-nginx.js';
import { signalChild } from '../../src/lib/signal-child.js';

const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/graylane.js');

/** A temp dir with the fixture server and an App file. */
export function appDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-e2e-'));
  copyFileSync(join(ROOT, 'test/fixtures/e2e/server.mjs'), join(dir, 'server.mjs'));
  return dir;
}

export interface AppOptions { version: string; replicas?: number; strategy: string; env?: Record<string, string>; extra?: string }

/** Writes graylane.yaml for one service `app` with the given strategy block (YAML, indented 4). */
export function writeApp(dir: string, o: AppOptions): string {
  const env = { VERSION: o.version, ...o.env };
  const file = join(dir, 'graylane.yaml');
  writeFileSync(file, `apiVersion: graylane.dev/v1alpha1
kind: App
metadata: {name: e2e}
spec:
  services:
  - name: app
    pathPrefix: /
    replicas: ${o.replicas ?? 2}
${o.extra ?? ''}    process:
      command: [node, server.mjs]
      env: ${JSON.stringify(env)}
      readinessProbe: {httpGet: {path: /healthz}, periodSeconds: 0.2, failureThreshold: 1}
      terminationGracePeriodSeconds: 5
    strategy:
${o.strategy}
`);
  return file;
}

/** An App of two services, web (`/`) and api (`/api`), released together as `shop`. */
export interface ReleaseAppOptions {
  version: string;
  /** The release's canary steps, YAML list items indented 8. */
  steps: string;
  /** The release's `pinning` block, inline YAML (e.g. `{skewWindow: 2s}`). */
  pinning?: string;
  /** The shop example's servers (`cwd: ./web`, `./api`, copied into the dir by the test) rather than the fixture server. */
  shopExample?: boolean;
  /** Environment of a service's processes beyond `VERSION`. */
  env?: (service: 'web' | 'api') => Record<string, string>;
  /** Readiness probe failures that make an instance unready (default 1). */
  failureThreshold?: number;
  /** Default 5. */
  terminationGracePeriodSeconds?: number;
}

/** Writes graylane.yaml for {@link ReleaseAppOptions}; returns its path. */
export function writeReleaseApp(dir: string, o: ReleaseAppOptions): string {
  const file = join(dir, 'graylane.yaml');
  writeFileSync(file, shopReleaseAppYaml({
    version: o.version,
    canary: `        steps:\n${o.steps}`,
    pinning: o.pinning,
    command: (name) => (o.shopExample ? `[node, server.js]\n      cwd: ./${name}` : '[node, server.mjs]'),
    env: o.env,
    failureThreshold: o.failureThreshold,
    terminationGracePeriodSeconds: o.terminationGracePeriodSeconds,
  }));
  return file;
}

export interface Daemon { proc: ChildProcess; info: DaemonInfo; output: () => string; stateDir: string }

/** State dirs of every daemon this file started: their router supervisors are stopped after the file. */
const startedStateDirs = new Set<string>();

// The router supervisor outlives a daemon that is killed, by design: whatever a test left serving
// (a kill -9 not followed by another up, a failed test) is stopped once the file's tests are done.
afterAll(async () => {
  // So does a managed nginx (spec.router.type: nginx).
  for (const stateDir of startedStateDirs) await stopLeftoverNginx({ prefixDir: join(stateDir, 'nginx'), timeoutMs: 0 });
  for (const stateDir of startedStateDirs) {
    let pid: number;
    try {
      pid = (JSON.parse(readFileSync(join(stateDir, 'router.json'), 'utf8')) as { pid: number }).pid;
    } catch {
      continue;
    }
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Stopped with its daemon.
    }
  }
});

/** Starts `graylane up` and waits for daemon.json. */
export async function startDaemon(dir: string, extraArgs: string[] = []): Promise<Daemon> {
  const stateDir = join(dir, '.graylane');
  startedStateDirs.add(stateDir);
  const infoFile = join(stateDir, 'daemon.json');
  const before = existsSync(infoFile) ? readFileSync(infoFile, 'utf8') : '';
  let out = '';
  const proc = spawn(process.execPath, [BIN, 'up', '-f', join(dir, 'graylane.yaml'), '--drain-timeout', '5', '--listen', '127.0.0.1:0', ...extraArgs], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitFor(() => {
      if (proc.exitCode !== null) throw new Error(`graylane up exited ${proc.exitCode}: ${out}`);
      // The banner's last line: what it says above (re-adoption, warnings) may come in a later chunk.
      return existsSync(infoFile) && readFileSync(infoFile, 'utf8') !== before && out.includes('Ctrl-C drains and stops the app.');
    }, 20_000, 'daemon start');
  } catch (err) {
    // A daemon slow to start on a loaded machine would otherwise outlive the test, with its apps,
    // and load the machine further for every test after it.
    await stopDaemon({ proc });
    throw err;
  }
  return { proc, info: JSON.parse(readFileSync(infoFile, 'utf8')) as DaemonInfo, output: () => out, stateDir };
}

/** Stops a daemon with Ctrl-C and waits for it. */
export async function stopDaemon(d: Pick<Daemon, 'proc'>): Promise<void> {
  if (d.proc.exitCode !== null || d.proc.signalCode !== null) return;
  const exited = new Promise((r) => d.proc.once('exit', r));
  signalChild(d.proc, 'SIGINT');
  await exited;
}

/** Runs the CLI in-process against the daemon of `stateDir`. */
export async function cli(stateDir: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main([...args], { out: (s) => void (out += s), err: (s) => void (err += s), isTty: false, env: { ...process.env, GRAYLANE_STATE_DIR: stateDir }, cwd: process.cwd() });
  return { code, out, err };
}

/** Polls until fn returns true (or a value), or fails after timeoutMs. */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
      if (err instanceof Error && err.message.startsWith('graylane up exited')) throw err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Keep-alive load from a second process; resolves to its summary. */
export function startLoad(url: string, rps: number, durationMs: number): { done: Promise<LoadSummary>; stop: () => void } {
  const proc = spawn(process.execPath, [join(ROOT, 'dist/demo/load-worker.js'), '--url', url, '--rps', String(rps), '--duration-ms', String(durationMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<LoadSummary>((resolveSummary, reject) => {
    proc.on('exit', () => {
      const line = out.trim().split('\n').reverse().find((l) => l.includes('"summary"'));
      if (!line) return reject(new Error(`load worker printed no summary: ${out.slice(-500)}`));
      resolveSummary(JSON.parse(line) as LoadSummary);
    });
  });
  return { done, stop: () => signalChild(proc, 'SIGTERM') };
}

/**
 * `kill -9` of the daemon `killAfterMs` into `durationMs` of keep-alive load at `rps` on its
 * router; resolves to the load's summary once both are over.
 */
export async function crashUnderLoad(d: Daemon, options: { rps: number; durationMs: number; killAfterMs: number }): Promise<LoadSummary> {
  const load = startLoad(`${d.info.routerUrl}/`, options.rps, options.durationMs);
  await new Promise((r) => setTimeout(r, options.killAfterMs));
  signalChild(d.proc, 'SIGKILL');
  await new Promise((r) => d.proc.once('exit', r));
  return load.done;
}

/** A service's events as the console shows them (`GET /v1/events?service=`), oldest first. */
export async function serviceEvents(d: Daemon, service = 'app'): Promise<{ level: string; reason: string; message: string }[]> {
  const token = readFileSync(join(d.stateDir, 'token'), 'utf8').trim();
  const res = await fetch(`${d.info.apiUrl}/v1/events?service=${service}`, { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { events: { level: string; reason: string; message: string }[] }).events;
}

/** GET through the router; returns the JSON body. */
export async function hit(url: string): Promise<{ version: string; pid: number }> {
  const res = await fetch(url);
  return (await res.json()) as { version: string; pid: number };
}

/** How many of `n` sequential requests through the router each version answered. */
export async function versionCounts(url: string, n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const v = (await hit(url)).version;
    seen[v] = (seen[v] ?? 0) + 1;
  }
  return seen;
}

/** The status view of one service (default `app`), as `graylane status --json` prints it. */
export async function view(d: Daemon, service = 'app'): Promise<ServiceView> {
  return JSON.parse((await cli(d.stateDir, ['status', service, '--json'])).out) as ServiceView;
}

/** Whether process `pid` is running. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops the daemons with Ctrl-C, then kills the process group of every router supervisor a failed
 * test may have left (it runs in a group of its own, and outlives a killed daemon by design).
 */
export async function stopDaemonsAndSupervisors(daemons: Pick<Daemon, 'proc'>[], supervisorPids: number[]): Promise<void> {
  for (const d of daemons) await stopDaemon(d);
  for (const pid of supervisorPids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Stopped with its daemon.
    }
  }
}
