/**
 * A child process's memory as the kernel counts it, from `/proc/<pid>/status` (Linux): what a
 * container's memory limit is compared against, unlike the process's own heap figures.
 */
import { readFile } from 'node:fs/promises';

/** Resident memory of one process, in bytes. */
export interface ProcessMemory {
  /** Resident set size now (`VmRSS`). */
  readonly rssBytes: number;
  /** The highest resident set size so far (`VmHWM`, the kernel's high-water mark). */
  readonly peakRssBytes: number;
}

/** The process is gone, or its status file has no memory lines (not Linux, a zombie). */
export class ProcessMemoryError extends Error {
  /** Stable code for callers. */
  readonly code: 'ProcessGone' | 'MemoryUnreadable';
  constructor(options: { code: 'ProcessGone' | 'MemoryUnreadable'; message: string }) {
    super(options.message);
    this.name = 'ProcessMemoryError';
    this.code = options.code;
  }
}

/** Reads `VmRSS` and `VmHWM` (kB in the file) from a `/proc/<pid>/status` text. */
export function parseProcStatus(text: string): ProcessMemory {
  const kb = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(text);
    if (m === null) throw new ProcessMemoryError({ code: 'MemoryUnreadable', message: `the process status has no ${field} line` });
    return Number(m[1]) * 1024;
  };
  return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') };
}

/** A file of `/proc/<pid>/`; {@link ProcessMemoryError} `ProcessGone` when the process is gone. */
async function readProcFile(options: { pid: number; procDir?: string }, name: 'status' | 'smaps'): Promise<string> {
  try {
    return await readFile(`${options.procDir ?? '/proc'}/${options.pid}/${name}`, 'utf8');
  } catch (error) {
    // ESRCH: the process went away between opening the file and reading it.
    if (['ENOENT', 'ESRCH'].includes((error as NodeJS.ErrnoException).code ?? '')) throw new ProcessMemoryError({ code: 'ProcessGone', message: `process ${options.pid} is gone` });
    throw error;
  }
}

/**
 * The memory of process `pid` now; {@link ProcessMemoryError} `ProcessGone` once it has exited
 * (a zombie, exited but not yet reaped by its parent, holds no memory and counts as gone).
 */
export async function readProcessMemory(options: { pid: number; procDir?: string }): Promise<ProcessMemory> {
  const text = await readProcFile(options, 'status');
  if (/^State:\s+[ZX]/m.test(text)) throw new ProcessMemoryError({ code: 'ProcessGone', message: `process ${options.pid} has exited` });
  return parseProcStatus(text);
}

/** A sampler running every `everyMs`: the highest RSS it saw, and the last reading. */
export interface MemorySampler {
  /** The highest `VmRSS` sampled and the kernel's `VmHWM` at the last reading, in bytes. */
  figures(): { sampledPeakRssBytes: number; kernelPeakRssBytes: number; lastRssBytes: number; samples: number };
  /**
   * Takes one last reading (unless the process is gone) and stops; rejects with the first error
   * other than the process being gone (an unreadable status), so that no figure is silently 0.
   */
  stop(): Promise<void>;
}

/** Samples `pid`'s memory every `everyMs` until stopped or the process is gone. */
export function sampleProcessMemory(options: { pid: number; everyMs: number; procDir?: string }): MemorySampler {
  let sampledPeak = 0;
  let kernelPeak = 0;
  let last = 0;
  let samples = 0;
  let gone = false;
  let failure: Error | undefined;
  const read = async (): Promise<void> => {
    if (gone) return;
    try {
      const m = await readProcessMemory(options);
      samples += 1;
      last = m.rssBytes;
      sampledPeak = Math.max(sampledPeak, m.rssBytes);
      kernelPeak = Math.max(kernelPeak, m.peakRssBytes);
    } catch (error) {
      if (error instanceof ProcessMemoryError && error.code === 'ProcessGone') gone = true;
      else failure ??= error instanceof Error ? error : new Error(String(error));
    }
  };
  let pending: Promise<void> = read();
  const timer = setInterval(() => {
    pending = pending.then(read);
  }, options.everyMs);
  return {
    figures: () => ({ sampledPeakRssBytes: sampledPeak, kernelPeakRssBytes: kernelPeak, lastRssBytes: last, samples }),
    stop: async () => {
      clearInterval(timer);
      await pending;
      await read();
      if (failure !== undefined) throw failure;
    },
  };
}

/**
 * One process's resident memory split by kind, from `/proc/<pid>/smaps`: anonymous pages (its
 * heap, stacks, copied-on-write pages) are its own; pages of mapped files (the node binary, shared
 * libraries, native addons) are shared by every process that maps the same file.
 */
export interface MappedMemory {
  /** Resident anonymous memory, in bytes. */
  readonly anonBytes: number;
  /** Resident bytes of each mapped file range, keyed by device, inode and offset. */
  readonly fileBytes: ReadonlyMap<string, number>;
}

/** Reads a `/proc/<pid>/smaps` text (kB in the file); see {@link MappedMemory}. */
export function parseSmaps(text: string): MappedMemory {
  let anonKb = 0;
  const fileKb = new Map<string, number>();
  let key: string | undefined;
  let rssKb = 0;
  let mappingAnonKb = 0;
  const close = () => {
    anonKb += mappingAnonKb;
    // A file mapping's anonymous pages are private copies, counted above; the rest is the file's.
    if (key !== undefined) fileKb.set(key, Math.max(fileKb.get(key) ?? 0, rssKb - mappingAnonKb));
  };
  let seen = false;
  for (const line of text.split('\n')) {
    // A mapping's header: `start-end perms offset dev inode [path]`.
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ ([0-9a-f]+) (\S+) (\d+)/.exec(line);
    if (header) {
      if (seen) close();
      seen = true;
      key = header[3] === '0' ? undefined : `${header[2]}:${header[3]}:${header[1]}`;
      rssKb = 0;
      mappingAnonKb = 0;
      continue;
    }
    const field = /^(Rss|Anonymous):\s+(\d+) kB$/.exec(line);
    if (field?.[1] === 'Rss') rssKb = Number(field[2]);
    else if (field?.[1] === 'Anonymous') mappingAnonKb = Number(field[2]);
  }
  if (seen) close();
  if (!seen) throw new ProcessMemoryError({ code: 'MemoryUnreadable', message: 'the process smaps has no mappings' });
  return { anonBytes: anonKb * 1024, fileBytes: new Map([...fileKb].map(([k, v]) => [k, v * 1024])) };
}

/** The mapped memory of process `pid` now; {@link ProcessMemoryError} `ProcessGone` once it has exited. */
export async function readMappedMemory(options: { pid: number; procDir?: string }): Promise<MappedMemory> {
  const text = await readProcFile(options, 'smaps');
  // A zombie's smaps is empty: it holds no memory.
  if (text.trim() === '') throw new ProcessMemoryError({ code: 'ProcessGone', message: `process ${options.pid} has exited` });
  return parseSmaps(text);
}

/**
 * What a group of processes holds together, each page once: their anonymous memory summed, plus
 * every mapped file range once (at the most any of them has resident). This is what a container
 * holding just them is charged; summing their RSS counts the node binary's pages once per process.
 */
export function pageOnceBytes(group: readonly MappedMemory[]): number {
  const files = new Map<string, number>();
  let anon = 0;
  for (const m of group) {
    anon += m.anonBytes;
    for (const [k, v] of m.fileBytes) files.set(k, Math.max(files.get(k) ?? 0, v));
  }
  let file = 0;
  for (const v of files.values()) file += v;
  return anon + file;
}
