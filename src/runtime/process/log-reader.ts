/**
 * Reads and follows instance log files written by the process runtime (see log-files.ts). Files
 * are read in bounded chunks and lines are yielded as they are found, so a read of any size holds
 * a chunk and a line in memory, never a file.
 */
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogLine, ReadLogsRequest } from '../runtime.js';
import type { LogCheckpoint } from './log-cap.js';

/** Arguments of {@link readLogFiles}. */
export interface ReadLogFilesOptions extends ReadLogsRequest {
  /** The runtime's state directory. */
  stateDir: string;
  /** How often a follow polls for new bytes and new files. */
  pollMs?: number;
  /** Rotated files kept, so a read can start with the oldest. */
  keepFiles: number;
  /** Size checkpoints of a log file (current or rotated), for `sinceMs` (see log-cap.ts); none: whole files by time. */
  checkpointsOf?: (file: string) => readonly LogCheckpoint[];
}

const CHUNK_BYTES = 64 * 1024;
/** A line longer than this (a binary blob, output without newlines) is yielded in pieces of this size. */
export const MAX_LINE_CHARS = 64 * 1024;

interface Tail {
  file: string;
  revision: string;
  instance: string;
  offset: number;
  partial: string;
  decoder: StringDecoder;
}

/** A position in an instance's files, oldest file first (`parts[0]` is `x.log.N`, the last is `x.log`). */
interface Position {
  part: number;
  offset: number;
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch {
    return undefined;
  }
}

/** Chunks of bytes [from, to) of a file; stops early (returning the bytes it missed) if the file shrank. */
async function* readChunks(file: string, from: number, to: number): AsyncGenerator<Buffer, number> {
  if (to <= from) return 0;
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return to - from;
  }
  try {
    let pos = from;
    while (pos < to) {
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, to - pos));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, pos);
      if (bytesRead === 0) return to - pos;
      pos += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
    return 0;
  } finally {
    await handle.close();
  }
}

