/**
 * Linux /proc readers: process identity (start time, argv, liveness) and who owns a listening port.
 * Every function degrades to `undefined` where /proc is missing, so callers can tell "unknown" apart.
 */
import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { open, readFile, readdir, readlink } from 'node:fs/promises';

// USER_HZ is 100 on every mainstream Linux build; node cannot call sysconf(_SC_CLK_TCK).
const CLOCK_TICKS_PER_S = 100;

/** Fields of a /proc/<pid>/stat text after the command name (which may contain spaces and parentheses). */
function parseStat(text: string): string[] {
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/**
 * A stat line is ~300 bytes (a 15-character command name at most). /proc files report size 0, so
 * readFile reads them through a fresh 64 KB buffer each: reading every process's stat that way
 * allocated 6 MB per scan on a host with 100 processes, 60 MB with ten instances starting at once.
 */
const STAT_BYTES = 1024;
const statBuffer = Buffer.allocUnsafe(STAT_BYTES);

/** A small /proc file's text, read into `buffer` (again into a larger one in the unlikely case it fills it). */
export function readSmallFileSync(path: string, buffer: Buffer = statBuffer): string {
  const fd = openSync(path, 'r');
  try {
    const bytesRead = readSync(fd, buffer, 0, buffer.length, 0);
    return bytesRead < buffer.length ? buffer.toString('latin1', 0, bytesRead) : readSmallFileSync(path, Buffer.allocUnsafe(buffer.length * 4));
  } finally {
    closeSync(fd);
  }
}

/** {@link readSmallFileSync}, asynchronously, with a buffer of its own. */
export async function readSmallFile(path: string, size = STAT_BYTES): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(size);
    const { bytesRead } = await handle.read(buffer, 0, size, 0);
    return bytesRead < size ? buffer.toString('latin1', 0, bytesRead) : await readSmallFile(path, size * 4);
  } finally {
    await handle.close();
  }
}

/** Fields of /proc/<pid>/stat after the command name, or undefined if it is gone or unreadable. */
function statFields(pid: number): string[] | undefined {
  try {
    return parseStat(readSmallFileSync(`/proc/${pid}/stat`));
  } catch {
    return undefined;
  }
}

const PID_DIR = /^\d+$/;

/** Whether stat fields describe a live (not zombie) member of process group `pgid`. */
function liveMemberOf(fields: string[] | undefined, pgid: number): boolean {
  // After pid and comm: state(0) ppid(1) pgrp(2).
  return fields !== undefined && Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X';
}

let bootTimeMs: number | undefined;
function bootMs(): number | undefined {
  if (bootTimeMs !== undefined) return bootTimeMs;
  try {
    // /proc/uptime has 10 ms resolution where /proc/stat's btime has whole seconds; computed once
    // per daemon so every start time it reports shares one reference.
    const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    if (Number.isFinite(uptimeS)) bootTimeMs = Math.round(Date.now() - uptimeS * 1000);
  } catch {
    return undefined;
  }
  return bootTimeMs;
}

/** Wall-clock ms at which the process started, from /proc/<pid>/stat field 22. */
export function processStartMs(pid: number): number | undefined {
  const fields = statFields(pid);
  const boot = bootMs();
  // Field 22 overall is index 19 once pid and (comm) are removed.
  const ticks = fields?.[19];
  if (!fields || boot === undefined || ticks === undefined) return undefined;
  return boot + (Number(ticks) * 1000) / CLOCK_TICKS_PER_S;
}

/** The process's argv, or undefined if it is gone or unreadable. */
export function processArgv(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const parts = raw.split('\0');
    if (parts.at(-1) === '') parts.pop();
    return parts;
  } catch {
    return undefined;
  }
}

/** Whether the pid names a live (not zombie) process. Works without /proc too (signal 0). */
export function isAlive(pid: number): boolean {
  const fields = statFields(pid);
  if (fields) return fields[0] !== 'Z' && fields[0] !== 'X';
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether any process of the group is still alive (zombies excluded when /proc is there). */
export function groupAlive(pgid: number): boolean {
  // Signal 0 answers at once for a group with no process left, the usual case after a stop; only a
  // group that still has one is looked for in /proc (every process of the host), where a zombie
  // does not count.
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  return groupMembers(pgid)?.length !== 0;
}

/** Live members of a process group, or undefined without /proc. */
export function groupMembers(pgid: number): number[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  return entries.filter((e) => PID_DIR.test(e)).map(Number).filter((pid) => liveMemberOf(statFields(pid), pgid));
}

/**
 * Inodes of sockets listening on `port` (IPv4 and IPv6), or undefined without /proc. Read
 * asynchronously: /proc/net/tcp lists every socket of the host (thousands on a busy one), and the
 * caller shares its event loop with the router.
 */
export async function listeningInodes(port: number): Promise<Set<string> | undefined> {
  const inodes = new Set<string>();
  let readAny = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    readAny = true;
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      // st 0A is TCP_LISTEN; column 9 is the inode.
      if (!local || cols[3] !== '0A' || cols[9] === undefined) continue;
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.add(cols[9]);
    }
  }
  return readAny ? inodes : undefined;
}

const STAT_READS_IN_FLIGHT = 16;

/** Live members of a process group, or undefined without /proc; asynchronous like {@link listeningInodes}. */
async function groupMembersAsync(pgid: number): Promise<number[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const pids = entries.filter((e) => PID_DIR.test(e)).map(Number);
  const members: number[] = [];
  // A few reads in flight, not one per process of the host: each holds a file handle.
  for (let i = 0; i < pids.length; i += STAT_READS_IN_FLIGHT) {
    const batch = pids.slice(i, i + STAT_READS_IN_FLIGHT);
    const stats = await Promise.all(batch.map((pid) => readSmallFile(`/proc/${pid}/stat`).then(parseStat, () => undefined)));
    batch.forEach((pid, j) => liveMemberOf(stats[j], pgid) && members.push(pid));
  }
  return members;
}

/** Who listens on the port: our process group, someone else, nobody, or unknown (no /proc). */
export type PortOwnership = 'ours' | 'foreign' | 'none' | 'unknown';

/** Whether process `pid` holds one of the socket `inodes` (false when its fds cannot be read). */
async function holdsSocket(pid: number, inodes: Set<string>): Promise<boolean> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  const links = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return links.some((link) => {
    const m = /^socket:\[(\d+)\]$/.exec(link);
    return m?.[1] !== undefined && inodes.has(m[1]);
  });
}

/**
 * Checks that a member of process group `pgid` holds a listening socket on `port`. The leader (the
 * process graylane started) is asked first: it is the usual holder, and finding the group's other
 * members means reading the stat of every process of the host, on the event loop the router shares.
 */
export async function portOwnership(port: number, pgid: number): Promise<PortOwnership> {
  const inodes = await listeningInodes(port);
  if (!inodes) return 'unknown';
  if (inodes.size === 0) return 'none';
  if (await holdsSocket(pgid, inodes)) return 'ours';
  const members = await groupMembersAsync(pgid);
  if (!members) return 'unknown';
  for (const pid of members) if (pid !== pgid && (await holdsSocket(pid, inodes))) return 'ours';
  return 'foreign';
}

/** Signals a process group; the helpers a process started go with it. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
