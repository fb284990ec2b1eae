/**
 * The process runtime: each replica is a child process on this host, started without a shell,
 * detached in its own process group with its output in a file, so it outlives a crashed daemon
 * and can be adopted by the next one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, statSync } from 'node:fs';
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProcessTemplate } from '../../documents/schema.js';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from '../backoff.js';
import { ChangeEmitter } from '../change-emitter.js';
import { InstanceNotFoundError, RuntimeError, RuntimeInputError } from '../errors.js';
import { httpCheck, tcpCheck, type CheckResult } from '../probe.js';
import { ProbeLoop, probeSettings, TCP_FALLBACK_SETTINGS } from '../probe-loop.js';
import type {
  AdoptRecord, AdoptRejection, AdoptResult, EnsureInstancesRequest, InstanceChange, InstanceExit, InstanceFilter, InstanceInfo,
  InstanceState, LogLine, ProbeResult, ReadLogsRequest, Runtime, RuntimeCapabilities, StopInstanceRequest,
} from '../runtime.js';
import { resolveCommand, resolveCwd } from './command.js';
import { freePort, portIsFree } from './free-port.js';
import { LogCap } from './log-cap.js';
import { DEFAULT_LOG_RETENTION_MS, DEFAULT_LOG_ROTATION, lastLines, logFilePath, openLogForAppend, type LogRotation } from './log-files.js';
import { readLogFiles } from './log-reader.js';
import { sweepRetiredLogs } from './log-retention.js';
import { groupAlive, isAlive, portOwnership, processArgv, processStartMs } from './proc-fs.js';
import { STATE_DIR_ENV } from './orphans.js';

/** Options of {@link ProcessRuntime}. */
export interface ProcessRuntimeOptions {
  /** Where logs live (`<stateDir>/logs/...`). */
  stateDir: string;
  /** Templates' `cwd` is resolved against this (the App file's directory). */
  baseDir: string;
  /** Interface the instances are reached on; default 127.0.0.1. */
  host?: string;
  /** Restart back-off; default 1s doubling to 60s, reset after 60s of running. */
  backoff?: Partial<BackoffPolicy>;
  /** Log rotation; default 10 MiB, 3 files kept (at most 40 MiB per instance, see log-files.ts). */
  logRotation?: Partial<LogRotation>;
  /** Log growth is noticed at once (fs.watch); this is the fallback poll of log sizes; default 1 s. */
  logRotateCheckMs?: number;
  /** Logs of a retired (stopped, not tracked) instance are deleted this long after it stopped; default 24 h. */
  logRetentionMs?: number;
  /** How often retired instances' logs are looked for, once `adopt` has run; default 1 min. */
  logSweepMs?: number;
  /** How often an adopted (not our child) process is checked for exit; default 500 ms. */
  adoptedPollMs?: number;
  /** How often `readLogs({ follow })` polls; default 200 ms. */
  logPollMs?: number;
  /** Chooses a port for a new process; default: a free port picked by the OS. */
  allocatePort?: () => Promise<number>;
}

/** Clock-tick rounding and the once-read boot time make /proc start times exact only to ~1 s. */
const START_TIME_TOLERANCE_MS = 1_000;
const LAST_LOG_LINES = 10;

interface Instance {
  id: string;
  service: string;
  revision: string;
  template: ProcessTemplate;
  /** False for an adopted instance without a recorded template: it cannot be relaunched. */
  restartable: boolean;
  port: number;
  pid: number | undefined;
  state: InstanceState;
  restarts: number;
  /** Relaunches since it was last ready; a ready verdict sets it back to 0. */
  restartsSinceReady: number;
  startedAtMs: number;
  lastError: string | undefined;
  lastExit: InstanceExit | undefined;
  lastProbe: ProbeResult | undefined;
  /** Bumped on every launch; events of an older process generation are ignored. */
  generation: number;
  child: ChildProcess | undefined;
  exited: Promise<void>;
  markExited: () => void;
  hasExited: boolean;
  readyOnce: boolean;
  consecutiveCrashes: number;
  foreignPortStrikes: number;
  /** Why we are killing the process ourselves (liveness, stolen port), for the exit handler. */
  killReason: { kind: 'liveness' | 'port'; message: string } | undefined;
  logOffsetAtStart: number;
  readiness: ProbeLoop | undefined;
  liveness: ProbeLoop | undefined;
  exitPoll: NodeJS.Timeout | undefined;
  restartTimer: NodeJS.Timeout | undefined;
  launching: Promise<void> | undefined;
  stopping: Promise<void> | undefined;
}

