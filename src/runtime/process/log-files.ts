/**
 * Per-instance log files. Children write straight into the file (an O_APPEND fd, never a pipe) so
 * their output survives the daemon; rotation therefore copies then truncates (as logrotate's
 * copytruncate): lines written between the copy and the truncate are lost, a rare, bounded loss.
 */
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';

/** Size-based rotation settings. */
export interface LogRotation {
  /** Rotate when the current file exceeds this size. */
  maxBytes: number;
  /** Rotated files kept (`x.log.1` newest … `x.log.N` oldest). */
  keepFiles: number;
}

export const DEFAULT_LOG_ROTATION: LogRotation = { maxBytes: 10 * 1024 * 1024, keepFiles: 3 };

/** `<stateDir>/logs/<service>/<revision>/<instance>.log` */
export function logFilePath(stateDir: string, service: string, revision: string, instance: string): string {
  return path.join(stateDir, 'logs', service, revision, `${instance}.log`);
}

/** Opens (creating directories) the log for appending; the caller hands the fd to the child and closes its copy. */
export function openLogForAppend(file: string): number {
  mkdirSync(path.dirname(file), { recursive: true });
  return openSync(file, 'a');
}

/** Rotates `file` if it is larger than `maxBytes`; returns whether it did. */
export function rotateIfNeeded(file: string, rotation: LogRotation): boolean {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return false;
  }
  if (size <= rotation.maxBytes) return false;
  if (rotation.keepFiles <= 0) {
    truncateSync(file, 0);
    return true;
  }
  rmSync(`${file}.${rotation.keepFiles}`, { force: true });
  for (let i = rotation.keepFiles - 1; i >= 1; i -= 1) {
    if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
  }
  copyFileSync(file, `${file}.1`);
  truncateSync(file, 0);
  return true;
}

/** The last `maxLines` lines of a file after byte `fromOffset` (reading at most `maxBytes`), for error messages. */
export function lastLines(file: string, maxLines: number, maxBytes = 4096, fromOffset = 0): string[] {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = statSync(file).size;
    // A rotation since `fromOffset` truncated the file: everything in it is recent.
    const from = fromOffset <= size ? fromOffset : 0;
    const length = Math.min(size - from, maxBytes);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const lines = buffer.toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    // The first line may be cut by the byte window; drop it unless the window starts at `from`.
    if (size - from > length) lines.shift();
    return lines.slice(-maxLines);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
