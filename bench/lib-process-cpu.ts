/**
 * CPU time a process has used, from `/proc/<pid>/stat` (Linux): with the benchmark and the
 * controller in two processes on one machine, it says which of them the wall-clock time went to.
 */
import { readdir, readFile } from 'node:fs/promises';

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on every Linux the tests run on). */
const TICKS_PER_SECOND = 100;

/** The stat line could not be read as one. */
export class ProcessCpuError extends Error {
  /** Stable code for callers. */
  readonly code: 'ProcessGone' | 'StatUnreadable';
  constructor(options: { code: 'ProcessGone' | 'StatUnreadable'; message: string }) {
    super(options.message);
    this.name = 'ProcessCpuError';
    this.code = options.code;
  }
}

/** User plus system CPU seconds from a `/proc/<pid>/stat` line. */
export function parseProcStat(text: string): number {
  // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
  const close = text.lastIndexOf(')');
  const fields = close < 0 ? [] : text.slice(close + 2).trim().split(/\s+/);
  // After the name: state is field 3, utime field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime)) throw new ProcessCpuError({ code: 'StatUnreadable', message: 'the process stat line has no utime and stime fields' });
  return (utime + stime) / TICKS_PER_SECOND;
}

/** CPU seconds process `pid` has used so far; {@link ProcessCpuError} `ProcessGone` once it has exited. */
export async function readProcessCpuSeconds(options: { pid: number; procDir?: string }): Promise<number> {
  try {
    return parseProcStat(await readFile(`${options.procDir ?? '/proc'}/${options.pid}/stat`, 'utf8'));
  } catch (error) {
    // ESRCH: the process went away between opening its status file and reading it.
    if (['ENOENT', 'ESRCH'].includes((error as NodeJS.ErrnoException).code ?? '')) throw new ProcessCpuError({ code: 'ProcessGone', message: `process ${options.pid} is gone` });
    throw error;
  }
}

/** Child process ids of `pid`, from every thread's `children` list (Linux 3.5+). */
export async function childPids(pid: number, procDir = '/proc'): Promise<number[]> {
  let tasks: string[];
  try {
    tasks = await readdir(`${procDir}/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tasks) {
    try {
      for (const c of (await readFile(`${procDir}/${pid}/task/${tid}/children`, 'utf8')).split(' ')) if (c.trim() !== '') out.push(Number(c));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/**
 * CPU seconds of process `pid` and all its descendants alive now (nginx's master and workers, a
 * router supervisor and its workers); {@link ProcessCpuError} `ProcessGone` when `pid` itself has
 * exited. A descendant that exits during the read is left out.
 */
export async function readProcessTreeCpuSeconds(options: { pid: number; procDir?: string }): Promise<number> {
  const procDir = options.procDir ?? '/proc';
  let total = await readProcessCpuSeconds({ pid: options.pid, procDir });
  for (const child of await childPids(options.pid, procDir)) {
    try {
      total += await readProcessTreeCpuSeconds({ pid: child, procDir });
    } catch (error) {
      if ((error as ProcessCpuError).code !== 'ProcessGone') throw error;
    }
  }
  return total;
}
