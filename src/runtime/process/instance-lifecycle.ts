/**
 * The life of one process instance: spawning a generation, noticing its end (exit event, spawn
 * error, or the poll of an adopted pid), the crash-loop back-off and relaunch, killing for a
 * restart (liveness, stolen port), and the graceful stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs, type BackoffPolicy } from '../backoff.js';
import type { InstanceExit, InstanceInfo, InstanceState, StopInstanceRequest } from '../runtime.js';
import { adoptedProcessGone } from './adoption.js';
import { freePort, portIsFree } from './free-port.js';
import { startProbes, type ProbeContext } from './instance-probes.js';
import type { LogCap } from './log-cap.js';
import { lastLines, openLogForAppend } from './log-files.js';
import {
  graceMs, instanceLogFile, instanceSnapshot, logSize, quiesce, resetExitWaiter, waitExit, type KillReason, type ManagedInstance,
} from './managed-instance.js';
import { groupAlive, processStartMs, signalGroup } from './proc-fs.js';
import { preflight, withInstanceMarkers } from './process-env.js';

const LAST_LOG_LINES = 10;

/** What the lifecycle needs of the runtime around it. */
export interface LifecycleContext {
  /** Interface the instances are reached on. */
  host: string;
  /** Where logs live. */
  stateDir: string;
  /** Templates' `cwd` is resolved against this. */
  baseDir: string;
  /** Restart back-off. */
  backoff: BackoffPolicy;
  /** How often an adopted process is checked for exit; default 500 ms. */
  adoptedPollMs: number | undefined;
  /** Chooses a port for a new process; default: a free port picked by the OS. */
  allocatePort: (() => Promise<number>) | undefined;
  /** Keeps instances' logs under their cap. */
  logCap: LogCap;
  /** Whether the runtime was shut down: nothing is relaunched then. */
  isClosed: () => boolean;
  /** Reports a state change of `inst`. */
  emit: (inst: ManagedInstance, previousState: InstanceState) => void;
  /** Drops a stopped instance from the runtime (and retires its log). */
  forget: (inst: ManagedInstance) => void;
}

/** Starts, watches, relaunches and stops the processes of instances. */
export class InstanceLifecycle {
  private readonly probeContext: ProbeContext;

  /** @param ctx the runtime's side: settings, state and callbacks. */
  constructor(private readonly ctx: LifecycleContext) {
    this.probeContext = {
      host: ctx.host,
      isClosed: ctx.isClosed,
      emit: ctx.emit,
      killForRestart: (inst, kind, message) => this.killForRestart(inst, kind, message),
    };
  }

