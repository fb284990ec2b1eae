/**
 * The RouterControl of nginx as graylane's data plane. `applyTable` renders the table and reloads
 * nginx gracefully; the counters come from nginx's buffered access log file; a drain is the exit of
 * the workers that served before the reload that removed the instance. Two ways to run: graylane
 * runs nginx itself (`managed`), or writes an include file for an nginx the user runs and calls
 * their reload command (`include`).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type {
  LatencyCounts, ReleaseStats, ReleaseTraffic, RevisionStats, RevisionTotals, RouteTable, RouterEvent, StatsQuery,
} from '../../contract/index.js';
import { assertRouteTable } from '../../route-table-check.js';
import type { ApplyTableResult, DrainOutcome, RouterControl, RouterSnapshot } from '../router-control.js';
import { AccessCounters } from './access-counters.js';
import { followAccessLog, type AccessLogReader } from './access-log-reader.js';
import { NginxRunError } from './errors.js';
import { adoptNginx, killWorkers, nginxConfFile, startNginx, type NginxProcess } from './nginx-process.js';
import { findLeftoverNginx, removeNginxRecord, stopLeftoverNginx, writeNginxRecord } from './leftover-nginx.js';
import { renderHttpConfig } from './render-config.js';
import { signalChild } from '../../../lib/signal-child.js';
import type { WorkerEvent, WorkerExit } from '../supervisor/protocol.js';

/** How graylane reaches nginx. */
export type NginxMode =
  /** graylane runs nginx as its child, in `prefixDir`. */
  | { type: 'managed'; prefixDir: string; workers?: number | 'auto'; workerPriority?: number | undefined; binary?: string }
  /** The user runs nginx; graylane writes `includeFile` (http level) and runs `reloadCommand` (argv, no shell). */
  | { type: 'include'; includeFile: string; reloadCommand: string[] };

/** Options of {@link startNginxRouterControl}. */
export interface NginxRouterControlOptions {
  /** How nginx is run. */
  mode: NginxMode;
  /** `host:port` nginx listens on for clients. */
  listen: string;
  /** Old workers' deadline after a reload, and so every drain's, ms; default 30 s. */
  drainTimeoutMs?: number;
  /** Statistics window, seconds; default 300. */
  statsWindowSeconds?: number;
  /** How long a reload may take, ms; default 10 s. */
  reloadTimeoutMs?: number;
  /** Wall clock, ms since the epoch; `Date.now` by default. */
  nowMs?: () => number;
  /**
   * The access log file nginx writes and graylane reads; default `access.log` in the prefix
   * directory (managed), next to the include file (include). Its directory is created.
   */
  accessLogFile?: string;
  /** Size past which the access log is rotated, bytes; default 16 MiB. */
  accessLogMaxBytes?: number;
  /** How often the access log is read at least, ms; default 100. */
  accessLogPollMs?: number;
  /** A rotation of the access log that failed (it is retried at the next read). */
  onAccessLogError?: (err: Error) => void;
  /**
   * Managed mode: nginx's master exited on its own (`worker-exited`, `process: 'nginx'`), and the
   * nginx started in its place serves (`worker-replaced`).
   */
  onWorkerEvent?: (event: WorkerEvent) => void;
  /** Managed mode: a start of nginx after its master died failed (it is tried again). */
  onProblem?: (message: string) => void;
}

/** A RouterControl over nginx that can also be stopped. */
export interface NginxRouterControl extends RouterControl {
  /** Stops nginx (managed mode: gracefully, in-flight requests finish) and the log reader. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** Stops the log reader and leaves nginx serving its last table, for the next daemon to adopt (what a crash does, on purpose). */
  detach(): Promise<void>;
  /** Managed mode: why nginx could not be given the `workerPriority` asked for; undefined when it was, or none was asked. */
  readonly priorityRefused: string | undefined;
  /** Managed mode: the nginx master's pid; undefined for the user's nginx. */
  readonly pid: number | undefined;
  /** Managed mode: whether the nginx an earlier daemon left serving was adopted rather than a new one started. */
  readonly adopted: boolean;
  /** Managed mode: a sentence when a leftover nginx that did not fit was stopped to start this one. */
  readonly stoppedLeftover: string | undefined;
}

/** The nginx a control drives, and how it came to. */
interface ManagedState {
  /** The managed nginx; undefined in include mode. */
  nginx: NginxProcess | undefined;
  /** Taken over from an earlier daemon. */
  adopted: boolean;
  /** The http configuration in force: an adopted nginx's routes.conf; undefined when not known. */
  inForce: string | undefined;
  /** See {@link NginxRouterControl.stoppedLeftover}. */
  stoppedLeftover: string | undefined;
}

