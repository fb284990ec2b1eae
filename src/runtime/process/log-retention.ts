/**
 * Deletes the logs of retired instances once their retention has passed. An instance's files are
 * `<id>.log` and its rotated `<id>.log.N`; their newest modification time is when the instance last
 * wrote or was stopped (the runtime touches the log on stop), so retention counts from retirement.
 * A log some process still has open is never deleted, tracked or not (an app left by an earlier
 * daemon, say): its writes would go on into a file nobody can see or cap.
 */
import { readdir, readlink, realpath, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** Arguments of {@link sweepRetiredLogs}. */
export interface SweepRetiredLogsOptions {
  /** The runtime's state directory (logs live in `<stateDir>/logs`). */
  stateDir: string;
  /** Files of a retired instance older than this go. */
  retentionMs: number;
  /** Now, in epoch milliseconds. */
  nowMs: number;
  /** Whether an instance id belongs to a live (tracked) instance, whose logs are never deleted. */
  isLive: (instance: string) => boolean;
}

async function list(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** The instance id of a log file name (`id.log` or `id.log.N`), or undefined for anything else. */
function instanceOf(name: string): string | undefined {
  return /^(.+)\.log(?:\.[0-9]+)?$/.exec(name)?.[1];
}

/** Which of `files` (absolute, resolved paths) some process has open, from /proc (none known without it). */
async function openByAnyProcess(files: Set<string>): Promise<Set<string>> {
  const open = new Set<string>();
  const pids = (await list('/proc')).filter((name) => /^[0-9]+$/.test(name));
  for (const pid of pids) {
    const fds = await list(`/proc/${pid}/fd`);
    const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
    for (const target of targets) if (files.has(target)) open.add(target);
  }
  return open;
}

/** Deletes retired instances' log files past their retention; returns the deleted paths. */
export async function sweepRetiredLogs(options: SweepRetiredLogsOptions): Promise<string[]> {
  const root = path.join(options.stateDir, 'logs');
  const deleted: string[] = [];
  for (const service of await list(root)) {
    for (const revision of await list(path.join(root, service))) {
      // Resolved, to compare with the targets of /proc's descriptor links.
      const dir = await realpath(path.join(root, service, revision)).catch(() => path.join(root, service, revision));
      const groups = new Map<string, { files: string[]; newestMs: number }>();
      for (const name of await list(dir)) {
        const instance = instanceOf(name);
        if (instance === undefined || options.isLive(instance)) continue;
        const st = await stat(path.join(dir, name)).catch(() => undefined);
        if (!st?.isFile()) continue;
        const group = groups.get(instance) ?? { files: [], newestMs: 0 };
        group.files.push(path.join(dir, name));
        group.newestMs = Math.max(group.newestMs, st.mtimeMs);
        groups.set(instance, group);
      }
      const expired = [...groups.values()].filter((group) => options.nowMs - group.newestMs >= options.retentionMs);
      // Only when something is due: the scan of /proc costs a few ms.
      const open = expired.length > 0 ? await openByAnyProcess(new Set(expired.flatMap((group) => group.files))) : new Set<string>();
      for (const group of expired) {
        if (group.files.some((file) => open.has(file))) continue;
        for (const file of group.files) {
          await rm(file, { force: true });
          deleted.push(file);
        }
      }
      // Empty revision and service directories go too; a non-empty one refuses, which is fine.
      await rmdir(dir).catch(() => undefined);
    }
    await rmdir(path.join(root, service)).catch(() => undefined);
  }
  return deleted;
}