/** The argv recorded for an instance matches /proc's, allowing an interpreter prefix (`#!` scripts). */
export function argvMatches(actual: string[], recorded: string[]): boolean {
  if (actual.length < recorded.length || recorded.length === 0) return false;
  const tail = actual.slice(actual.length - recorded.length);
  const [head, ...rest] = recorded;
  const first = tail[0] ?? '';
  return (first === head || path.basename(first) === path.basename(head ?? '')) && rest.every((arg, i) => tail[i + 1] === arg);
}

/** Builds what a daemon should persist for an instance so that a successor can `adopt` it. */
export function adoptRecordOf(info: InstanceInfo, template: ProcessTemplate): AdoptRecord | undefined {
  if (info.pid === undefined) return undefined;
  const port = Number(info.address.slice(info.address.lastIndexOf(':') + 1));
  return {
    id: info.id, service: info.service, revision: info.revision, pid: info.pid, port,
    startedAtMs: info.startedAtMs, command: template.command, restarts: info.restarts, template,
    wasReady: info.state === 'ready',
  };
}

/** What an app process gets from the daemon's environment unless its template has `inheritEnv: true`. */
export const BASE_ENV_NAMES: readonly string[] = ['PATH', 'HOME', 'LANG', 'TZ'];

/**
 * The part of the daemon's environment every app process gets: enough to find programs and
 * format text, nothing else. The daemon's environment often holds its operator's credentials
 * (cloud keys, tokens), which an app (or a canary of it) has no business reading.
 */
export function baseEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && (BASE_ENV_NAMES.includes(name) || name.startsWith('LC_'))) out[name] = value;
  }
  return out;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Runs replicas as local child processes. */
export class ProcessRuntime implements Runtime<ProcessTemplate> {
  /** Registry key. */
  readonly type = 'process';
  /** Everything: processes, logs, adoption. */
  readonly capabilities: RuntimeCapabilities = { processes: true, logs: true, adopt: true };

