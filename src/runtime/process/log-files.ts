/**
 * Per-instance log files. Children write straight into the file (an O_APPEND fd, never a pipe) so
 * their output survives the daemon (`kill -9`) and a successor can adopt them. The size cap is
 * therefore enforced from outside the writer, by truncating the file it appends to: see
 * {@link rotateLog} and log-cap.ts, which runs it off the event loop's hot path as soon as a file
 * grows.
 *
 * Cap semantics, per instance: at most `keepFiles` rotated files of at most `maxBytes` each (plus a
 * marker line), and a current file rotated once it reaches 15/16 of `maxBytes`. The current file
 * can overshoot by what the app writes between the growth and the truncation (the reaction time
 * times the write rate: tens of MB at GB/s for a few ms); it never grows further, because a file
 * found at twice the cap is truncated at once without copying. Whatever is not kept is said in
 * the log: a line `graylane: N bytes of log dropped ...`.
 */
import { closeSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { appendFile, open, rename, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** Size-based rotation settings of an instance's log. */
export interface LogRotation {
  /** A rotated file holds at most this many bytes; the current file is rotated a little before it reaches this. */
  maxBytes: number;
  /** Rotated files kept (`x.log.1` newest … `x.log.N` oldest); 0 truncates in place. */
  keepFiles: number;
}

/** 10 MiB × (3 rotated + 1 current): at most 40 MiB per instance. */
export const DEFAULT_LOG_ROTATION: LogRotation = { maxBytes: 10 * 1024 * 1024, keepFiles: 3 };

/** Logs of retired instances are deleted this long after the instance stopped. */
export const DEFAULT_LOG_RETENTION_MS = 24 * 60 * 60 * 1000;

/** The copy and newline search work in bounded pieces, never a whole file in memory. */
const COPY_CHUNK_BYTES = 1024 * 1024;
const NEWLINE_SEARCH_BYTES = 64 * 1024;
/** Small catch-up copies after the main one narrow the window in which lines can be lost. */
const CATCH_UP_ROUNDS = 4;

/** `<stateDir>/logs/<service>/<revision>/<instance>.log` */
export function logFilePath(stateDir: string, service: string, revision: string, instance: string): string {
  return path.join(stateDir, 'logs', service, revision, `${instance}.log`);
}

/** Opens (creating directories) the log for appending; the caller hands the fd to the child and closes its copy. */
export function openLogForAppend(file: string): number {
  mkdirSync(path.dirname(file), { recursive: true });
  return openSync(file, 'a');
}

/**
 * The size at which the current file is rotated. A sixteenth below the cap, so that what a normal
 * writer adds between crossing it and the rotation still fits in the rotated file: nothing is
 * dropped unless the writer outruns the rotation.
 */
export function rotateAtBytes(rotation: LogRotation): number {
  return Math.max(1, rotation.maxBytes - Math.floor(rotation.maxBytes / 16));
}

/** What {@link rotateLog} did. */
export interface RotationOutcome {
  /** Whether the file was truncated. */
  rotated: boolean;
  /** Bytes of output not kept anywhere (reported in the log by a marker line). */
  droppedBytes: number;
  /** Set when the file's content moved to `.1` (older files shifted): byte `from` of the file is byte `to` of `.1`. */
  moved?: { from: number; to: number };
}

/** The marker line put where output was dropped. */
export function droppedMarker(bytes: number, why: string): string {
  return `graylane: ${bytes} bytes of log dropped: ${why}\n`;
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch {
    return undefined;
  }
}

/** Copies bytes [from, to) of `src` to the end of `dst`; returns the last byte copied (or -1). */
async function copyRange(src: FileHandle, dst: FileHandle, from: number, to: number): Promise<number> {
  const buffer = Buffer.allocUnsafe(Math.min(COPY_CHUNK_BYTES, Math.max(1, to - from)));
  let pos = from;
  let last = -1;
  while (pos < to) {
    const { bytesRead } = await src.read(buffer, 0, Math.min(buffer.length, to - pos), pos);
    if (bytesRead === 0) break;
    await dst.write(buffer, 0, bytesRead);
    last = buffer[bytesRead - 1] ?? -1;
    pos += bytesRead;
  }
  return last;
}

/** The first line start at or after `from` (0 < from < to), or `from` when no newline is near. */
async function nextLineStart(src: FileHandle, from: number, to: number): Promise<number> {
  // From the byte before: a `from` right after a newline is a line start already.
  const buffer = Buffer.allocUnsafe(Math.min(NEWLINE_SEARCH_BYTES, to - from + 1));
  const { bytesRead } = await src.read(buffer, 0, buffer.length, from - 1);
  const at = buffer.subarray(0, bytesRead).indexOf(0x0a);
  return at < 0 ? from : from - 1 + at + 1;
}

async function shiftRotated(file: string, keepFiles: number): Promise<void> {
  await rm(`${file}.${keepFiles}`, { force: true });
  for (let i = keepFiles - 1; i >= 1; i -= 1) {
    await rename(`${file}.${i}`, `${file}.${i + 1}`).catch(() => undefined);
  }
}

/**
 * Rotates `file` if it reached {@link rotateAtBytes}, with asynchronous I/O only (the copy runs in
 * bounded pieces on libuv's pool, never on the event loop). The kept part (at most `maxBytes`,
 * starting at a line) is copied to `file.1` and the file is truncated in place, because the writer
 * keeps its descriptor. A file found at twice the cap is truncated at once without a copy: a writer
 * that fast would only outgrow the copy. Output written between the last look and the truncation
 * (a stat and a truncate apart) cannot be seen and is lost; everything else not kept is reported.
 */
export async function rotateLog(file: string, rotation: LogRotation): Promise<RotationOutcome> {
  const size = await sizeOf(file);
  if (size === undefined || size < rotateAtBytes(rotation)) return { rotated: false, droppedBytes: 0 };
  if (rotation.keepFiles <= 0 || size >= 2 * rotation.maxBytes) {
    await truncate(file, 0);
    const why = rotation.keepFiles <= 0 ? 'the log is over its cap and no rotated file is kept' : 'the app wrote faster than the log could be rotated';
    await appendFile(file, droppedMarker(size, why));
    return { rotated: true, droppedBytes: size };
  }
  try {
    return await copyThenTruncate(file, size, rotation);
  } catch (err) {
    // No room for the copy (a full disk) or a broken rotated file: the cap still holds, the output goes.
    const now = (await sizeOf(file)) ?? size;
    await truncate(file, 0);
    await appendFile(file, droppedMarker(now, `the rotated copy could not be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`));
    return { rotated: true, droppedBytes: now };
  }
}

async function copyThenTruncate(file: string, size: number, rotation: LogRotation): Promise<RotationOutcome> {
  await shiftRotated(file, rotation.keepFiles);
  const src = await open(file, 'r');
  let dropped = 0;
  let moved: RotationOutcome['moved'];
  try {
    const dst = await open(`${file}.1`, 'w');
    try {
      let from = Math.max(0, size - rotation.maxBytes);
      let to = 0;
      if (from > 0) {
        from = await nextLineStart(src, from, size);
        dropped += from;
        const marker = droppedMarker(from, 'the app wrote faster than the log could be rotated');
        await dst.write(marker);
        to = Buffer.byteLength(marker);
      }
      moved = { from, to };
      let end = size;
      let last = await copyRange(src, dst, from, end);
      // Truncate right after a look that found nothing new: only what lands between that look and
      // the truncation is lost unseen. Growth seen is copied, unless the writer keeps outrunning the
      // copy or the kept part would pass the cap: then it is dropped and said so.
      let final = end;
      for (let round = 0; ; round += 1) {
        const now = (await sizeOf(file)) ?? end;
        if (now <= end) break;
        if (round >= CATCH_UP_ROUNDS || now - from > rotation.maxBytes) {
          final = now;
          break;
        }
        last = await copyRange(src, dst, end, now);
        end = now;
      }
      await truncate(file, 0);
      if (final > end) {
        dropped += final - end;
        await dst.write(`${last === 0x0a || last === -1 ? '' : '\n'}${droppedMarker(final - end, 'written while the log was being rotated')}`);
      }
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
  return moved ? { rotated: true, droppedBytes: dropped, moved } : { rotated: true, droppedBytes: dropped };
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
