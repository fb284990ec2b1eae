/**
 * App processes an earlier daemon started and nobody remembers (the state file was moved aside or
 * lost). Every child carries GRAYLANE_STATE_DIR and GRAYLANE_INSTANCE in its environment, so
 * /proc finds them; the daemon then adopts or stops them instead of starting duplicates.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AdoptRecord } from '../runtime.js';
import { groupAlive, processArgv, processStartMs, signalGroup } from './proc-fs.js';

/** Environment variable naming the state directory of the daemon that started a process. */
export const STATE_DIR_ENV = 'GRAYLANE_STATE_DIR';

/** An app process found through its markers. */
export interface Orphan {
  pid: number;
  /** GRAYLANE_INSTANCE */
  instance: string;
  /** GRAYLANE_SERVICE */
  service: string;
  /** GRAYLANE_REVISION */
  revision: string;
  /** PORT */
  port: number;
  startedAtMs: number;
  argv: string[];
}

function environ(pid: number): Map<string, string> | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
    return new Map(raw.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const));
  } catch {
    return undefined;
  }
}

function groupOf(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

/**
 * Process-group leaders (the processes graylane spawned; their own children share the markers)
 * started for `stateDir` whose instance id is not in `known`. Empty where /proc is missing.
 */
export function findOrphans(options: { stateDir: string; known: ReadonlySet<string> }): Orphan[] {
  const dir = resolve(options.stateDir);
  let pids: number[];
  try {
    pids = readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number);
  } catch {
    return [];
  }
  const found: Orphan[] = [];
  for (const pid of pids) {
    if (pid === process.pid || groupOf(pid) !== pid) continue;
    const env = environ(pid);
    const instance = env?.get('GRAYLANE_INSTANCE');
    if (!env || env.get(STATE_DIR_ENV) !== dir || !instance || options.known.has(instance)) continue;
    const startedAtMs = processStartMs(pid);
    const argv = processArgv(pid);
    if (startedAtMs === undefined || !argv) continue;
    found.push({
      pid, instance, service: env.get('GRAYLANE_SERVICE') ?? '', revision: env.get('GRAYLANE_REVISION') ?? '',
      port: Number(env.get('PORT') ?? 0), startedAtMs, argv,
    });
  }
  return found.sort((a, b) => a.pid - b.pid);
}

/** What the runtime needs to adopt an orphan; the template comes from the App when it names the revision. */
export function orphanAdoptRecord(orphan: Orphan, template: AdoptRecord['template']): AdoptRecord {
  return {
    id: orphan.instance, service: orphan.service, revision: orphan.revision, pid: orphan.pid, port: orphan.port,
    startedAtMs: orphan.startedAtMs, command: template?.command ?? orphan.argv, ...(template ? { template } : {}), wasReady: false,
  };
}

/** Stops orphans' process groups: SIGTERM, then SIGKILL after graceMs. Resolves when all are gone. */
export async function stopOrphans(orphans: Orphan[], graceMs: number): Promise<void> {
  for (const o of orphans) signalGroup(o.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (orphans.some((o) => groupAlive(o.pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const o of orphans) if (groupAlive(o.pid)) signalGroup(o.pid, 'SIGKILL');
  while (orphans.some((o) => groupAlive(o.pid))) await new Promise((r) => setTimeout(r, 20));
}