  /** Spawns the process of a new generation; failures become state `failed` plus a restart. */
  async launch(inst: ManagedInstance): Promise<void> {
    const generation = ++inst.generation;
    const previous = inst.state;
    let env: NodeJS.ProcessEnv;
    let cwd: string;
    try {
      ({ cwd, env } = preflight(this.ctx.baseDir, inst.template));
      inst.port = await this.choosePort(inst);
    } catch (err) {
      if (generation === inst.generation && inst.state !== 'stopping') this.crashed(inst, generation, (err as Error).message);
      return;
    }
    if (generation !== inst.generation || inst.state === 'stopping' || this.ctx.isClosed()) return;
    env = withInstanceMarkers(env, { port: inst.port, service: inst.service, revision: inst.revision, id: inst.id, stateDir: this.ctx.stateDir });
    const file = this.logFile(inst);
    let fd: number;
    try {
      fd = openLogForAppend(file);
    } catch (err) {
      this.crashed(inst, generation, `cannot open log file ${file}: ${(err as Error).message}`);
      return;
    }
    inst.logOffsetAtStart = logSize(file);
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
    this.ctx.logCap.track(file);
    child.unref();
    resetExitWaiter(inst);
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

  /** Starts the probe loops of `generation` (see instance-probes.ts); `immediate` for an adopted process. */
  startProbes(inst: ManagedInstance, generation: number, immediate: boolean): void {
    startProbes(this.probeContext, inst, generation, immediate);
  }

  /** An adopted process is not our child: no exit event, so poll its pid (and its start time). */
  watchAdopted(inst: ManagedInstance, generation: number): void {
    const pid = inst.pid ?? 0;
    const startedAtMs = inst.startedAtMs;
    inst.exitPoll = setInterval(() => {
      if (adoptedProcessGone(pid, startedAtMs)) {
        this.exited(inst, generation, 'exited (exit code unknown: the process was adopted)', { code: null, signal: null });
      }
    }, this.ctx.adoptedPollMs ?? 500);
    inst.exitPoll.unref();
  }

  /**
   * Stops an instance for good: `beforeStop`, the drain, SIGTERM, SIGKILL after the grace period,
   * then its leftover process group; finally the runtime forgets it.
   */
  async stop(inst: ManagedInstance, request: StopInstanceRequest): Promise<void> {
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
      if (!(await waitExit(inst, graceMs(inst)))) {
        inst.lastError = `did not exit within ${graceMs(inst)} ms of SIGTERM; sent SIGKILL`;
        signalGroup(pid, 'SIGKILL');
        await waitExit(inst, 10_000);
      }
      // Helpers the process left behind in its group go too.
      if (groupAlive(pid)) signalGroup(pid, 'SIGKILL');
    }
    quiesce(inst);
    inst.state = 'stopped';
    inst.pid = undefined;
    this.emit(inst, 'stopping');
    this.ctx.forget(inst);
  }

  // -------------------------------------------------------------------------------------------

  private async choosePort(inst: ManagedInstance): Promise<number> {
    if (inst.port && (await portIsFree(inst.port, this.ctx.host))) return inst.port;
    return this.ctx.allocatePort ? this.ctx.allocatePort() : freePort(this.ctx.host);
  }

  private killForRestart(inst: ManagedInstance, kind: KillReason['kind'], message: string): void {
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
    void waitExit(inst, graceMs(inst)).then((gone) => {
      if (!gone && generation === inst.generation) signalGroup(pid, 'SIGKILL');
    });
  }

  /** Handles the end of a process generation (exit event, spawn error or the adopted-pid poll). */
  private exited(inst: ManagedInstance, generation: number, how: string, exit: Omit<InstanceExit, 'atMs'>): void {
    if (generation !== inst.generation || inst.hasExited) return;
    inst.markExited();
    inst.lastExit = { ...exit, atMs: Date.now() };
    inst.readiness?.stop();
    inst.liveness?.stop();
    if (inst.exitPoll) clearInterval(inst.exitPoll);
    inst.child = undefined;
    if (inst.state === 'stopping' || this.ctx.isClosed()) return;
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
  private crashed(inst: ManagedInstance, generation: number, message: string): void {
    const previous = inst.state;
    const ranMs = Date.now() - inst.startedAtMs;
    inst.consecutiveCrashes = inst.readyOnce && ranMs >= this.ctx.backoff.resetAfterMs ? 1 : inst.consecutiveCrashes + 1;
    inst.state = 'failed';
    inst.lastError = message;
    inst.pid = undefined;
    this.emit(inst, previous);
    if (!inst.restartable) return;
    const delayMs = backoffDelayMs(this.ctx.backoff, inst.consecutiveCrashes);
    inst.restartTimer = setTimeout(() => {
      inst.restartTimer = undefined;
      if (generation !== inst.generation || inst.state !== 'failed' || this.ctx.isClosed()) return;
      inst.restarts += 1;
      inst.restartsSinceReady += 1;
      inst.launching = this.launch(inst);
    }, delayMs);
    inst.restartTimer.unref();
  }

  private logFile(inst: ManagedInstance): string {
    return instanceLogFile(this.ctx.stateDir, inst);
  }

  private snapshot(inst: ManagedInstance): InstanceInfo {
    return instanceSnapshot(inst, this.ctx.host);
  }

  private emit(inst: ManagedInstance, previousState: InstanceState): void {
    this.ctx.emit(inst, previousState);
  }
}