const ZERO_RELEASE: ReleaseStats = { assigned: { stable: 0, canary: 0 }, pinned: { stable: 0, canary: 0 }, fallbacks: 0, unreadyServed: 0, forgedTokens: 0, skewErrors: 0, lastPinnedMs: {} };

/** Runs `argv` without a shell; rejects with its output when it fails. */
function run(argv: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => signalChild(child, 'SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new NginxRunError('ReloadFailed', `cannot run the reload command ${argv[0]}: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new NginxRunError('ReloadFailed', `the reload command ${argv.join(' ')} failed (${signal ?? `exit ${code}`}): ${err.trim().slice(-300)}`));
    });
  });
}

class NginxControl implements NginxRouterControl {
  private version = 0;
  private table: RouteTable = { services: [] };
  /** Per instance taken out of routing: the workers that may still hold its requests. */
  private readonly drains = new Map<string, number[] | 'include'>();
  private queue: Promise<unknown> = Promise.resolve();

  private nginx: NginxProcess | undefined;
  /** Stopped or detached: a master that exits now is not started again. */
  private closing = false;
  /** The http configuration nginx runs, when this control knows it: a table rendered the same needs no reload. */
  private inForce: string | undefined;
  readonly adopted: boolean;
  readonly stoppedLeftover: string | undefined;

  get priorityRefused(): string | undefined {
    return this.nginx?.priorityRefused;
  }

  get pid(): number | undefined {
    return this.nginx?.pid;
  }

  constructor(
    private readonly options: NginxRouterControlOptions,
    private readonly reader: AccessLogReader,
    private readonly counters: AccessCounters,
    managed: ManagedState,
  ) {
    this.nginx = managed.nginx;
    this.inForce = managed.inForce;
    this.adopted = managed.adopted;
    this.stoppedLeftover = managed.stoppedLeftover;
    if (this.nginx) this.watch(this.nginx);
  }

  /** The nginx running now (another one after a restart), for the log reader's rotation. */
  current(): NginxProcess | undefined {
    return this.nginx;
  }

  private watch(nginx: NginxProcess): void {
    nginx.onExit((cause) => this.masterExited(nginx, cause));
  }

  /**
   * nginx's master died (killed, crashed) while this control runs it: the workers it leaves
   * behind would serve on with nothing to reload them, so they are stopped and nginx is started
   * again with the table in force. The requests they were serving are cut; new connections are
   * refused until the new nginx listens (about as long as its start).
   */
  private masterExited(dead: NginxProcess, cause: string): void {
    if (this.closing || this.nginx !== dead) return;
    const atMs = Date.now();
    killWorkers(dead.lastWorkers());
    const exit = { pid: dead.pid, atMs, cause, livedMs: Math.max(0, atMs - dead.startedAtMs) };
    this.options.onWorkerEvent?.({ type: 'worker-exited', process: 'nginx', exit });
    const restart = this.queue.then(() => this.startAgain(exit));
    this.queue = restart.catch(() => undefined);
  }

  private async startAgain(exit: WorkerExit): Promise<void> {
    const mode = this.options.mode as Extract<NginxMode, { type: 'managed' }>;
    // The table in force; before the first, what the dead nginx ran (an adopted one's routes), or "starting".
    const http = this.version > 0
      ? renderHttpConfig(this.table, { listen: this.options.listen, accessLog: this.reader.path }).http
      : this.inForce ?? renderHttpConfig({ services: [] }, { listen: this.options.listen, accessLog: this.reader.path, starting: true }).http;
    for (let waitMs = 100; !this.closing; waitMs = Math.min(waitMs * 2, 5000)) {
      try {
        const fresh = await startManaged(this.options, mode, http);
        if (this.closing) {
          await fresh.stop({ timeoutMs: 1000 });
          return;
        }
        this.nginx = fresh;
        this.inForce = http;
        this.watch(fresh);
        this.options.onWorkerEvent?.({ type: 'worker-replaced', process: 'nginx', exit: { ...exit, replacedBy: { pid: fresh.pid, afterMs: Date.now() - exit.atMs } } });
        return;
      } catch (err) {
        // A worker of the dead master slow to go still holds the port, say: tried again, later.
        this.options.onProblem?.(`nginx did not start again after pid ${exit.pid} exited: ${(err as Error).message}; trying again in ${waitMs} ms`);
        await new Promise((r) => setTimeout(r, waitMs));
      }
    }
  }

