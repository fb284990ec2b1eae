/**
 * The managed nginx an earlier daemon of the same state directory left serving (it died with
 * `kill -9`, or crashed): nginx's own pid file names the master, its process title says it runs
 * this prefix's configuration, and a record graylane writes beside it says what it was started
 * for. A daemon that starts adopts it when it was started for the same listen address and
 * priority, and stops it otherwise; either way it never starts a second nginx on a port the first
 * still holds.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childrenOf, isNginxMaster, killWorkers, nginxConfFile } from './nginx-process.js';

/** What graylane started a managed nginx for, in `graylane-nginx.json` of its prefix directory. */
export interface NginxRecord {
  /** The master's pid. */
  pid: number;
  /** `host:port` it listens on for clients. */
  listen: string;
  /** The `worker_priority` asked for; null when none was. */
  workerPriority: number | null;
  /** Why that priority could not be given; null when it was, or none was asked. */
  priorityRefused: string | null;
  /** When it started, ms since the epoch. */
  startedAtMs: number;
}

/** A live nginx master of a prefix directory, and its record when one matches it. */
export interface LeftoverNginx {
  /** The master's pid. */
  pid: number;
  /** What it was started for; undefined when no record names this pid (an older graylane's nginx). */
  record: NginxRecord | undefined;
}

const RECORD_FILE = 'graylane-nginx.json';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes the record of the master just started (atomically: a crash leaves the old one or the new). */
export function writeNginxRecord(prefixDir: string, record: NginxRecord): void {
  const file = join(prefixDir, RECORD_FILE);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(record)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** Forgets the record (the master it names was stopped). */
export function removeNginxRecord(prefixDir: string): void {
  rmSync(join(prefixDir, RECORD_FILE), { force: true });
}

function readRecord(prefixDir: string): NginxRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(join(prefixDir, RECORD_FILE), 'utf8')) as Partial<NginxRecord>;
    if (typeof r.pid !== 'number' || typeof r.listen !== 'string') return undefined;
    return {
      pid: r.pid, listen: r.listen,
      workerPriority: typeof r.workerPriority === 'number' ? r.workerPriority : null,
      priorityRefused: typeof r.priorityRefused === 'string' ? r.priorityRefused : null,
      startedAtMs: typeof r.startedAtMs === 'number' ? r.startedAtMs : Date.now(),
    };
  } catch {
    return undefined;
  }
}

/**
 * The nginx master running for `prefixDir`, found by the pid file nginx writes there; undefined
 * when there is none, its pid is gone, or it is some other process (a reused pid is not ours).
 */
export function findLeftoverNginx(prefixDir: string): LeftoverNginx | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(prefixDir, 'nginx.pid'), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isNginxMaster(pid, nginxConfFile(prefixDir))) return undefined;
  const record = readRecord(prefixDir);
  return { pid, record: record?.pid === pid ? record : undefined };
}

/**
 * Stops the nginx master an earlier daemon left running in `prefixDir`: gracefully (SIGQUIT: its
 * workers finish the requests they hold) and with SIGKILL after `timeoutMs`. Returns its pid, or
 * undefined when none runs.
 */
export async function stopLeftoverNginx(options: { prefixDir: string; timeoutMs: number }): Promise<number | undefined> {
  const found = findLeftoverNginx(options.prefixDir);
  if (!found) return undefined;
  const conf = nginxConfFile(options.prefixDir);
  const signal = (s: NodeJS.Signals) => {
    try {
      if (isNginxMaster(found.pid, conf)) process.kill(found.pid, s);
    } catch {
      // Gone between the check and the signal.
    }
  };
  signal('SIGQUIT');
  const killAt = Date.now() + options.timeoutMs;
  while (isNginxMaster(found.pid, conf)) {
    if (Date.now() >= killAt) {
      // nginx's workers outlive a master killed with -9, and would hold the port: them first.
      killWorkers(childrenOf(found.pid));
      signal('SIGKILL');
      const end = Date.now() + 2000;
      while (isNginxMaster(found.pid, conf) && Date.now() < end) await sleep(20);
      break;
    }
    await sleep(20);
  }
  removeNginxRecord(options.prefixDir);
  return found.pid;
}
