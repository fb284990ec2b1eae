/**
 * The RouterControl of a router running in processes of its own: a supervisor (see
 * `supervisor-main.ts`) and its workers. The supervisor is started detached, so that a daemon that
 * crashes leaves the data plane serving its last table; a daemon that starts finds it through
 * `router.json` and adopts it rather than starting another. The synchronous readers answer from
 * the latest merged figures the supervisor pushed (every 200 ms); `snapshot()` asks for fresh ones.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import type {
  LatencyCounts, ReleaseStats, ReleaseTraffic, RevisionStats, RevisionTotals, RouteTable, RouterEvent, StatsQuery,
} from '../../contract/index.js';
import { RouterError, type RouterErrorCode, type RouterIssue } from '../../errors.js';
import { FINE_BOUNDS_MS } from '../../revision-stats.js';
import { assertRouteTable } from '../../route-table-check.js';
import { routerProcessEnv, SUPERVISOR_NODE_FLAGS } from './heap-flags.js';
import type { RouterOptions } from '../../types.js';
import type { ApplyTableResult, DrainOutcome, RouterControl, RouterSnapshot } from '../router-control.js';
import type { MetricsSource } from '../../metrics.js';
import { FigureHistory } from './figures.js';
import { unpackReport, type WireMergedReport } from './wire-report.js';
import { mergedMetricsSource } from './merged-metrics-source.js';
import {
  PROTOCOL_VERSION, readJsonLines, SUPERVISOR_INFO_FILE, writeJsonLine,
  type HelloResult, type StartupMessage, type SupervisorConfig, type SupervisorInfo, type SupervisorMessage, type SupervisorStatus, type SupervisorTls, type WireError, type WorkerEvent, type WorkerExit, type WorkerStatus,
} from './protocol.js';
import { SupervisorError } from './supervisor-error.js';
import { DroppedMessages } from './dropped-messages.js';

/** Options of {@link startSupervisedRouter}. */
export interface SupervisedRouterOptions {
  /** The state dir: `router.json`, the socket and the supervisor's log go there. */
  stateDir: string;
  /** Data-plane workers (≥ 1). */
  workers: number;
  /**
   * The workers' scheduling priority (nice value, -20 to 19), as nginx's `worker_priority`; absent:
   * inherited. A priority the system refuses is said in {@link SupervisedRouter.priorityRefused}.
   */
  workerPriority?: number | undefined;
  /**
   * The workers' router options: listen, timeouts, limits, drain timeout, HTTPS (no admin
   * listener); `tls.onCertificateEvent` hears each certificate change once, not once per worker.
   */
  router: Omit<RouterOptions, 'admin' | 'onEvent' | 'random' | 'nowMs' | 'routes'>;
  /** How long the supervisor gets to start its workers; default 20 s. */
  startTimeoutMs?: number;
  /** How long a request may wait for its answer; default 10 s (drains wait until their deadline). */
  requestTimeoutMs?: number;
  /** Wall clock, ms since the epoch; `Date.now` by default. */
  nowMs?: () => number;
  /**
   * Hears a message of the supervisor that could not be used (a report that does not add up): it is
   * dropped, the connection and the figures already held stay. Default: a line on stderr.
   */
  onProblem?: (message: string) => void;
}

/** A supervisor this daemon drives: the RouterControl, and its lifecycle. */
export interface SupervisedRouter extends RouterControl {
  /** The proxy's base URL. */
  url: string;
  /** The HTTPS base URL, when the workers serve HTTPS. */
  httpsUrl: string | undefined;
  /** The supervisor's pid (and process group). */
  pid: number;
  /** True when an earlier daemon's supervisor was adopted rather than a new one started. */
  adopted: boolean;
  /** The workers an adopted supervisor ran before it was resized to `workers`; undefined when it ran as many. */
  resizedFrom: number | undefined;
  /** Why the workers run at another priority than `workerPriority` asked; undefined when they do not. */
  priorityRefused: string | undefined;
  /** The workers as the supervisor sees them (pids, table versions acknowledged, requests). */
  workers(): Promise<WorkerStatus[]>;
  /** The workers, and those that died and what replaced them. */
  status(): Promise<SupervisorStatus>;
  /**
   * Calls `listener` when a worker dies without being told to (`worker-exited`: the requests it
   * held were lost) and when the worker started in its place serves (`worker-replaced`); returns
   * the unsubscribe function. Only while this daemon is connected: `status()` has the earlier ones.
   */
  onWorkerEvent(listener: (event: WorkerEvent) => void): () => void;
  /** Stops the data plane: workers drain up to `drainTimeoutMs`, then the supervisor exits. */
  stop(options: { drainTimeoutMs: number }): Promise<void>;
  /** Lets go of the supervisor and leaves it serving (what a crash does, on purpose). */
  detach(): void;
  /** What `/metrics` reads: the workers' figures as the supervisor last merged them. */
  metricsSource(): MetricsSource;
}

