/**
 * Reads nginx's access log from a file nginx writes through a buffer (`buffer=64k flush=200ms`):
 * one line per request, read by offset on a short poll, so a line reaches the counters at most
 * about flush + poll after its request ended. A partial last line waits for the read that
 * completes it. No directory watch: nginx writes its buffer many times a second under load, and a
 * read per write woke this process (beside nginx, on the same cores) for a few hundred lines each
 * time, where the poll reads thousands at once.
 *
 * The file is bounded: past `maxBytes` it is renamed, nginx is told to reopen its logs (the new
 * lines go to a new file at the same path), the renamed file is read on from the same offset until
 * no nginx process holds it any more, then removed. Every line is read once: those written before
 * the reopen from the renamed file, those after from the new one.
 */
import { readSync, openSync, closeSync, fstatSync, renameSync, rmSync, statSync, readdirSync } from 'node:fs';
import { AccessLineParser, type AccessLine } from './access-line-parser.js';

export type { AccessLine } from './access-line-parser.js';

/** How the file is bounded. */
export interface AccessLogRotation {
  /** Size past which the file is renamed and nginx told to reopen it. */
  maxBytes: number;
  /** Makes nginx open a new file at the path (USR1 to its master, or a reload). */
  reopen: () => Promise<void>;
  /**
   * Pids of the nginx processes that may hold the renamed file; once none does, it is complete.
   * Without it (an nginx graylane does not run), the file is complete once it has not grown for
   * `quietMs`.
   */
  holders?: () => number[];
  /** See `holders`; default 2 s. */
  quietMs?: number;
  /** Longest wait for the renamed file to be complete; default 30 s. */
  timeoutMs?: number;
  /** After a reopen that failed, the next rotation waits this long; default 1 s. */
  retryMs?: number;
}

/** Options of {@link followAccessLog}. */
export interface FollowAccessLogOptions {
  /** The file nginx writes. */
  path: string;
  /**
   * Called for each distinct graylane line of a read with how many times it came (lines are
   * counted, so those of one read are tallied first; reads come in the order nginx wrote them).
   */
  onLine: (line: AccessLine, count: number) => void;
  /** Read at least this often, ms; default 100. */
  pollMs?: number;
  /** Bounding the file; none: it grows without bound. */
  rotation?: AccessLogRotation;
  /** A rotation that failed (the file keeps growing; it is tried again at the next read). */
  onError?: (err: Error) => void;
}

/** A followed access log. */
export interface AccessLogReader {
  /** The file. */
  path: string;
  /** Reads what is there now (and rotates if due); resolves once done. */
  read(): Promise<void>;
  /** Reads what is left and stops. */
  close(): Promise<void>;
}

/** Bytes read at a time, and the least a reader keeps (it grows for a longer line). */
const READ_BYTES = 256 * 1024;

/**
 * Reads `path` from `offset` to its last complete line into `scratch.buf` (reused from read to
 * read: a new buffer per read, megabytes a second under load, cost this process more in garbage
 * collection than the parsing did); returns the new offset (unchanged when absent).
 */
function readLines(path: string, offset: number, scratch: { buf: Buffer }, onChunk: (buf: Buffer, end: number) => void): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return offset;
  }
  try {
    const size = fstatSync(fd).size;
    while (offset < size) {
      const want = Math.min(size - offset, scratch.buf.length);
      const n = readSync(fd, scratch.buf, 0, want, offset);
      if (n <= 0) break;
      const end = scratch.buf.lastIndexOf(0x0a, n - 1);
      if (end < 0) {
        // A line longer than the buffer: a bigger one, then again; a partial last line waits.
        if (n < scratch.buf.length) break;
        scratch.buf = Buffer.allocUnsafe(scratch.buf.length * 2);
        continue;
      }
      onChunk(scratch.buf, end);
      offset += end + 1;
    }
    return offset;
  } finally {
    closeSync(fd);
  }
}

/** Whether any of `pids` holds the file `file` (device and inode) open. */
function heldBy(pids: number[], file: { dev: number; ino: number }): boolean {
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const st = statSync(`/proc/${pid}/fd/${fd}`);
        if (st.ino === file.ino && st.dev === file.dev) return true;
      } catch {
        // Closed meanwhile, or not a file.
      }
    }
  }
  return false;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class FileFollower implements AccessLogReader {
  private offset = 0;
  private running: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  /**
   * No rotation before this time (ms since the epoch). A failed one puts the file back, and each
   * read would try again at once: when nginx had stopped, an earlier version (which also read on
   * every change of the directory, its own renames included) looped and held a core.
   */
  private rotateNotBefore = 0;

  constructor(private readonly options: FollowAccessLogOptions) {
    // Lines already there are an earlier run's traffic (the file outlives a restart): not this one's.
    try {
      this.offset = statSync(options.path).size;
    } catch {
      this.offset = 0;
    }
    this.timer = setInterval(() => void this.read(), options.pollMs ?? 100);
  }

  get path(): string {
    return this.options.path;
  }

  read(): Promise<void> {
    // One read at a time, so no line is read twice; a read asked for during one follows it.
    const next = this.running.then(() => this.step());
    this.running = next.catch((err: unknown) => this.options.onError?.(err as Error));
    return this.running;
  }

  private readonly parser = new AccessLineParser();
  private readonly scratch = { buf: Buffer.allocUnsafe(READ_BYTES) };
  private emit = (buf: Buffer, end: number): void => {
    this.parser.parseLines(buf, 0, end, this.options.onLine);
  };

  private async step(): Promise<void> {
    this.offset = readLines(this.options.path, this.offset, this.scratch, this.emit);
    const rotation = this.options.rotation;
    if (rotation && !this.closed && this.offset >= rotation.maxBytes && Date.now() >= this.rotateNotBefore) await this.rotate(rotation);
  }

  private async rotate(rotation: AccessLogRotation): Promise<void> {
    const path = this.options.path;
    const old = `${path}.rotated`;
    renameSync(path, old);
    try {
      await rotation.reopen();
    } catch (err) {
      // nginx still writes the renamed file: put it back, so the next read goes on where this stopped.
      renameSync(old, path);
      this.rotateNotBefore = Date.now() + (rotation.retryMs ?? 1000);
      throw err;
    }
    const { dev, ino } = statSync(old);
    const end = Date.now() + (rotation.timeoutMs ?? 30_000);
    let size = statSync(old).size;
    let quietSince = Date.now();
    for (;;) {
      this.offset = readLines(old, this.offset, this.scratch, this.emit);
      if (rotation.holders) {
        if (!heldBy(rotation.holders(), { dev, ino })) break;
      } else {
        const now = statSync(old).size;
        if (now !== size) [size, quietSince] = [now, Date.now()];
        else if (Date.now() - quietSince >= (rotation.quietMs ?? 2000)) break;
      }
      if (Date.now() > end) break;
      await sleep(this.options.pollMs ?? 100);
    }
    // Nobody writes it any more: what is left is read, then the file goes.
    this.offset = readLines(old, this.offset, this.scratch, this.emit);
    rmSync(old, { force: true });
    this.offset = readLines(path, 0, this.scratch, this.emit);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.read();
  }
}

/** Follows nginx's access log file (which need not exist yet) from its current end; `onLine` gets every graylane line. */
export function followAccessLog(options: FollowAccessLogOptions): AccessLogReader {
  return new FileFollower(options);
}
