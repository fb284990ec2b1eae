/**
 * The process runtime's record of one replica: its process generation, its timers and probes, and
 * the small helpers every part of the runtime applies to it (snapshot, exit wait, signals, quiesce).
 */
import type { ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import type { ProcessTemplate } from '../../documents/schema.js';
import type { ProbeLoop } from '../probe-loop.js';
import type { InstanceExit, InstanceInfo, InstanceState, ProbeResult } from '../runtime.js';
import { logFilePath } from './log-files.js';

/** Why the runtime is killing a process itself, so that its exit is not taken for a crash. */
export interface KillReason {
  /** `liveness`: the liveness probe failed; `port`: another process holds the instance's port. */
  kind: 'liveness' | 'port';
  /** What the instance's `lastError` says about it. */
  message: string;
}

/** One replica the process runtime manages (started or adopted). */
export interface ManagedInstance {
  /** Instance id, unique per runtime. */
  id: string;
  /** Service it belongs to. */
  service: string;
  /** Revision it runs. */
  revision: string;
  /** What it is launched from (for an adopted instance without a record, just its command). */
  template: ProcessTemplate;
  /** False for an adopted instance without a recorded template: it cannot be relaunched. */
  restartable: boolean;
  /** Port it listens on; 0 asks the next launch for a fresh one. */
  port: number;
  /** Pid of the current process (its group leader), when one runs. */
  pid: number | undefined;
  /** Lifecycle state, as reported. */
  state: InstanceState;
  /** Relaunches over its life. */
  restarts: number;
  /** Relaunches since it was last ready; a ready verdict sets it back to 0. */
  restartsSinceReady: number;
  /** When the current process started (from /proc where readable). */
  startedAtMs: number;
  /** The last thing that went wrong, for `status`. */
  lastError: string | undefined;
  /** How the last process ended. */
  lastExit: InstanceExit | undefined;
  /** The last readiness check. */
  lastProbe: ProbeResult | undefined;
  /** Bumped on every launch; events of an older process generation are ignored. */
  generation: number;
  /** The child of this generation; undefined for an adopted process (not our child) or after exit. */
  child: ChildProcess | undefined;
  /** Resolves when the current generation's process has exited. */
  exited: Promise<void>;
  /** Resolves {@link exited}; set by {@link resetExitWaiter}. */
  markExited: () => void;
  /** Whether the current generation's process has exited. */
  hasExited: boolean;
  /** Whether the current process has been ready at least once. */
  readyOnce: boolean;
  /** Crashes in a row, for the back-off; reset by a long enough ready run. */
  consecutiveCrashes: number;
  /** Checks in a row that found the instance's port held by another process. */
  foreignPortStrikes: number;
  /** Why we are killing the process ourselves (liveness, stolen port), for the exit handler. */
  killReason: KillReason | undefined;
  /** Log size when the current process started: its crash report quotes only what it wrote. */
  logOffsetAtStart: number;
  /** The readiness probe loop of the current generation. */
  readiness: ProbeLoop | undefined;
  /** The liveness probe loop of the current generation, if the template has one. */
  liveness: ProbeLoop | undefined;
  /** Polls an adopted process for its exit. */
  exitPoll: NodeJS.Timeout | undefined;
  /** The pending relaunch after a crash. */
  restartTimer: NodeJS.Timeout | undefined;
  /** The launch in progress; a stop waits for it. */
  launching: Promise<void> | undefined;
  /** The stop in progress; every stop request shares it. */
  stopping: Promise<void> | undefined;
}

/** A fresh record in state `starting`, with no process yet. */
export function newInstance(id: string, service: string, revision: string, template: ProcessTemplate): ManagedInstance {
  const inst: ManagedInstance = {
    id, service, revision, template, restartable: true, port: 0, pid: undefined, state: 'starting', restarts: 0,
    restartsSinceReady: 0, startedAtMs: Date.now(), lastError: undefined, lastExit: undefined, lastProbe: undefined, generation: 0, child: undefined, exited: Promise.resolve(),
    markExited: () => undefined, hasExited: false, readyOnce: false, consecutiveCrashes: 0, foreignPortStrikes: 0,
    killReason: undefined, logOffsetAtStart: 0, readiness: undefined, liveness: undefined, exitPoll: undefined,
    restartTimer: undefined, launching: undefined, stopping: undefined,
  };
  resetExitWaiter(inst);
  return inst;
}

/** Arms a new exit waiter, for a new process generation. */
export function resetExitWaiter(inst: ManagedInstance): void {
  inst.hasExited = false;
  inst.exited = new Promise<void>((resolve) => {
    inst.markExited = () => {
      inst.hasExited = true;
      resolve();
    };
  });
}

/** Resolves true once the current process has exited, false after `timeoutMs`. */
export function waitExit(inst: ManagedInstance, timeoutMs: number): Promise<boolean> {
  if (inst.hasExited) return Promise.resolve(true);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  return Promise.race([inst.exited.then(() => true), timeout]).finally(() => clearTimeout(timer));
}

/** Time between SIGTERM and SIGKILL: the template's grace period, 30 s by default. */
export function graceMs(inst: ManagedInstance): number {
  return (inst.template.terminationGracePeriodSeconds ?? 30) * 1000;
}

/** Stops every timer of an instance, leaving its process alone. */
export function quiesce(inst: ManagedInstance): void {
  inst.readiness?.stop();
  inst.liveness?.stop();
  if (inst.exitPoll) clearInterval(inst.exitPoll);
  if (inst.restartTimer) clearTimeout(inst.restartTimer);
}

/** The instance's current log file under `stateDir`. */
export function instanceLogFile(stateDir: string, inst: ManagedInstance): string {
  return logFilePath(stateDir, inst.service, inst.revision, inst.id);
}

/** Size of a log file; 0 when it does not exist yet. */
export function logSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** What the runtime reports of an instance: a copy, safe to keep. */
export function instanceSnapshot(inst: ManagedInstance, host: string): InstanceInfo {
  const info: InstanceInfo = {
    id: inst.id, service: inst.service, revision: inst.revision, address: `${host}:${inst.port}`,
    state: inst.state, restarts: inst.restarts, startedAtMs: inst.startedAtMs, restartsSinceReady: inst.restartsSinceReady,
  };
  if (inst.pid !== undefined) info.pid = inst.pid;
  if (inst.lastError !== undefined) info.lastError = inst.lastError;
  if (inst.lastExit !== undefined) info.lastExit = { ...inst.lastExit };
  if (inst.lastProbe !== undefined) info.lastProbe = { ...inst.lastProbe };
  if (inst.readyOnce && inst.killReason === undefined) info.readyBefore = true;
  return info;
}