  applyTable(table: RouteTable): Promise<ApplyTableResult> {
    // One reload at a time: a second apply waits for the first to be in force.
    const next = this.queue.then(() => this.apply(table));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async apply(table: RouteTable): Promise<ApplyTableResult> {
    assertRouteTable(table);
    // The first table is always rendered, even an empty one: the configuration before it answers "starting".
    if (this.version > 0 && isDeepStrictEqual(this.table, table)) return { version: this.version, changed: false };
    const { http } = renderHttpConfig(table, { listen: this.options.listen, accessLog: this.reader.path });
    const removed = routedIds(this.table).filter((id) => !routedIds(table).includes(id));
    let oldWorkers: number[] | 'include';
    if (http === this.inForce) {
      // nginx routes this table already (a daemon that adopted nginx applies the table it left):
      // a reload would only cost keep-alive clients their idle connections. No worker served
      // anything else, so there is nothing to drain.
      oldWorkers = [];
    } else if (this.nginx) {
      oldWorkers = await this.nginx.reload(http);
    } else {
      const mode = this.options.mode as Extract<NginxMode, { type: 'include' }>;
      writeFileSync(`${mode.includeFile}.graylane-tmp`, http);
      renameSync(`${mode.includeFile}.graylane-tmp`, mode.includeFile);
      await run(mode.reloadCommand, this.options.reloadTimeoutMs ?? 10_000);
      oldWorkers = 'include';
    }
    this.inForce = http;
    for (const id of routedIds(table)) this.drains.delete(id);
    for (const id of removed) this.drains.set(id, oldWorkers);
    this.table = structuredClone(table);
    this.version++;
    return { version: this.version, changed: true };
  }

  currentTable(): { version: number; table: RouteTable } {
    return { version: this.version, table: this.table };
  }

  async awaitDrained(instanceId: string, deadlineMs: number): Promise<DrainOutcome> {
    const workers = this.drains.get(instanceId);
    if (workers === undefined) return 'unknown';
    const now = this.options.nowMs ?? Date.now;
    if (workers === 'include') {
      // The user's nginx: its workers are not ours to watch, so the deadline is the drain.
      await new Promise((r) => setTimeout(r, Math.max(0, deadlineMs - now())));
      return 'timeout';
    }
    for (;;) {
      if (this.nginx!.alive(workers).length === 0) return 'drained';
      if (now() >= deadlineMs) return 'timeout';
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadlineMs - now()))));
    }
  }

  snapshot(): Promise<RouterSnapshot> {
    return Promise.resolve({
      atMs: (this.options.nowMs ?? Date.now)(),
      tableVersion: this.version,
      revisions: this.counters.counted().map((r) => ({ ...r, totals: this.counters.totals(r) })),
      releases: [],
    });
  }

  totals(query: { service: string; revision: string }): RevisionTotals {
    return this.counters.totals(query);
  }

  stats(query: StatsQuery): RevisionStats {
    return this.counters.stats(query);
  }

  recentLatency(query: StatsQuery): LatencyCounts {
    return this.counters.recentLatency(query);
  }

  releaseStats(_release: string): ReleaseStats {
    // nginx routes no releases (refused at validate time), so every release's figures are zero.
    return structuredClone(ZERO_RELEASE);
  }

  releaseTraffic(query: { release: string; windowMs?: number }): ReleaseTraffic {
    return { windowMs: query.windowMs ?? 30_000, pageLoads: { stable: 0, canary: 0 }, requests: { stable: 0, canary: 0 }, skewErrors: 0 };
  }

  onEvent(_listener: (event: RouterEvent) => void): () => void {
    // nginx tells nothing on its own (no ejections it reports); drains are awaited, not announced.
    return () => undefined;
  }

  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closing = true;
    // A start again under way finishes (and stops what it started) before nginx is stopped.
    await this.queue;
    await this.nginx?.stop(options);
    if (this.nginx && this.options.mode.type === 'managed') removeNginxRecord(this.options.mode.prefixDir);
    // nginx's workers wrote their buffers as they exited: the last lines are read before closing.
    await this.reader.close();
  }

  async detach(): Promise<void> {
    this.closing = true;
    await this.reader.close();
  }
}

/** Ids of the instances a table routes to. */
function routedIds(table: RouteTable): string[] {
  return table.services.flatMap((s) => Object.values(s.revisions).flatMap((r) => r.instances.filter((i) => !i.draining).map((i) => i.id)));
}

/**
 * Starts the access log reader and (managed mode) nginx with an empty table; in include mode the
 * user's nginx is reloaded at the first apply.
 */