async function listLogs(dir: string, service: string, revision: string | undefined): Promise<{ file: string; revision: string; instance: string; mtimeMs: number }[]> {
  // Names come from API queries: nothing may step out of the service's log directory.
  if ([service, revision].some((name) => name !== undefined && (name.includes('/') || name.includes('\\') || name === '.' || name === '..' || name === ''))) return [];
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

function* splitLines(tail: Tail, service: string, chunk: Buffer): Generator<LogLine> {
  const parts = (tail.partial + tail.decoder.write(chunk)).split('\n');
  tail.partial = parts.pop() ?? '';
  for (const line of parts) yield* cutLong(tail, service, line);
  // Output without newlines must not pile up in memory: pass it on in pieces.
  while (tail.partial.length > MAX_LINE_CHARS) {
    yield { service, revision: tail.revision, instance: tail.instance, line: tail.partial.slice(0, MAX_LINE_CHARS) };
    tail.partial = tail.partial.slice(MAX_LINE_CHARS);
  }
}

function* cutLong(tail: Tail, service: string, line: string): Generator<LogLine> {
  for (let at = 0; at === 0 || at < line.length; at += MAX_LINE_CHARS) {
    yield { service, revision: tail.revision, instance: tail.instance, line: line.slice(at, at + MAX_LINE_CHARS) };
  }
}

function* flushPartial(tail: Tail, service: string): Generator<LogLine> {
  const rest = tail.partial + tail.decoder.end();
  tail.partial = '';
  if (rest) yield { service, revision: tail.revision, instance: tail.instance, line: rest };
}

/** Reads a range of one file into lines; a file that shrank meanwhile (rotated) is said, not hidden. */
async function* readInto(tail: Tail, service: string, file: string, from: number, to: number): AsyncGenerator<LogLine> {
  const chunks = readChunks(file, from, to);
  let next = await chunks.next();
  while (!next.done) {
    yield* splitLines(tail, service, next.value);
    next = await chunks.next();
  }
  if (next.value > 0) {
    yield* flushPartial(tail, service);
    yield { service, revision: tail.revision, instance: tail.instance, line: `graylane: ${next.value} bytes of ${path.basename(file)} not shown: the log was rotated while being read` };
  }
}

/** Where the last `lines` lines of `parts` start, scanning backwards in chunks. */
async function tailStart(parts: { file: string; size: number }[], lines: number): Promise<Position> {
  let newlines = 0;
  let trailing = true;
  for (let part = parts.length - 1; part >= 0; part -= 1) {
    const { file, size } = parts[part]!;
    if (size === 0) continue;
    const handle = await open(file, 'r').catch(() => undefined);
    if (!handle) continue;
    try {
      let end = size;
      const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
      while (end > 0) {
        const start = Math.max(0, end - CHUNK_BYTES);
        const { bytesRead } = await handle.read(buffer, 0, end - start, start);
        for (let i = bytesRead - 1; i >= 0; i -= 1) {
          if (buffer[i] !== 0x0a) {
            trailing = false;
            continue;
          }
          // The newline that ends the very last line separates nothing.
          if (trailing) {
            trailing = false;
            continue;
          }
          newlines += 1;
          if (newlines === lines) return { part, offset: start + i + 1 };
        }
        end = start;
      }
    } finally {
      await handle.close();
    }
  }
  return { part: 0, offset: 0 };
}

/**
 * Where lines written since `sinceMs` start: files last changed before then are skipped; in the
 * first one changed since, the last checkpoint at or before `sinceMs` gives the offset (without
 * checkpoints, a log older than this daemon's watch, the whole file is shown).
 */
function sinceStart(parts: { file: string; size: number; mtimeMs: number }[], sinceMs: number, checkpointsOf: (file: string) => readonly LogCheckpoint[]): Position {
  for (let part = 0; part < parts.length; part += 1) {
    const { file, size, mtimeMs } = parts[part]!;
    if (mtimeMs < sinceMs) continue;
    let offset = 0;
    for (const point of checkpointsOf(file)) if (point.atMs <= sinceMs && point.offset <= size) offset = point.offset;
    return { part, offset };
  }
  return { part: parts.length - 1, offset: parts.at(-1)!.size };
}

const later = (a: Position, b: Position): Position => (a.part > b.part || (a.part === b.part && a.offset >= b.offset) ? a : b);

/**
 * Yields the lines of every instance log of a service (optionally one revision): rotated files
 * oldest first, then the current file; `tailLines` and `sinceMs` start later (per instance). With
 * `follow`, keeps polling for new lines, new instances and rotations (after a truncation, the rest
 * of the old content is read from `.1`).
 */
export async function* readLogFiles(options: ReadLogFilesOptions): AsyncGenerator<LogLine> {
  const { stateDir, service, revision, signal } = options;
  const pollMs = options.pollMs ?? 200;
  const tails = new Map<string, Tail>();

  const startTail = async function* (entry: { file: string; revision: string; instance: string }, fromStart: boolean): AsyncGenerator<LogLine> {
    const tail: Tail = { ...entry, offset: 0, partial: '', decoder: new StringDecoder('utf8') };
    tails.set(entry.file, tail);
    if (options.sinceBytes !== undefined && !fromStart) {
      const size = (await sizeOf(entry.file)) ?? 0;
      tail.offset = Math.min(options.sinceBytes, size);
      yield* readInto(tail, service, entry.file, tail.offset, size);
      tail.offset = size;
      return;
    }
    const parts: { file: string; size: number; mtimeMs: number }[] = [];
    for (let i = options.keepFiles; i >= 0; i -= 1) {
      const file = i === 0 ? entry.file : `${entry.file}.${i}`;
      const st = await stat(file).catch(() => undefined);
      if (st) parts.push({ file, size: st.size, mtimeMs: st.mtimeMs });
    }
    if (parts.at(-1)?.file !== entry.file) parts.push({ file: entry.file, size: 0, mtimeMs: 0 });
    let start: Position = { part: 0, offset: 0 };
    if (!fromStart && options.tailLines !== undefined) start = later(start, await tailStart(parts, options.tailLines));
    if (!fromStart && options.sinceMs !== undefined) start = later(start, sinceStart(parts, options.sinceMs, options.checkpointsOf ?? (() => [])));
    if (!fromStart && options.tailLines === 0) start = { part: parts.length - 1, offset: parts.at(-1)!.size };
    for (let part = start.part; part < parts.length; part += 1) {
      const { file, size } = parts[part]!;
      yield* readInto(tail, service, file, part === start.part ? start.offset : 0, size);
      // A rotated file ends where the next begins, mid-line or not.
      if (part < parts.length - 1) yield* flushPartial(tail, service);
    }
    tail.offset = parts.at(-1)!.size;
  };

  for (const entry of await listLogs(stateDir, service, revision)) {
    yield* startTail(entry, false);
    if (!options.follow) yield* flushPartial(tails.get(entry.file)!, service);
  }
  if (!options.follow) return;
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
        if (rotatedSize > tail.offset) yield* readInto(tail, service, rotated, tail.offset, rotatedSize);
        tail.offset = 0;
      }
      if (size > tail.offset) {
        yield* readInto(tail, service, tail.file, tail.offset, size);
        tail.offset = size;
      }
    }
  }
}
