/**
 * The process runtime: each replica is a child process on this host, started without a shell,
 * detached in its own process group with its output in a file, so it outlives a crashed daemon
 * and can be adopted by the next one. This file is the adapter's face (the Runtime port); the
 * life of one instance is instance-lifecycle.ts, adoption checks adoption.ts, the environment
 * process-env.ts, logs log-*.ts.
 */
import { utimes } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { ProcessTemplate } from '../../documents/schema.js';
import { DEFAULT_BACKOFF, type BackoffPolicy } from '../backoff.js';
import { ChangeEmitter } from '../change-emitter.js';
import { InstanceNotFoundError, RuntimeError, RuntimeInputError } from '../errors.js';
import type {
  AdoptRecord, AdoptRejection, AdoptResult, EnsureInstancesRequest, InstanceChange, InstanceFilter, InstanceInfo,
  InstanceState, LogLine, ReadLogsRequest, Runtime, RuntimeCapabilities, StopInstanceRequest,
} from '../runtime.js';
import { adoptRefusal } from './adoption.js';
import { InstanceLifecycle } from './instance-lifecycle.js';
import { LogCap } from './log-cap.js';
import { DEFAULT_LOG_RETENTION_MS, DEFAULT_LOG_ROTATION, type LogRotation } from './log-files.js';
import { readLogFiles } from './log-reader.js';
import { sweepRetiredLogs } from './log-retention.js';
import { instanceLogFile, instanceSnapshot, logSize, newInstance, quiesce, type ManagedInstance } from './managed-instance.js';
import { preflight } from './process-env.js';

// Part of this module's API since before the split: importers keep their paths.
export { adoptRecordOf, argvMatches } from './adoption.js';
export { BASE_ENV_NAMES, baseEnvironment } from './process-env.js';

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

/** Runs replicas as local child processes. */
export class ProcessRuntime implements Runtime<ProcessTemplate> {
  /** Registry key. */
  readonly type = 'process';
  /** Everything: processes, logs, adoption. */
  readonly capabilities: RuntimeCapabilities = { processes: true, logs: true, adopt: true };

  private readonly instances = new Map<string, ManagedInstance>();
  private readonly emitter = new ChangeEmitter();
  private readonly host: string;
  private readonly backoff: BackoffPolicy;
  private readonly rotation: LogRotation;
  private readonly logCap: LogCap;
  private readonly lifecycle: InstanceLifecycle;
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
    this.lifecycle = new InstanceLifecycle({
      host: this.host,
      stateDir: options.stateDir,
      baseDir: options.baseDir,
      backoff: this.backoff,
      adoptedPollMs: options.adoptedPollMs,
      allocatePort: options.allocatePort,
      logCap: this.logCap,
      isClosed: () => this.closed,
      emit: (inst, previousState) => this.emit(inst, previousState),
      forget: (inst) => this.forget(inst),
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
      preflight(this.options.baseDir, template);
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
    inst.stopping ??= this.lifecycle.stop(inst, request);
    return inst.stopping;
  }

  /** {@inheritDoc Runtime.adopt} */
  adopt(records: AdoptRecord[]): Promise<AdoptResult> {
    this.assertOpen();
    const adopted: InstanceInfo[] = [];
    const rejected: AdoptRejection[] = [];
    for (const record of records) {
      const refusal = adoptRefusal(record, this.instances.has(record.id));
      if (refusal) {
        rejected.push({ record, ...refusal });
        continue;
      }
      const inst = newInstance(record.id, record.service, record.revision, record.template ?? { command: record.command });
      inst.restartable = record.template !== undefined;
      inst.port = record.port;
      inst.pid = record.pid;
      inst.restarts = record.restarts ?? 0;
      inst.startedAtMs = record.startedAtMs;
      inst.logOffsetAtStart = logSize(this.logFile(inst));
      if (record.wasReady) {
        inst.state = 'ready';
        inst.readyOnce = true;
      }
      this.instances.set(inst.id, inst);
      this.logCap.track(this.logFile(inst));
      this.lifecycle.watchAdopted(inst, inst.generation);
      this.lifecycle.startProbes(inst, inst.generation, true);
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
    // Closed first: a call that comes in while the instances stop is refused, and a launch under way
    // spawns nothing (it checks before spawning), so every process is one listed below.
    this.closed = true;
    if (options.stopInstances) {
      await Promise.all([...this.instances.keys()].map((id) => this.stopInstance({ id }).catch(() => undefined)));
    }
    this.logCap.close();
    clearInterval(this.sweepTimer);
    for (const inst of this.instances.values()) quiesce(inst);
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

  private live(service: string, revision: string): ManagedInstance[] {
    return [...this.instances.values()].filter(
      (i) => i.service === service && i.revision === revision && i.state !== 'stopping' && i.state !== 'stopped',
    );
  }

  private async create(service: string, revision: string, template: ProcessTemplate): Promise<void> {
    const id = `${service}-${revision}-${randomBytes(3).toString('hex')}`;
    const inst = newInstance(id, service, revision, template);
    this.instances.set(id, inst);
    inst.launching = this.lifecycle.launch(inst);
    await inst.launching;
  }

  /** A stopped instance leaves the runtime; its log is kept for the retention period. */
  private forget(inst: ManagedInstance): void {
    this.instances.delete(inst.id);
    this.retireLog(inst);
  }

  /** Retention counts from now: the log's time becomes the retirement time, however quiet the app was. */
  private retireLog(inst: ManagedInstance): void {
    const file = this.logFile(inst);
    this.logCap.untrack(file);
    const now = new Date();
    void utimes(file, now, now).catch(() => undefined);
  }

  private logFile(inst: ManagedInstance): string {
    return instanceLogFile(this.options.stateDir, inst);
  }

  private snapshot(inst: ManagedInstance): InstanceInfo {
    return instanceSnapshot(inst, this.host);
  }

  private emit(inst: ManagedInstance, previousState: InstanceState): void {
    this.emitter.emit({ instance: this.snapshot(inst), previousState });
  }
}