  private readonly instances = new Map<string, Instance>();
  private readonly emitter = new ChangeEmitter();
  private readonly host: string;
  private readonly backoff: BackoffPolicy;
  private readonly rotation: LogRotation;
  private readonly logCap: LogCap;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: ProcessRuntimeOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.rotation = { ...DEFAULT_LOG_ROTATION, ...options.logRotation };
    this.logCap = new LogCap({
      rotation: this.rotation,
      pollMs: options.logRotateCheckMs,
      onRotated: (file) => {
        for (const inst of this.instances.values()) if (this.logFile(inst) === file) inst.logOffsetAtStart = 0;
      },
    });
  }

  /** {@inheritDoc Runtime.ensureInstances} */
  async ensureInstances(request: EnsureInstancesRequest<ProcessTemplate>): Promise<InstanceInfo[]> {
    const { service, revision, template, replicas } = request;
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw new RuntimeInputError(`replicas for ${service}/${revision} must be a whole number ≥ 0, got ${replicas}`);
    }
    if (!Array.isArray(template.command) || template.command.length === 0 || !template.command[0]) {
      throw new RuntimeInputError(`process template of ${service}/${revision} has an empty command`);
    }
    this.assertOpen();
    const live = this.live(service, revision);
    if (live.length < replicas) {
      // Checked once up front so that a typo fails the call instead of crash-looping replicas.
      this.preflight(template);
      const started: Promise<void>[] = [];
      for (let i = live.length; i < replicas; i += 1) started.push(this.create(service, revision, template));
      await Promise.all(started);
    } else if (live.length > replicas) {
      const rank: Record<InstanceState, number> = { failed: 0, starting: 1, unready: 2, ready: 3, stopping: 4, stopped: 4 };
      const surplus = [...live]
        .sort((a, b) => rank[a.state] - rank[b.state] || b.startedAtMs - a.startedAtMs)
        .slice(0, live.length - replicas);
      await Promise.all(surplus.map((inst) => this.stopInstance({ id: inst.id, beforeStop: request.beforeStop, drainMs: request.drainMs })));
    }
    return this.listInstances({ service, revision });
  }

  /** {@inheritDoc Runtime.listInstances} */
  listInstances(filter: InstanceFilter = {}): InstanceInfo[] {
    return [...this.instances.values()]
      .filter((i) => (filter.service === undefined || i.service === filter.service) && (filter.revision === undefined || i.revision === filter.revision))
      .map((i) => this.snapshot(i));
  }

  /** {@inheritDoc Runtime.stopInstance} */
  stopInstance(request: StopInstanceRequest): Promise<void> {
    const inst = this.instances.get(request.id);
    if (!inst) return Promise.reject(new InstanceNotFoundError(request.id));
    inst.stopping ??= this.stop(inst, request);
    return inst.stopping;
  }

  /** {@inheritDoc Runtime.adopt} */
  adopt(records: AdoptRecord[]): Promise<AdoptResult> {
    this.assertOpen();
    const adopted: InstanceInfo[] = [];
    const rejected: AdoptRejection[] = [];
    for (const record of records) {
      const refusal = this.checkAdoptable(record);
      if (refusal) {
        rejected.push({ record, ...refusal });
        continue;
      }
      const inst = this.newInstance(record.id, record.service, record.revision, record.template ?? { command: record.command });
      inst.restartable = record.template !== undefined;
      inst.port = record.port;
      inst.pid = record.pid;
      inst.restarts = record.restarts ?? 0;
      inst.startedAtMs = record.startedAtMs;
      inst.logOffsetAtStart = this.logSize(inst);
      if (record.wasReady) {
        inst.state = 'ready';
        inst.readyOnce = true;
      }
      this.instances.set(inst.id, inst);
      this.logCap.track(this.logFile(inst));
      this.watchAdopted(inst, inst.generation);
      this.startProbes(inst, inst.generation, true);
      this.emit(inst, 'starting');
      adopted.push(this.snapshot(inst));
    }
    this.startLogSweep();
    return Promise.resolve({ adopted, rejected });
  }

  /** {@inheritDoc Runtime.readLogs} */
  readLogs(request: ReadLogsRequest): AsyncIterable<LogLine> {
    return readLogFiles({
      ...request, stateDir: this.options.stateDir, keepFiles: this.rotation.keepFiles, pollMs: this.options.logPollMs,
      checkpointsOf: (file) => this.logCap.checkpoints(file),
    });
  }

  /** {@inheritDoc Runtime.on} */
  on(event: 'change', listener: (change: InstanceChange) => void): () => void {
    return this.emitter.on(event, listener);
  }

  /** {@inheritDoc Runtime.shutdown} */
  async shutdown(options: { stopInstances: boolean }): Promise<void> {
    if (options.stopInstances) {
      await Promise.all([...this.instances.keys()].map((id) => this.stopInstance({ id }).catch(() => undefined)));
    }
    this.closed = true;
    this.logCap.close();
    clearInterval(this.sweepTimer);
    for (const inst of this.instances.values()) this.quiesce(inst);
  }

  /** Looks at every tracked log now, rotating those at their cap; resolves when done (rotation is otherwise automatic). */
  rotateLogs(): Promise<void> {
    return this.logCap.settle();
  }

  /** Deletes retired instances' logs past their retention now (otherwise done every `logSweepMs`); returns the deleted paths. */
  sweepLogs(): Promise<string[]> {
    return sweepRetiredLogs({
      stateDir: this.options.stateDir,
      retentionMs: this.options.logRetentionMs ?? DEFAULT_LOG_RETENTION_MS,
      nowMs: Date.now(),
      isLive: (id) => this.instances.has(id),
    });
  }

  // -------------------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new RuntimeError('RuntimeClosed', 'the process runtime was shut down');
  }

  /**
   * Armed by the first `adopt` (the daemon always calls it on start): before that, a log without a
   * tracked instance may belong to a process of the previous daemon that is about to be adopted.
   */
  private startLogSweep(): void {
    if (this.sweepTimer || this.closed) return;
    const sweep = () => void this.sweepLogs().catch(() => undefined);
    this.sweepTimer = setInterval(sweep, this.options.logSweepMs ?? 60_000);
    this.sweepTimer.unref();
    sweep();
  }

  private live(service: string, revision: string): Instance[] {
    return [...this.instances.values()].filter(
      (i) => i.service === service && i.revision === revision && i.state !== 'stopping' && i.state !== 'stopped',
    );
  }

  private preflight(template: ProcessTemplate): { cwd: string; env: NodeJS.ProcessEnv } {
    const cwd = resolveCwd(this.options.baseDir, template.cwd);
    const env = { ...(template.inheritEnv === true ? process.env : baseEnvironment(process.env)), ...template.env };
    resolveCommand(template.command[0] ?? '', cwd, env.PATH);
    return { cwd, env };
  }

  private newInstance(id: string, service: string, revision: string, template: ProcessTemplate): Instance {
    const inst: Instance = {
      id, service, revision, template, restartable: true, port: 0, pid: undefined, state: 'starting', restarts: 0,
      restartsSinceReady: 0, startedAtMs: Date.now(), lastError: undefined, lastExit: undefined, lastProbe: undefined, generation: 0, child: undefined, exited: Promise.resolve(),
      markExited: () => undefined, hasExited: false, readyOnce: false, consecutiveCrashes: 0, foreignPortStrikes: 0,
      killReason: undefined, logOffsetAtStart: 0, readiness: undefined, liveness: undefined, exitPoll: undefined,
      restartTimer: undefined, launching: undefined, stopping: undefined,
    };
    this.resetExitWaiter(inst);
    return inst;
  }

  private resetExitWaiter(inst: Instance): void {
    inst.hasExited = false;
    inst.exited = new Promise<void>((resolve) => {
      inst.markExited = () => {
        inst.hasExited = true;
        resolve();
      };
    });
  }

  private async create(service: string, revision: string, template: ProcessTemplate): Promise<void> {
    const id = `${service}-${revision}-${randomBytes(3).toString('hex')}`;
    const inst = this.newInstance(id, service, revision, template);
    this.instances.set(id, inst);
    inst.launching = this.launch(inst);
    await inst.launching;
  }

  private async choosePort(inst: Instance): Promise<number> {
    if (inst.port && (await portIsFree(inst.port, this.host))) return inst.port;
    return this.options.allocatePort ? this.options.allocatePort() : freePort(this.host);
  }

  /** Spawns the process of a new generation; failures become state `failed` plus a restart. */
  private async launch(inst: Instance): Promise<void> {
    const generation = ++inst.generation;
    const previous = inst.state;
    let env: NodeJS.ProcessEnv;
    let cwd: string;
    try {
      ({ cwd, env } = this.preflight(inst.template));
      inst.port = await this.choosePort(inst);
    } catch (err) {
      if (generation === inst.generation && inst.state !== 'stopping') this.crashed(inst, generation, (err as Error).message);
      return;
    }
    if (generation !== inst.generation || inst.state === 'stopping' || this.closed) return;
    // The markers let a later daemon find this process if the state that records it is lost.
    env = { ...env, PORT: String(inst.port), GRAYLANE_SERVICE: inst.service, GRAYLANE_REVISION: inst.revision, GRAYLANE_INSTANCE: inst.id, [STATE_DIR_ENV]: path.resolve(this.options.stateDir) };
    const file = this.logFile(inst);
    let fd: number;
    try {
      fd = openLogForAppend(file);
    } catch (err) {
      this.crashed(inst, generation, `cannot open log file ${file}: ${(err as Error).message}`);
      return;
    }
    inst.logOffsetAtStart = this.logSize(inst);
    const [cmd, ...args] = inst.template.command;
    let child: ChildProcess;
    try {
      child = spawn(cmd ?? '', args, { cwd, env, detached: true, stdio: ['ignore', fd, fd], shell: false });
    } catch (err) {
      closeSync(fd);
      this.crashed(inst, generation, `cannot start "${cmd}": ${(err as Error).message}`);
      return;
    }
    // The child has its own copy of the descriptor.
    closeSync(fd);
    this.logCap.track(file);
    child.unref();
    this.resetExitWaiter(inst);
    inst.child = child;
    inst.pid = child.pid;
    inst.readyOnce = false;
    inst.foreignPortStrikes = 0;
    inst.killReason = undefined;
    inst.state = 'starting';
    inst.startedAtMs = (child.pid !== undefined ? processStartMs(child.pid) : undefined) ?? Date.now();
    child.once('error', (err: NodeJS.ErrnoException) => {
      const what = err.code === 'ENOENT' ? `command "${cmd}" not found (cwd ${cwd})` : `cannot start "${cmd}": ${err.message}`;
      this.exited(inst, generation, what, { code: null, signal: null });
    });
    child.once('exit', (code, signal) => {
      this.exited(inst, generation, signal ? `was killed by ${signal}` : `exited with code ${code}`, { code, signal });
    });
    if (child.pid !== undefined) this.startProbes(inst, generation, false);
    this.emit(inst, previous);
  }

  private startProbes(inst: Instance, generation: number, immediate: boolean): void {
    const { readinessProbe, livenessProbe } = inst.template;
    const current = () => generation === inst.generation && inst.state !== 'stopping' && !this.closed;
    inst.readiness = new ProbeLoop({
      settings: readinessProbe ? probeSettings(readinessProbe) : TCP_FALLBACK_SETTINGS,
      immediate,
      check: async (timeoutMs) => await this.verifyOwnership(inst, this.startingGrace(inst, await this.check(inst, readinessProbe, timeoutMs))),
      // Kept for `status` without an event per check: a probe period can be 200 ms.
      onCheck: (result) => {
        if (current()) inst.lastProbe = { outcome: result.pending ? 'pending' : result.ok ? 'pass' : 'fail', detail: result.detail, atMs: Date.now() };
      },
      onVerdict: (verdict, detail) => {
        if (!current()) return;
        const previous = inst.state;
        if (verdict === 'pass') {
          inst.state = 'ready';
          inst.readyOnce = true;
          inst.restartsSinceReady = 0;
        } else {
          inst.state = 'unready';
          inst.lastError = `readiness probe failed: ${detail}`;
        }
        this.emit(inst, previous);
      },
    });
    if (livenessProbe) {
      inst.liveness = new ProbeLoop({
        settings: probeSettings(livenessProbe),
        immediate,
        check: async (timeoutMs) => this.startingGrace(inst, await this.check(inst, livenessProbe, timeoutMs)),
        onVerdict: (verdict, detail) => {
          if (verdict !== 'fail' || !current()) return;
          this.killForRestart(inst, 'liveness', `liveness probe failed: ${detail}; restarting`);
        },
      });
    }
  }

  private check(inst: Instance, probe: ProcessTemplate['readinessProbe'], timeoutMs: number): Promise<CheckResult> {
    if (!probe) return tcpCheck({ host: this.host, port: inst.port, timeoutMs });
    return httpCheck({
      host: this.host, port: probe.httpGet.port ?? inst.port, path: probe.httpGet.path, timeoutMs,
      headers: { 'x-graylane-instance': inst.id },
    });
  }

  /**
   * A process that has not opened its port yet is starting, not failing: a refused connection before
   * the first readiness does not count toward the thresholds (the daemon's progress deadline bounds
   * a start that never ends). Once ready, a refused connection is a failure like any other.
   */
  private startingGrace(inst: Instance, result: CheckResult): CheckResult {
    return !inst.readyOnce && result.refused ? { ...result, pending: true } : result;
  }

  /**
   * Another process may grab the port between our pick and the child's bind; its answers must not
   * make our instance ready. Checked until the process was first ready (a listening socket cannot
   * be taken over afterwards). Persisting for the failure threshold: relaunch on a fresh port.
   */
  private async verifyOwnership(inst: Instance, result: CheckResult): Promise<CheckResult> {
    if (!result.ok || inst.readyOnce || inst.pid === undefined) return result;
    const { pid, port } = inst;
    const owner = await portOwnership(port, pid);
    // The instance was relaunched while /proc was read: this answer is about the old process.
    if (inst.pid !== pid || inst.port !== port) return { ok: false, detail: 'relaunched while being checked' };
    if (owner === 'ours' || owner === 'unknown') return result;
    const detail = owner === 'foreign'
      ? `port ${inst.port} answers but is held by another process, not by this instance`
      : `nothing of this instance listens on port ${inst.port}`;
    inst.foreignPortStrikes += 1;
    const threshold = inst.template.readinessProbe?.failureThreshold ?? 3;
    if (owner === 'foreign' && inst.foreignPortStrikes >= threshold && inst.restartable) {
      inst.port = 0;
      this.killForRestart(inst, 'port', `${detail}; relaunching on another port`);
    }
    return { ok: false, detail };
  }

  private killForRestart(inst: Instance, kind: 'liveness' | 'port', message: string): void {
    if (inst.killReason || inst.pid === undefined) return;
    inst.killReason = { kind, message };
    const previous = inst.state;
    inst.state = 'unready';
    inst.lastError = message;
    inst.readiness?.stop();
    inst.liveness?.stop();
    this.emit(inst, previous);
    const pid = inst.pid;
    const generation = inst.generation;
    if (kind === 'port') {
      signalGroup(pid, 'SIGKILL');
      return;
    }
    signalGroup(pid, 'SIGTERM');
    void this.waitExit(inst, this.graceMs(inst)).then((gone) => {
      if (!gone && generation === inst.generation) signalGroup(pid, 'SIGKILL');
    });
  }

  /** Handles the end of a process generation (exit event, spawn error or the adopted-pid poll). */
  private exited(inst: Instance, generation: number, how: string, exit: Omit<InstanceExit, 'atMs'>): void {
    if (generation !== inst.generation || inst.hasExited) return;
    inst.markExited();
    inst.lastExit = { ...exit, atMs: Date.now() };
    inst.readiness?.stop();
    inst.liveness?.stop();
    if (inst.exitPoll) clearInterval(inst.exitPoll);
    inst.child = undefined;
    if (inst.state === 'stopping' || this.closed) return;
    const reason = inst.killReason;
    if (reason?.kind === 'port') {
      // Our own doing, not a crash: relaunch at once, on a fresh port.
      inst.restarts += 1;
      inst.launching = this.launch(inst);
      return;
    }
    const tail = lastLines(this.logFile(inst), LAST_LOG_LINES, 4096, inst.logOffsetAtStart);
    const phase = inst.readyOnce ? '' : ' before becoming ready';
    const message = reason?.message ?? `process ${how}${phase}`;
    this.crashed(inst, generation, tail.length ? `${message}; last output:\n${tail.join('\n')}` : message);
  }

  /** State `failed`, then a relaunch after the back-off (CrashLoopBackOff). */
  private crashed(inst: Instance, generation: number, message: string): void {
    const previous = inst.state;
    const ranMs = Date.now() - inst.startedAtMs;
    inst.consecutiveCrashes = inst.readyOnce && ranMs >= this.backoff.resetAfterMs ? 1 : inst.consecutiveCrashes + 1;
    inst.state = 'failed';
    inst.lastError = message;
    inst.pid = undefined;
    this.emit(inst, previous);
    if (!inst.restartable) return;
    const delayMs = backoffDelayMs(this.backoff, inst.consecutiveCrashes);
    inst.restartTimer = setTimeout(() => {
      inst.restartTimer = undefined;
      if (generation !== inst.generation || inst.state !== 'failed' || this.closed) return;
      inst.restarts += 1;
      inst.restartsSinceReady += 1;
      inst.launching = this.launch(inst);
    }, delayMs);
    inst.restartTimer.unref();
  }

  private checkAdoptable(record: AdoptRecord): Omit<AdoptRejection, 'record'> | undefined {
    if (this.instances.has(record.id)) return { reason: 'duplicate', message: `instance ${record.id} is already tracked` };
    if (!isAlive(record.pid)) return { reason: 'dead', message: `process ${record.pid} of ${record.id} is no longer running` };
    const argv = processArgv(record.pid);
    if (argv && !argvMatches(argv, record.command)) {
      return { reason: 'mismatch', message: `pid ${record.pid} now runs "${argv.join(' ')}", not "${record.command.join(' ')}"` };
    }
    const startMs = processStartMs(record.pid);
    if (startMs !== undefined && Math.abs(startMs - record.startedAtMs) > START_TIME_TOLERANCE_MS) {
      return {
        reason: 'mismatch',
        message: `pid ${record.pid} started at ${new Date(startMs).toISOString()}, not at the recorded ${new Date(record.startedAtMs).toISOString()}: the pid was reused`,
      };
    }
    return undefined;
  }

  /** An adopted process is not our child: no exit event, so poll its pid (and its start time). */
  private watchAdopted(inst: Instance, generation: number): void {
    const pid = inst.pid ?? 0;
    const startedAtMs = inst.startedAtMs;
    inst.exitPoll = setInterval(() => {
      const start = isAlive(pid) ? processStartMs(pid) : undefined;
      const gone = start === undefined ? !isAlive(pid) : Math.abs(start - startedAtMs) > START_TIME_TOLERANCE_MS;
      if (gone) this.exited(inst, generation, 'exited (exit code unknown: the process was adopted)', { code: null, signal: null });
    }, this.options.adoptedPollMs ?? 500);
    inst.exitPoll.unref();
  }

  private async stop(inst: Instance, request: StopInstanceRequest): Promise<void> {
    const previous = inst.state;
    inst.state = 'stopping';
    if (inst.restartTimer) clearTimeout(inst.restartTimer);
    inst.readiness?.stop();
    inst.liveness?.stop();
    this.emit(inst, previous);
    await inst.launching;
    if (request.beforeStop) {
      try {
        await request.beforeStop(this.snapshot(inst));
      } catch (err) {
        inst.lastError = `beforeStop hook failed: ${(err as Error).message}`;
      }
    }
    if (request.drainMs) await sleep(request.drainMs);
    const pid = inst.pid;
    if (pid !== undefined && !inst.hasExited) {
      signalGroup(pid, 'SIGTERM');
      if (!(await this.waitExit(inst, this.graceMs(inst)))) {
        inst.lastError = `did not exit within ${this.graceMs(inst)} ms of SIGTERM; sent SIGKILL`;
        signalGroup(pid, 'SIGKILL');
        await this.waitExit(inst, 10_000);
      }
      // Helpers the process left behind in its group go too.
      if (groupAlive(pid)) signalGroup(pid, 'SIGKILL');
    }
    this.quiesce(inst);
    inst.state = 'stopped';
    inst.pid = undefined;
    this.emit(inst, 'stopping');
    this.instances.delete(inst.id);
    this.retireLog(inst);
  }

  private waitExit(inst: Instance, timeoutMs: number): Promise<boolean> {
    if (inst.hasExited) return Promise.resolve(true);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    return Promise.race([inst.exited.then(() => true), timeout]).finally(() => clearTimeout(timer));
  }

  private graceMs(inst: Instance): number {
    return (inst.template.terminationGracePeriodSeconds ?? 30) * 1000;
  }

  /** Stops every timer of an instance, leaving its process alone. */
  private quiesce(inst: Instance): void {
    inst.readiness?.stop();
    inst.liveness?.stop();
    if (inst.exitPoll) clearInterval(inst.exitPoll);
    if (inst.restartTimer) clearTimeout(inst.restartTimer);
  }

  /** Retention counts from now: the log's time becomes the retirement time, however quiet the app was. */
  private retireLog(inst: Instance): void {
    const file = this.logFile(inst);
    this.logCap.untrack(file);
    const now = new Date();
    void utimes(file, now, now).catch(() => undefined);
  }

  private logFile(inst: Instance): string {
    return logFilePath(this.options.stateDir, inst.service, inst.revision, inst.id);
  }

  private logSize(inst: Instance): number {
    try {
      return statSync(this.logFile(inst)).size;
    } catch {
      return 0;
    }
  }

  private snapshot(inst: Instance): InstanceInfo {
    const info: InstanceInfo = {
      id: inst.id, service: inst.service, revision: inst.revision, address: `${this.host}:${inst.port}`,
      state: inst.state, restarts: inst.restarts, startedAtMs: inst.startedAtMs, restartsSinceReady: inst.restartsSinceReady,
    };
    if (inst.pid !== undefined) info.pid = inst.pid;
    if (inst.lastError !== undefined) info.lastError = inst.lastError;
    if (inst.lastExit !== undefined) info.lastExit = { ...inst.lastExit };
    if (inst.lastProbe !== undefined) info.lastProbe = { ...inst.lastProbe };
    return info;
  }

  private emit(inst: Instance, previousState: InstanceState): void {
    this.emitter.emit({ instance: this.snapshot(inst), previousState });
  }
}
