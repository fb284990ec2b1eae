/** Reads and follows instance log files written by the process runtime (see log-files.ts). */
import { existsSync } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogLine, ReadLogsRequest } from '../runtime.js';

/** Arguments of {@link readLogFiles}. */
export interface ReadLogFilesOptions extends ReadLogsRequest {
  /** The runtime's state directory. */
  stateDir: string;
  /** How often a follow polls for new bytes and new files. */
  pollMs?: number;
  /** Rotated files kept, so a read can start with the oldest. */
  keepFiles: number;
}

interface Tail {
  file: string;
  revision: string;
  instance: string;
  offset: number;
  partial: string;
}

async function readRange(file: string, from: number, to: number): Promise<string> {
  if (to <= from) return '';
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(to - from);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch {
    return undefined;
  }
}

async function listLogs(dir: string, service: string, revision: string | undefined): Promise<{ file: string; revision: string; instance: string; mtimeMs: number }[]> {
  const base = path.join(dir, 'logs', service);
  let revisions: string[];
  try {
    revisions = revision !== undefined ? [revision] : await readdir(base);
  } catch {
    return [];
  }
  const found = [];
  for (const rev of revisions) {
    let names: string[];
    try {
      names = await readdir(path.join(base, rev));
    } catch {
      continue;
    }
    for (const name of names) {
      if (!name.endsWith('.log')) continue;
      const file = path.join(base, rev, name);
      const st = await stat(file).catch(() => undefined);
      if (st) found.push({ file, revision: rev, instance: name.slice(0, -4), mtimeMs: st.birthtimeMs || st.mtimeMs });
    }
  }
  // Oldest instance first, so the output reads roughly in time order.
  return found.sort((a, b) => a.mtimeMs - b.mtimeMs || a.file.localeCompare(b.file));
}

function* splitLines(tail: Tail, service: string, text: string): Generator<LogLine> {
  const parts = (tail.partial + text).split('\n');
  tail.partial = parts.pop() ?? '';
  for (const line of parts) yield { service, revision: tail.revision, instance: tail.instance, line };
}

/**
 * Yields the lines of every instance log of a service (optionally one revision): rotated files
 * oldest first, then the current file. With `follow`, keeps polling for new lines, new instances
 * and rotations (after a copy-truncate, the rest of the old content is read from `.1`).
 */
export async function* readLogFiles(options: ReadLogFilesOptions): AsyncGenerator<LogLine> {
  const { stateDir, service, revision, signal } = options;
  const pollMs = options.pollMs ?? 200;
  const tails = new Map<string, Tail>();

  const startTail = async function* (entry: { file: string; revision: string; instance: string }, fromStart: boolean): AsyncGenerator<LogLine> {
    const tail: Tail = { ...entry, offset: 0, partial: '' };
    tails.set(entry.file, tail);
    const size = (await sizeOf(entry.file)) ?? 0;
    if (options.sinceBytes !== undefined && !fromStart) {
      tail.offset = Math.min(options.sinceBytes, size);
    } else {
      for (let i = options.keepFiles; i >= 1; i -= 1) {
        const rotated = `${entry.file}.${i}`;
        if (!existsSync(rotated)) continue;
        const text = await readRange(rotated, 0, (await sizeOf(rotated)) ?? 0);
        yield* splitLines(tail, service, text);
      }
    }
    yield* splitLines(tail, service, await readRange(entry.file, tail.offset, size));
    tail.offset = size;
  };

  for (const entry of await listLogs(stateDir, service, revision)) yield* startTail(entry, false);
  if (!options.follow) {
    for (const tail of tails.values()) {
      if (tail.partial) yield { service, revision: tail.revision, instance: tail.instance, line: tail.partial };
    }
    return;
  }
  while (!signal?.aborted) {
    try {
      await sleep(pollMs, undefined, { signal });
    } catch {
      return;
    }
    for (const entry of await listLogs(stateDir, service, revision)) {
      // A new instance appeared while following: show it from its first line.
      if (!tails.has(entry.file)) yield* startTail(entry, true);
    }
    for (const tail of tails.values()) {
      const size = await sizeOf(tail.file);
      if (size === undefined) continue;
      if (size < tail.offset) {
        const rotated = `${tail.file}.1`;
        const rotatedSize = (await sizeOf(rotated)) ?? 0;
        if (rotatedSize > tail.offset) yield* splitLines(tail, service, await readRange(rotated, tail.offset, rotatedSize));
        tail.offset = 0;
      }
      if (size > tail.offset) {
        yield* splitLines(tail, service, await readRange(tail.file, tail.offset, size));
        tail.offset = size;
      }
    }
  }
}
