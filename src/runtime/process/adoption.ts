/**
 * Adoption of processes a previous daemon started: what a daemon persists so that its successor can
 * adopt an instance, and the checks that the pid recorded is still that process (not a reused pid).
 */
import path from 'node:path';
import type { ProcessTemplate } from '../../documents/schema.js';
import type { AdoptRecord, AdoptRejection, InstanceInfo } from '../runtime.js';
import { isAlive, processArgv, processStartMs } from './proc-fs.js';

/** Clock-tick rounding and the once-read boot time make /proc start times exact only to ~1 s. */
const START_TIME_TOLERANCE_MS = 1_000;

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

/**
 * Why `record` cannot be adopted, or undefined when it can: already tracked (`tracked`), its
 * process is gone, or its pid now runs another program or started at another time (pid reuse).
 */
export function adoptRefusal(record: AdoptRecord, tracked: boolean): Omit<AdoptRejection, 'record'> | undefined {
  if (tracked) return { reason: 'duplicate', message: `instance ${record.id} is already tracked` };
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

/**
 * Whether an adopted process (not our child, so no exit event) has ended: its pid is gone, or now
 * belongs to a process that started at another time.
 */
export function adoptedProcessGone(pid: number, startedAtMs: number): boolean {
  const start = isAlive(pid) ? processStartMs(pid) : undefined;
  return start === undefined ? !isAlive(pid) : Math.abs(start - startedAtMs) > START_TIME_TOLERANCE_MS;
}