export async function startNginxRouterControl(options: NginxRouterControlOptions): Promise<NginxRouterControl> {
  const counters = new AccessCounters(options.statsWindowSeconds ?? 300, options.nowMs);
  const mode = options.mode;
  const accessLog = options.accessLogFile ?? (mode.type === 'managed' ? join(mode.prefixDir, 'access.log') : `${mode.includeFile}.access.log`);
  mkdirSync(dirname(accessLog), { recursive: true });
  let control: NginxControl | undefined;
  const running = () => control?.current();
  const reader = followAccessLog({
    path: accessLog,
    onLine: (line, count) => counters.record(line, count),
    ...(options.accessLogPollMs !== undefined && { pollMs: options.accessLogPollMs }),
    ...(options.onAccessLogError !== undefined && { onError: options.onAccessLogError }),
    rotation: mode.type === 'managed'
      ? {
        maxBytes: options.accessLogMaxBytes ?? 16 * 1024 * 1024,
        reopen: () => running()?.reopenLogs() ?? Promise.reject(new NginxRunError('NotStarted', 'nginx is not running')),
        holders: () => running()?.processes() ?? [],
      }
      // The user's nginx: a reload opens the log files anew too, and its processes are not ours to watch.
      : { maxBytes: options.accessLogMaxBytes ?? 16 * 1024 * 1024, reopen: () => run(mode.reloadCommand, options.reloadTimeoutMs ?? 10_000) },
  });
  if (mode.type === 'include') return new NginxControl(options, reader, counters, { nginx: undefined, adopted: false, inForce: undefined, stoppedLeftover: undefined });
  try {
    const started = await adoptOrStart(options, mode, accessLog);
    control = new NginxControl(options, reader, counters, started);
    return control;
  } catch (err) {
    await reader.close();
    throw err;
  }
}

/** How the managed nginx runs, whether it is started or adopted. */
function processOptions(options: NginxRouterControlOptions, mode: Extract<NginxMode, { type: 'managed' }>) {
  return {
    prefixDir: mode.prefixDir,
    workers: mode.workers ?? 'auto',
    workerPriority: mode.workerPriority,
    workerShutdownTimeoutMs: options.drainTimeoutMs ?? 30_000,
    ...(mode.binary !== undefined && { binary: mode.binary }),
    timeoutMs: options.reloadTimeoutMs ?? 10_000,
  };
}

/** Starts the managed nginx with `http` in force and writes its record. */
async function startManaged(options: NginxRouterControlOptions, mode: Extract<NginxMode, { type: 'managed' }>, http: string): Promise<NginxProcess> {
  const nginx = await startNginx({ ...processOptions(options, mode), http });
  writeNginxRecord(mode.prefixDir, { pid: nginx.pid, listen: options.listen, workerPriority: mode.workerPriority ?? null, priorityRefused: nginx.priorityRefused ?? null, startedAtMs: nginx.startedAtMs });
  return nginx;
}

/**
 * The nginx of a managed data plane: the one an earlier daemon left serving in the prefix
 * directory when it was started for the same address and priority (its last configuration stays in
 * force until the first table is applied), else a new one, after stopping a leftover that does not
 * fit (it holds the port, or one this data plane no longer wants).
 */
async function adoptOrStart(options: NginxRouterControlOptions, mode: Extract<NginxMode, { type: 'managed' }>, accessLog: string): Promise<ManagedState> {
  const common = processOptions(options, mode);
  const leftover = findLeftoverNginx(mode.prefixDir);
  const record = leftover?.record;
  if (leftover && record && record.listen === options.listen && record.workerPriority === (mode.workerPriority ?? null)) {
    const main = () => readFileSync(nginxConfFile(mode.prefixDir), 'utf8');
    const mainBefore = main();
    const nginx = adoptNginx({ ...common, pid: leftover.pid, priorityRefused: record.priorityRefused ?? undefined, startedAtMs: record.startedAtMs });
    // The file a reload put in force (one is renamed into place only once `nginx -t` passed it),
    // unless the main configuration changed (another worker count): then the first table reloads.
    const inForce = main() === mainBefore ? readFileSync(join(mode.prefixDir, 'routes.conf'), 'utf8') : undefined;
    return { nginx, adopted: true, inForce, stoppedLeftover: undefined };
  }
  const stopped = leftover ? await stopLeftoverNginx({ prefixDir: mode.prefixDir, timeoutMs: Math.min(options.drainTimeoutMs ?? 30_000, 5000) }) : undefined;
  const nginx = await startManaged(options, mode, renderHttpConfig({ services: [] }, { listen: options.listen, accessLog, starting: true }).http);
  const why = !record ? 'no record of what it was started for' : record.listen !== options.listen ? `it listened on ${record.listen}, not ${options.listen}` : `it ran at worker priority ${record.workerPriority ?? 'default'}, not ${mode.workerPriority ?? 'default'}`;
  return { nginx, adopted: false, inForce: undefined, stoppedLeftover: stopped === undefined ? undefined : `stopped nginx pid ${stopped} an earlier daemon left serving (${why}) and started pid ${nginx.pid}` };
}
