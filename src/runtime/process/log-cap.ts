/**
 * Keeps tracked log files under their cap while apps write into them directly. A file is looked at
 * as soon as it changes (fs.watch, i.e. inotify) and on a slow poll as a fallback; a look is one
 * async stat, and a rotation ({@link rotateLog}) runs at most once at a time per file, so a burst
 * of writes costs a few cheap callbacks, never a blocked event loop.
 *
 * Each look also records when the file had which size (a checkpoint), which lets a reader start
 * at "lines written since T" within about a second, although the lines carry no time.
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { rotateLog, type LogRotation, type RotationOutcome } from './log-files.js';

/** "By `atMs` the file was `offset` bytes long": every byte before `offset` was written before `atMs`. */
export interface LogCheckpoint {
  atMs: number;
  offset: number;
}

/** Options of {@link LogCap}. */
export interface LogCapOptions {
  /** The cap. */
  rotation: LogRotation;
  /** Fallback poll of every tracked file (fs.watch can miss events, e.g. on network filesystems); default 1 s. */
  pollMs?: number;
  /** Checkpoints closer than this are merged; default 1 s. */
  checkpointEveryMs?: number;
  /** Called after a rotation (the file was truncated). */
  onRotated?: (file: string, outcome: RotationOutcome) => void;
  /** Called when a look or rotation fails (a full disk, say); the next look retries. */
  onError?: (file: string, err: Error) => void;
}

interface Tracked {
  watcher: FSWatcher | undefined;
  busy: boolean;
  again: boolean;
  checkpoints: LogCheckpoint[];
  /** Checkpoints of the rotated files, `.1` first, carried over from the current file's as it rotates. */
  rotated: LogCheckpoint[][];
}

/** At most this many checkpoints per file; older ones are thinned out (every other one dropped). */
const MAX_CHECKPOINTS = 4096;

/** Watches log files and rotates them as they reach their cap. */
export class LogCap {
  private readonly files = new Map<string, Tracked>();
  private readonly poll: NodeJS.Timeout;
  private readonly checkpointEveryMs: number;

  constructor(private readonly options: LogCapOptions) {
    this.checkpointEveryMs = options.checkpointEveryMs ?? 1_000;
    this.poll = setInterval(() => {
      for (const file of this.files.keys()) this.look(file);
    }, options.pollMs ?? 1_000);
    this.poll.unref();
  }

  /** Starts watching `file` (idempotent) and looks at it at once. */
  track(file: string): void {
    if (!this.files.has(file)) {
      const entry: Tracked = { watcher: undefined, busy: false, again: false, checkpoints: [], rotated: [] };
      this.files.set(file, entry);
      try {
        entry.watcher = watch(file, { persistent: false }, () => this.look(file));
        entry.watcher.on('error', () => {
          // The poll still covers the file.
          entry.watcher?.close();
          entry.watcher = undefined;
        });
      } catch {
        // No inotify (or no file yet): the poll covers it.
      }
    }
    this.look(file);
  }

  /** Stops watching `file`. */
  untrack(file: string): void {
    this.files.get(file)?.watcher?.close();
    this.files.delete(file);
  }

  /** The checkpoints of a tracked log `file` or of one of its rotated files `file.N` (empty when unknown). */
  checkpoints(file: string): readonly LogCheckpoint[] {
    const current = this.files.get(file);
    if (current) return current.checkpoints;
    const rotated = /^(.*)\.([0-9]+)$/.exec(file);
    return (rotated && this.files.get(rotated[1]!)?.rotated[Number(rotated[2]) - 1]) ?? [];
  }

  /** Looks at every tracked file now and resolves once none is being looked at or rotated. */
  async settle(): Promise<void> {
    for (const file of this.files.keys()) this.look(file);
    while ([...this.files.values()].some((f) => f.busy)) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** Stops every watcher and the poll. */
  close(): void {
    clearInterval(this.poll);
    for (const entry of this.files.values()) entry.watcher?.close();
    this.files.clear();
  }

  /** One look at a time per file; looks asked for meanwhile become one more look afterwards. */
  private look(file: string): void {
    const entry = this.files.get(file);
    if (!entry) return;
    if (entry.busy) {
      entry.again = true;
      return;
    }
    entry.busy = true;
    entry.again = false;
    void this.check(file, entry)
      .catch((err: unknown) => this.options.onError?.(file, err as Error))
      .finally(() => {
        entry.busy = false;
        if (entry.again && this.files.get(file) === entry) this.look(file);
      });
  }

  private async check(file: string, entry: Tracked): Promise<void> {
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch {
      return;
    }
    // Taken after the stat: every byte below `size` was surely written before this time.
    this.checkpoint(entry, { atMs: Date.now(), offset: size });
    const outcome = await rotateLog(file, this.options.rotation);
    if (!outcome.rotated) return;
    if (outcome.moved) {
      // What moved to `.1` keeps its times, at its new offsets; what was dropped has none.
      const { from, to } = outcome.moved;
      const moved = entry.checkpoints.filter((p) => p.offset >= from).map((p) => ({ atMs: p.atMs, offset: p.offset - from + to }));
      entry.rotated = [moved, ...entry.rotated].slice(0, this.options.rotation.keepFiles);
    }
    // Everything now in the file was written after the truncation began.
    entry.checkpoints = [{ atMs: Date.now(), offset: 0 }];
    this.options.onRotated?.(file, outcome);
    // The writer may have added a lot meanwhile: look again rather than wait for the next event.
    entry.again = true;
  }

  private checkpoint(entry: Tracked, point: LogCheckpoint): void {
    const list = entry.checkpoints;
    const last = list.at(-1);
    // A truncation not made by us (or a recreated file): older offsets mean nothing any more.
    if (last && point.offset < last.offset) list.length = 0;
    const previous = list.at(-2);
    // Within the merge interval the newest checkpoint slides forward: a later look is more precise.
    if (last && previous && point.atMs - previous.atMs < this.checkpointEveryMs) list[list.length - 1] = point;
    else list.push(point);
    if (list.length > MAX_CHECKPOINTS) entry.checkpoints = list.filter((_, i) => i % 2 === 1 || i === list.length - 1);
  }
}