const here = fileURLToPath(import.meta.url);

/**
 * The supervisor's entry file for a module at `modulePath`: supervisor-main beside
 * supervisor-control in src/ and in tsc's dist/; in the bundle (scripts/bundle.mjs) this code sits in
 * a shared chunk, and the bundled supervisor-main.js beside that chunk.
 */
export function supervisorEntryFile(modulePath: string): string {
  if (/supervisor-control\.(ts|js)$/.test(modulePath)) return modulePath.replace(/supervisor-control\.(ts|js)$/, 'supervisor-main.$1');
  return join(dirname(modulePath), 'supervisor-main.js');
}

/**
 * `node` arguments that run the supervisor's entry file: the compiled one next to this file, or,
 * from sources (tests), through tsx, unless `GRAYLANE_SUPERVISOR_MAIN` names a compiled entry (the
 * test config does when dist/ is newer than every source): tsx costs each of the supervisor's
 * processes seconds of start-up.
 */
function entry(): { file: string; execArgv: string[] } {
  const file = supervisorEntryFile(here);
  if (!file.endsWith('.ts')) return { file, execArgv: [...SUPERVISOR_NODE_FLAGS] };
  const compiled = process.env.GRAYLANE_SUPERVISOR_MAIN;
  if (compiled) return { file: compiled, execArgv: [...SUPERVISOR_NODE_FLAGS] };
  return { file, execArgv: [...SUPERVISOR_NODE_FLAGS, '--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href] };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readInfo(stateDir: string): SupervisorInfo | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir, SUPERVISOR_INFO_FILE), 'utf8')) as SupervisorInfo;
  } catch {
    return undefined;
  }
}

/** The line-protocol client of one supervisor socket. */
class SupervisorClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private closed = false;

  private readonly dropped = new DroppedMessages();

  private constructor(
    private readonly socket: Socket,
    private readonly onPush: (m: SupervisorMessage) => void,
    private readonly onProblem: (message: string) => void,
    onClose: (() => void) | undefined,
  ) {
    readJsonLines(socket, (value) => this.onMessage(value as SupervisorMessage));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (!this.closed) onClose?.();
      this.closed = true;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new SupervisorError('SUPERVISOR_GONE', 'the router supervisor closed its socket'));
      }
      this.pending.clear();
    });
  }

  /** `onClose`: the supervisor closed the connection (it exited), not this side. */
  static open(options: { socketPath: string; onPush: (m: SupervisorMessage) => void; onProblem: (message: string) => void; timeoutMs: number; onClose?: () => void }): Promise<SupervisorClient> {
    const { socketPath, onPush, onProblem, timeoutMs, onClose } = options;
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SupervisorError('SUPERVISOR_GONE', `no answer on ${socketPath}`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new SupervisorClient(socket, onPush, onProblem, onClose));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new SupervisorError('SUPERVISOR_GONE', `cannot connect to ${socketPath}: ${err.message}`));
      });
    });
  }

  request<T>(body: Record<string, unknown> & { op: string }, timeoutMs: number): Promise<T> {
    if (this.closed) return Promise.reject(new SupervisorError('SUPERVISOR_GONE', 'the router supervisor is not connected'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SupervisorError('REQUEST_TIMEOUT', `the router supervisor did not answer ${body.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      writeJsonLine(this.socket, { v: PROTOCOL_VERSION, id, ...body });
    });
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private onMessage(m: SupervisorMessage): void {
    if ('push' in m) {
      // Thrown here, it would end the daemon from a socket's data handler; the push alone is lost.
      try {
        this.onPush(m);
      } catch (err) {
        const line = this.dropped.drop(m.push, (count) => `graylane: dropped a '${m.push}' message of the router supervisor (${count} dropped so far): ${(err as Error).message}`);
        if (line) this.onProblem(line);
      }
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.ok) p.resolve(m.result);
    else p.reject(fromWire(m.error));
  }
}

/** Rebuilds the error a supervisor sent, as the class the port's callers expect. */
function fromWire(error: WireError): Error {
  if (error.name === 'RouterError') return new RouterError(error.code as RouterErrorCode, error.message, (error.issues ?? []) as RouterIssue[]);
  if (error.code === 'PROTOCOL_MISMATCH') return new SupervisorError('PROTOCOL_MISMATCH', error.message);
  return new SupervisorError('START_FAILED', error.message);
}

/**
 * Whether a supervisor asked for `running` serves what `wanted` asks for: the same certificate
 * files, redirects and reload interval, on the same address (a wanted port 0 takes any).
 */
function sameTls(running: SupervisorTls | undefined, wanted: SupervisorTls | undefined): boolean {
  if (!running || !wanted) return running === wanted;
  const { listen: a, ...restA } = running;
  const { listen: b, ...restB } = wanted;
  const normal = (t: Omit<SupervisorTls, 'listen'>) => ({ certificates: t.certificates, redirectServices: t.redirectServices ?? [], reloadIntervalMs: t.reloadIntervalMs });
  return a.host === b.host && (b.port === 0 || a.port === b.port) && isDeepStrictEqual(normal(restA), normal(restB));
}

/** The TLS options the workers get: the callback stays with the daemon. */
function tlsConfig(tls: SupervisedRouterOptions['router']['tls']): SupervisorTls | undefined {
  if (!tls) return undefined;
  const { onCertificateEvent: _callback, ...rest } = tls;
  return rest;
}

class SupervisorRouterControl implements SupervisedRouter {
  url = '';
  httpsUrl: string | undefined;
  pid = 0;
  adopted = false;
  resizedFrom: number | undefined;
  priorityRefused: string | undefined;
  private client: SupervisorClient | undefined;
  private version = 0;
  private table: RouteTable = { services: [] };
  private readonly history: FigureHistory;
  private readonly listeners = new Set<(event: RouterEvent) => void>();
  private readonly workerListeners = new Set<(event: WorkerEvent) => void>();
  private readonly requestTimeoutMs: number;
  private fresh = true;
  /** Stopping or letting go: a supervisor that exits now is not started again. */
  private ending = false;
  /** A start again after the supervisor died, until it serves. */
  private restarting: Promise<void> | undefined;
  /** Since when this daemon knows the supervisor (its start, or its adoption), ms since the epoch. */
  private knownSinceMs = Date.now();
  private readonly onProblem: (message: string) => void;

  constructor(private readonly options: SupervisedRouterOptions) {
    this.onProblem = options.onProblem ?? ((message) => process.stderr.write(`${message}\n`));
    this.history = new FigureHistory(options.nowMs ?? Date.now);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  async open(): Promise<void> {
    const info = readInfo(this.options.stateDir);
    if (info && alive(info.pid)) {
      const adopted = await this.tryAdopt(info);
      if (adopted) return;
    }
    rmSync(join(this.options.stateDir, SUPERVISOR_INFO_FILE), { force: true });
    const started = await this.spawn();
    await this.connect(started.socketPath);
  }

  /** Adopts a running supervisor; false (after stopping it) when it is not fit to adopt. */
  private async tryAdopt(info: SupervisorInfo): Promise<boolean> {
    let client: SupervisorClient;
    try {
      client = await this.openClient(info.socketPath, 2000);
    } catch {
      // A pid alive but no socket: the pid was reused by something else, or the supervisor is
      // stopping. Either way it is not ours to adopt or kill.
      return false;
    }
    const wanted = this.options.router.listen;
    const sameListen = info.listen.host === wanted.host && (wanted.port === 0 || info.listen.port === wanted.port);
    if (info.protocol !== PROTOCOL_VERSION || !sameListen || !sameTls(info.tls, tlsConfig(this.options.router.tls)) || info.workerPriority !== this.options.workerPriority) {
      await client.request({ op: 'shutdown', drainTimeoutMs: 1000 }, 5000).catch(() => undefined);
      client.close();
      await waitExit(info.pid, 5000);
      return false;
    }
    this.client = client;
    this.fresh = false;
    this.adopted = true;
    await this.hello();
    // It runs as many workers as its first daemon asked for: this one may ask for another count.
    const { before } = await client.request<{ before: number }>({ op: 'resize', workers: this.options.workers }, this.requestTimeoutMs);
    if (before !== this.options.workers) this.resizedFrom = before;
    return true;
  }

  /** Starts a supervisor; `at` holds the addresses a supervisor started again must serve. */
  private async spawn(at?: { listen: { host: string; port: number }; httpsListen: { host: string; port: number } | undefined }): Promise<SupervisorInfo> {
    const { file, execArgv } = entry();
    const asked = tlsConfig(this.options.router.tls);
    const tls = asked && at?.httpsListen ? { ...asked, listen: at.httpsListen } : asked;
    const router = { ...this.options.router, ...(at && { listen: at.listen }), ...(tls && { tls }) };
    const config: SupervisorConfig = { stateDir: this.options.stateDir, workers: this.options.workers, workerPriority: this.options.workerPriority, router };
    const log = openSync(join(this.options.stateDir, 'router-supervisor.log'), 'a');
    // Detached, in a process group of its own: Ctrl-C of the daemon's terminal does not reach it,
    // and it outlives a daemon that crashes. The IPC channel lives for the start only.
    // Its workers inherit its environment, malloc's setting with it.
    const child = spawn(process.execPath, [...execArgv, file, JSON.stringify(config)], { detached: true, stdio: ['ignore', log, log, 'ipc'], env: routerProcessEnv(process.env) });
    closeSync(log);
    const timeoutMs = this.options.startTimeoutMs ?? 20_000;
    try {
      const message = await new Promise<StartupMessage>((resolve, reject) => {
        const timer = setTimeout(() => reject(new SupervisorError('START_FAILED', `the router supervisor did not start within ${timeoutMs} ms; see router-supervisor.log in the state dir`)), timeoutMs);
        child.once('message', (m: StartupMessage) => {
          clearTimeout(timer);
          resolve(m);
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new SupervisorError('START_FAILED', `the router supervisor exited (${code ?? 'signal'}) before it served; see router-supervisor.log in the state dir`));
        });
      });
      if (message.t === 'failed') {
        const err = new SupervisorError('START_FAILED', message.error.message);
        Object.assign(err, { cause: { code: message.error.code } });
        throw err;
      }
      return message.info;
    } catch (err) {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      throw err;
    } finally {
      child.removeAllListeners();
      if (child.connected) child.disconnect();
      child.unref();
    }
  }

  private async connect(socketPath: string): Promise<void> {
    this.client = await this.openClient(socketPath, 5000);
    await this.hello();
  }

  /** A client of the supervisor at `socketPath`; its closing counts only while it is the one in use. */
  private async openClient(socketPath: string, timeoutMs: number): Promise<SupervisorClient> {
    const holder: { client?: SupervisorClient } = {};
    holder.client = await SupervisorClient.open({
      socketPath, onPush: (m) => this.onPush(m), onProblem: this.onProblem, timeoutMs,
      onClose: () => {
        if (holder.client !== undefined && holder.client === this.client) this.lost();
      },
    });
    return holder.client;
  }

  /**
   * The supervisor closed its socket: it exited (killed, crashed), and its workers stopped with it
   * (each ends when its channel to the supervisor does). Unless this daemon is stopping or letting
   * go of it, another supervisor is started on the same addresses with the table in force.
   */
  private lost(): void {
    if (this.ending) return;
    this.client = undefined;
    const atMs = Date.now();
    const exit = { pid: this.pid, atMs, cause: 'exited', livedMs: Math.max(0, atMs - this.knownSinceMs) };
    for (const listener of [...this.workerListeners]) listener({ type: 'worker-exited', process: 'supervisor', exit });
    this.restarting = this.startAgain(exit).finally(() => {
      this.restarting = undefined;
    });
  }

  private async startAgain(exit: WorkerExit): Promise<void> {
    if (!(await waitExit(exit.pid, 5000))) {
      try {
        process.kill(-exit.pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
    const table = this.table;
    const version = this.version;
    // The addresses it served, even where a port 0 was asked for: clients know those.
    const listen = addressOf(this.url);
    const httpsListen = this.httpsUrl === undefined ? undefined : addressOf(this.httpsUrl);
    for (let waitMs = 200; !this.ending; waitMs = Math.min(waitMs * 2, 5000)) {
      try {
        rmSync(join(this.options.stateDir, SUPERVISOR_INFO_FILE), { force: true });
        const started = await this.spawn({ listen, httpsListen });
        this.fresh = true;
        this.adopted = false;
        this.resizedFrom = undefined;
        this.knownSinceMs = Date.now();
        await this.connect(started.socketPath);
        if (this.ending) return;
        if (table.services.length > 0 || version > 0) await this.applyTableNow(table);
        for (const listener of [...this.workerListeners]) listener({ type: 'worker-replaced', process: 'supervisor', exit: { ...exit, replacedBy: { pid: this.pid, afterMs: Date.now() - exit.atMs } } });
        return;
      } catch (err) {
        this.onProblem(`graylane: the router supervisor did not start again after pid ${exit.pid} exited: ${(err as Error).message}; trying again in ${waitMs} ms`);
        await new Promise((r) => setTimeout(r, waitMs));
      }
    }
  }

  private async hello(): Promise<void> {
    const hello = await this.client!.request<HelloResult>({ op: 'hello' }, this.requestTimeoutMs);
    this.pid = hello.pid;
    this.url = hello.url;
    this.httpsUrl = hello.httpsUrl;
    this.version = hello.version;
    this.table = hello.table;
    this.priorityRefused = hello.priorityRefused;
    this.history.take(unpackReport(hello.report), this.fresh);
  }

  private onPush(m: SupervisorMessage): void {
    if (!('push' in m)) return;
    if (m.push === 'report') this.history.take(unpackReport(m.report), this.fresh);
    else if (m.push === 'certificate') this.options.router.tls?.onCertificateEvent?.(m.event);
    else if (m.push === 'worker') for (const listener of [...this.workerListeners]) listener(m.event);
    else for (const listener of [...this.listeners]) listener(m.event);
  }

  private get connected(): SupervisorClient {
    if (!this.client) throw new SupervisorError('SUPERVISOR_GONE', 'the router supervisor is not connected');
    return this.client;
  }

  async applyTable(table: RouteTable): Promise<ApplyTableResult> {
    // Refused here, with the router's own error, before any worker sees it.
    assertRouteTable(table);
    // A supervisor started again after the last one died takes it once it serves.
    await this.restarting;
    return this.applyTableNow(table);
  }

  private async applyTableNow(table: RouteTable): Promise<ApplyTableResult> {
    const result = await this.connected.request<ApplyTableResult>({ op: 'apply', table }, this.requestTimeoutMs);
    if (result.changed) {
      this.version = result.version;
      this.table = structuredClone(table);
    }
    return result;
  }

  currentTable(): { version: number; table: RouteTable } {
    return { version: this.version, table: structuredClone(this.table) };
  }

  awaitDrained(instanceId: string, deadlineMs: number): Promise<DrainOutcome> {
    const waitMs = Math.max(0, deadlineMs - (this.options.nowMs ?? Date.now)()) + this.requestTimeoutMs;
    return this.connected.request<DrainOutcome>({ op: 'await-drained', instance: instanceId, deadlineMs }, waitMs);
  }

  async snapshot(): Promise<RouterSnapshot> {
    const report = unpackReport(await this.connected.request<WireMergedReport>({ op: 'snapshot' }, this.requestTimeoutMs));
    this.history.take(report, this.fresh);
    return {
      atMs: report.atMs,
      tableVersion: report.tableVersion,
      revisions: report.revisions.map(({ service, revision, totals }) => ({ service, revision, totals })),
      releases: report.releases.map((r) => ({ release: r.release, stats: r.stats })),
    };
  }

  totals(query: { service: string; revision: string }): RevisionTotals {
    return this.history.totals(query, [...FINE_BOUNDS_MS]);
  }

  stats(query: StatsQuery): RevisionStats {
    return this.history.stats(query, [...FINE_BOUNDS_MS]);
  }

  recentLatency(query: StatsQuery): LatencyCounts {
    return this.history.recentLatency(query, [...FINE_BOUNDS_MS]);
  }

  releaseStats(release: string): ReleaseStats {
    return this.history.releaseStats(release);
  }

  releaseTraffic(query: { release: string; windowMs?: number }): ReleaseTraffic {
    return this.history.releaseTraffic(query);
  }

  onEvent(listener: (event: RouterEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  async workers(): Promise<WorkerStatus[]> {
    return (await this.status()).workers;
  }

  status(): Promise<SupervisorStatus> {
    return this.connected.request<SupervisorStatus>({ op: 'status' }, this.requestTimeoutMs);
  }

  onWorkerEvent(listener: (event: WorkerEvent) => void): () => void {
    this.workerListeners.add(listener);
    return () => {
      this.workerListeners.delete(listener);
    };
  }

  async stop({ drainTimeoutMs }: { drainTimeoutMs: number }): Promise<void> {
    this.ending = true;
    await this.restarting;
    const client = this.connected;
    await client.request({ op: 'shutdown', drainTimeoutMs }, this.requestTimeoutMs).catch(() => undefined);
    client.close();
    this.client = undefined;
    if (!(await waitExit(this.pid, drainTimeoutMs + 5000))) {
      try {
        process.kill(-this.pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
  }

  detach(): void {
    this.ending = true;
    this.client?.close();
    this.client = undefined;
  }

  metricsSource(): MetricsSource {
    return mergedMetricsSource(() => this.history.report());
  }
}

/** The host and port of a base URL (`http://[::1]:8080`). */
function addressOf(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
}

/** Waits for `pid` to exit; false when it still runs after `timeoutMs`. */
async function waitExit(pid: number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/**
 * Adopts the supervisor of `stateDir` when one serves it (same protocol, same listen address,
 * same HTTPS listener), or
 * starts one; resolves once its workers listen. Rejects with a {@link SupervisorError}.
 */
export async function startSupervisedRouter(options: SupervisedRouterOptions): Promise<SupervisedRouter> {
  if (!Number.isInteger(options.workers) || options.workers < 1) throw new RouterError('INVALID_OPTIONS', `workers must be an integer ≥ 1, got ${options.workers}`, [{ path: ['workers'], message: 'must be an integer ≥ 1' }]);
  const control = new SupervisorRouterControl(options);
  await control.open();
  return control;
}

/** Whether a supervisor record exists in `stateDir` (for messages; adoption checks more). */
export function hasSupervisorRecord(stateDir: string): boolean {
  return existsSync(join(stateDir, SUPERVISOR_INFO_FILE));
}

/**
 * Stops the supervisor an earlier daemon of `stateDir` left serving (a crash, or a daemon that
 * ran with workers where this one runs another data plane): it holds the listen address the new
 * data plane needs. Its workers drain up to `drainTimeoutMs`. Returns its pid, or undefined when
 * none runs; a pid that lives but answers nothing on the socket is not ours and is left alone.
 */
export async function stopLeftoverSupervisor(options: { stateDir: string; drainTimeoutMs: number }): Promise<number | undefined> {
  const info = readInfo(options.stateDir);
  if (!info) return undefined;
  if (alive(info.pid)) {
    let client: SupervisorClient;
    try {
      client = await SupervisorClient.open({ socketPath: info.socketPath, onPush: () => undefined, onProblem: () => undefined, timeoutMs: 2000 });
    } catch {
      rmSync(join(options.stateDir, SUPERVISOR_INFO_FILE), { force: true });
      return undefined;
    }
    await client.request({ op: 'shutdown', drainTimeoutMs: options.drainTimeoutMs }, options.drainTimeoutMs + 5000).catch(() => undefined);
    client.close();
    if (!(await waitExit(info.pid, options.drainTimeoutMs + 5000))) {
      try {
        process.kill(-info.pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
      await waitExit(info.pid, 2000);
    }
    rmSync(join(options.stateDir, SUPERVISOR_INFO_FILE), { force: true });
    return info.pid;
  }
  rmSync(join(options.stateDir, SUPERVISOR_INFO_FILE), { force: true });
  return undefined;
}
