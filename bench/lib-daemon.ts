/**
 * Shared helpers of the daemon benchmarks (seamless, rollback): a temp dir with the e2e fixture
 * app, an App file, a real `graylane up` child process (built, from dist/), an in-process
 * open-model load loop that keeps every request's timestamps, and percentiles.
 *
 * Everything started is tracked and stopped by {@link stopAll}, which the benchmarks call in a
 * `finally`, and which also runs on SIGINT/SIGTERM of the benchmark process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { Pool } from 'undici';
import type { ApiClient } from '../src/api/client.js';
import { clientFromStateDir } from '../src/api/daemon-client.js';
import type { DaemonInfo } from '../src/api/state-dir.js';
import type { ServiceView } from '../src/controller/view-model.js';
import { signalChild } from '../src/lib/signal-child.js';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/graylane.js');
const FIXTURE_SERVER = join(ROOT, 'test/fixtures/e2e/server.mjs');

/** A positive number flag (`--name 5`), or the fallback when absent. */
export function numberFlag(args: readonly string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number, got "${args[i + 1] ?? ''}"`);
  return v;
}

/** A whole number flag of at least `min` (default 0: `--healthy-runs 0`), or the fallback when absent. */
export function countFlag(args: readonly string[], name: string, fallback: number, options: { min?: number } = {}): number {
  const min = options.min ?? 0;
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name} needs a whole number ≥ ${min}, got "${args[i + 1] ?? ''}"`);
  return v;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until fn returns a truthy value, or throws after timeoutMs naming what was awaited. */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs: number, what: string, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Cleanup of everything started

const cleanups = new Set<() => Promise<void>>();

/** Registers a stop function; returns a function that runs it once and unregisters it. */
function track(stop: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const once = () => {
    cleanups.delete(once);
    done ??= stop();
    return done;
  };
  cleanups.add(once);
  return once;
}

/** Stops everything still running (daemons, load loops, temp dirs), newest first. */
export async function stopAll(): Promise<void> {
  for (const stop of [...cleanups].reverse()) {
    try {
      await stop();
    } catch (err) {
      console.error(`cleanup: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

let signalsHooked = false;
function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping what the benchmark started…`);
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

// ---------------------------------------------------------------------------------------------
// The app and its App file

/** A temp dir holding the e2e fixture server (`server.mjs`), removed by {@link stopAll}. */
export function makeAppDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-bench-'));
  copyFileSync(FIXTURE_SERVER, join(dir, 'server.mjs'));
  track(() => {
    rmSync(dir, { recursive: true, force: true });
    return Promise.resolve();
  });
  return dir;
}

/** One service of a benchmark App file. */
export interface BenchService {
  name: string;
  pathPrefix: string;
  replicas: number;
  /** Environment of the app processes (VERSION, FAIL_RATE, EXTRA_LATENCY_MS, …). */
  env: Record<string, string>;
  /** The `strategy:` block, YAML indented by 6 spaces. */
  strategy: string;
}

/**
 * Writes `graylane.yaml` in dir for the fixture server; returns the file path and its text.
 * `router`: the App's `spec.router`, as a YAML flow mapping (`{workers: 2, workerPriority: -10}`).
 */
export function writeAppFile(dir: string, services: BenchService[], options: { router?: string } = {}): { file: string; text: string } {
  const file = join(dir, 'graylane.yaml');
  const blocks = services.map((s) => `  - name: ${s.name}
    pathPrefix: ${s.pathPrefix}
    replicas: ${s.replicas}
    process:
      command: [node, server.mjs]
      env: ${JSON.stringify(s.env)}
      readinessProbe: {httpGet: {path: /healthz}, periodSeconds: 0.2, failureThreshold: 1}
      terminationGracePeriodSeconds: 5
    strategy:
${s.strategy}
`);
  const text = `apiVersion: graylane.dev/v1alpha1
kind: App
metadata: {name: bench}
spec:
${options.router === undefined ? '' : `  router: ${options.router}\n`}  services:
${blocks.join('')}`;
  writeFileSync(file, text);
  return { file, text };
}

// ---------------------------------------------------------------------------------------------
// The daemon

/** A `graylane up` child process and a client of its API. */
export interface BenchDaemon {
  info: DaemonInfo;
  api: ApiClient;
  stateDir: string;
  /** Everything the daemon printed. */
  output(): string;
  /** Ctrl-C, then waits for it to drain and exit (SIGKILL after 20 s). */
  stop(): Promise<void>;
  /** The daemon's pid. */
  pid: number;
  /** `kill -9`, then waits for it to exit: what a crash does (apps and a supervisor live on). */
  crash(): Promise<void>;
}

/** Options of {@link startDaemon}. */
export interface BenchDaemonOptions {
  /** `--router-workers N`: the router in a supervisor with N worker processes; absent: in the daemon (`--router-workers 0`, not graylane's default of one worker per core). */
  routerWorkers?: number;
  /** The router's `host:port` (default `127.0.0.1:0`); fixed when a restarted daemon must serve the same address. */
  listen?: string;
}

/**
 * Starts `graylane up -f DIR/graylane.yaml` on loopback port 0 and waits until it is up.
 * `BENCH_DAEMON_NODE_FLAGS` (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) are passed to the
 * daemon's node, for profiling it under a benchmark.
 */
export async function startDaemon(dir: string, options: BenchDaemonOptions = {}): Promise<BenchDaemon> {
  hookSignals();
  const stateDir = join(dir, '.graylane');
  const infoFile = join(stateDir, 'daemon.json');
  let out = '';
  const nodeFlags = (process.env.BENCH_DAEMON_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const args = ['up', '-f', join(dir, 'graylane.yaml'), '--state-dir', stateDir, '--drain-timeout', '5', '--listen', options.listen ?? '127.0.0.1:0', '--router-workers', String(options.routerWorkers ?? 0)];
  // Started as a user starts it (npx graylane, or from PATH): through the launcher line of the bin,
  // which sets malloc's threshold, with this node first on PATH. Node flags need node itself.
  const [file, argv] = nodeFlags.length > 0 ? [process.execPath, [...nodeFlags, BIN, ...args]] : [BIN, args];
  // In a session of its own, as under a service manager: Linux with autogroup shares the CPU
  // between sessions first, and this one runs the load generator.
  const proc: ChildProcess = spawn(file, argv, {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` },
  });
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  let stopping = false;
  const exited = new Promise<void>((r) =>
    proc.once('exit', (code, signal) => {
      // Said at once: the benchmark's own error (an unreachable API) would hide why.
      if (!stopping) console.error(`graylane up exited unexpectedly (${signal ?? `code ${code}`}); its last output:\n${out.slice(-2000)}`);
      r();
    }),
  );
  const stop = track(async () => {
    stopping = true;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    signalChild(proc, 'SIGINT');
    const killer = setTimeout(() => signalChild(proc, 'SIGKILL'), 20_000);
    await exited;
    clearTimeout(killer);
  });
  try {
    await waitFor(() => {
      if (proc.exitCode !== null) throw new Error(`graylane up exited ${proc.exitCode}: ${out.slice(-2000)}`);
      // The banner's last line: re-adoption is said above it, maybe in a later chunk.
      return existsSync(infoFile) && out.includes('Ctrl-C drains and stops the app.');
    }, 30_000, 'the daemon to start');
  } catch (err) {
    await stop();
    throw err;
  }
  const info = JSON.parse(readFileSync(infoFile, 'utf8')) as DaemonInfo;
  const crash = async () => {
    stopping = true;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    signalChild(proc, 'SIGKILL');
    await exited;
  };
  return { info, api: clientFromStateDir(stateDir), stateDir, output: () => out, stop, pid: proc.pid!, crash };
}

/**
 * Waits for a view of `service` that passes `check`, from the daemon's event stream: the views it
 * pushes as they change, as `graylane status --wait` does. Polling instead (20 reads a second) was
 * a sixth of the daemon's work during a rollout: the benchmark loading what it measures.
 */
export async function waitForView(api: ApiClient, service: string, check: (view: ServiceView) => boolean, timeoutMs: number, what: string): Promise<ServiceView> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  let last: ServiceView | undefined;
  try {
    for await (const msg of api.stream({ service, signal: abort.signal })) {
      if (msg.type !== 'status') continue;
      last = msg.data as ServiceView;
      if (check(last)) return last;
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: last seen ${last.phase}, revisions ${last.revisions.map((r) => `${r.number} ${r.ready} ready ${r.weight}%`).join(', ')}`}`);
}

/** Waits until a service is Healthy with one revision, `number`, all `replicas` ready, 100% weight. */
export function waitSettledOn(api: ApiClient, service: string, number: number, replicas: number, timeoutMs: number): Promise<ServiceView> {
  return waitForView(api, service, (v) => {
    const only = v.revisions.length === 1 ? v.revisions[0] : undefined;
    return v.phase === 'Healthy' && only?.number === number && only.ready === replicas && only.weight === 100;
  }, timeoutMs, `${service} settled on revision ${number} with ${replicas} ready`);
}

// ---------------------------------------------------------------------------------------------
// Load with per-request timestamps

/**
 * Every request of a load run, in the order sent. Times are `performance.now()` of the
 * benchmark process (ms); `servedBy` is the `x-served-by` header (`app@v2`), '' when absent.
 */
export interface RequestLog {
  sentMs: number[];
  doneMs: number[];
  /** HTTP status, or 0 for a connection error or timeout. */
  status: number[];
  servedBy: string[];
  /** Why requests without an answer failed (error code or message), by index. */
  errors: Map<number, string>;
}

/** A running load loop. */
export interface LoadLoop {
  log: RequestLog;
  /** Requests due but not sent because `maxInFlight` were in flight. */
  dropped(): number;
  /** Stops sending, waits for in-flight requests, closes connections; returns the log. */
  stop(): Promise<RequestLog>;
}

/**
 * Constant-rate keep-alive load (open model: request i is due at start + i/rate whatever earlier
 * ones did), from this process over undici, until stopped. Each response body is read in full
 * before the request counts as done.
 */
export function startLoadLoop(options: { url: string; ratePerSecond: number; maxInFlight?: number; timeoutMs?: number }): LoadLoop {
  hookSignals();
  const url = new URL(options.url);
  const path = `${url.pathname}${url.search}`;
  const maxInFlight = options.maxInFlight ?? Math.max(64, Math.ceil(options.ratePerSecond / 2));
  const timeoutMs = options.timeoutMs ?? 5000;
  const pool = new Pool(url.origin, { connections: maxInFlight, keepAliveTimeout: 30_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: timeoutMs });
  const log: RequestLog = { sentMs: [], doneMs: [], status: [], servedBy: [], errors: new Map() };
  const intervalMs = 1000 / options.ratePerSecond;
  const t0 = performance.now();
  let due = 0;
  let inFlight = 0;
  let dropped = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let idle: (() => void) | undefined;

  const send = () => {
    const i = log.sentMs.length;
    log.sentMs.push(performance.now());
    log.doneMs.push(NaN);
    log.status.push(0);
    log.servedBy.push('');
    inFlight += 1;
    pool.request({ path, method: 'GET' }).then(
      async (res) => {
        const by = res.headers['x-served-by'];
        log.servedBy[i] = typeof by === 'string' ? by : '';
        await res.body.dump({ limit: 1 << 20 });
        log.status[i] = res.statusCode;
      },
      (err: unknown) => {
        log.status[i] = 0;
        const e = err as { code?: string; message?: string };
        log.errors.set(i, e.code ?? e.message ?? String(err));
      },
    ).finally(() => {
      log.doneMs[i] = performance.now();
      inFlight -= 1;
      if (inFlight === 0) idle?.();
    });
  };

  const tick = () => {
    if (stopped) return;
    const now = performance.now();
    while (t0 + due * intervalMs <= now) {
      due += 1;
      if (inFlight >= maxInFlight) dropped += 1;
      else send();
    }
    timer = setTimeout(tick, Math.max(0, t0 + due * intervalMs - performance.now()));
  };
  tick();

  const stop = track(async () => {
    stopped = true;
    clearTimeout(timer);
    if (inFlight > 0) await new Promise<void>((r) => (idle = r));
    await pool.close();
  });
  return {
    log,
    dropped: () => dropped,
    stop: async () => {
      await stop();
      return log;
    },
  };
}

/** Indices of the requests sent in [fromMs, toMs). */
export function sentBetween(log: RequestLog, fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < log.sentMs.length; i++) if (log.sentMs[i]! >= fromMs && log.sentMs[i]! < toMs) out.push(i);
  return out;
}

/** A request is done: answered, or failed without an answer. */
export const done = (log: RequestLog, i: number) => !Number.isNaN(log.doneMs[i]);

/** A request failed: a connection error, a timeout or a 5xx answer (not one still in flight). */
export const failed = (log: RequestLog, i: number) => done(log, i) && (log.status[i] === 0 || log.status[i]! >= 500);

/** Why the failed requests of `log` failed (an error code or message, else `HTTP <status>`), with counts. */
export function failureReasons(log: RequestLog): Record<string, number> {
  const reasons: Record<string, number> = {};
  for (let i = 0; i < log.sentMs.length; i++) {
    if (!failed(log, i)) continue;
    const why = log.errors.get(i) ?? `HTTP ${log.status[i]}`;
    reasons[why] = (reasons[why] ?? 0) + 1;
  }
  return reasons;
}

/** The q-quantile (0..1) of values, nearest rank; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Latencies (ms) of the given requests. */
export const latencies = (log: RequestLog, indices: readonly number[]) => indices.map((i) => log.doneMs[i]! - log.sentMs[i]!);

export const round = (n: number, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);
