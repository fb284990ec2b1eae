import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessMemoryError, parseProcStatus, readProcessMemory, sampleProcessMemory } from '../../bench/lib-process-memory.js';

const STATUS = 'Name:\tnode\nVmPeak:\t 1000000 kB\nVmHWM:\t   81920 kB\nVmRSS:\t   40960 kB\nThreads:\t7\n';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
/** A fake /proc with one process whose status file is `text` (or a directory when undefined). */
function fakeProc(pid: number, text: string | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'proc-'));
  dirs.push(dir);
  mkdirSync(join(dir, String(pid)));
  if (text === undefined) mkdirSync(join(dir, String(pid), 'status'));
  else writeFileSync(join(dir, String(pid), 'status'), text);
  return dir;
}

describe('the benchmark measures the controller process’s memory as the kernel counts it', () => {
  it('reads VmRSS and the VmHWM high-water mark in bytes', () => {
    expect(parseProcStatus(STATUS)).toEqual({ rssBytes: 40960 * 1024, peakRssBytes: 81920 * 1024 });
  });

  it('reads a live process: this one holds some memory, and its peak is at least what it holds', async () => {
    const m = await readProcessMemory({ pid: process.pid });
    expect(m.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(m.peakRssBytes).toBeGreaterThanOrEqual(m.rssBytes);
  });

  it('says a process is gone, and that a status without memory lines is unreadable', async () => {
    await expect(readProcessMemory({ pid: 123, procDir: fakeProc(456, STATUS) })).rejects.toMatchObject({ code: 'ProcessGone' });
    await expect(readProcessMemory({ pid: 5, procDir: fakeProc(5, 'Name:\tnode\nState:\tZ (zombie)\n') })).rejects.toMatchObject({ code: 'ProcessGone' });
    await expect(readProcessMemory({ pid: 7, procDir: fakeProc(7, 'Name:\tzombie\n') })).rejects.toMatchObject({ code: 'MemoryUnreadable' });
    expect(() => parseProcStatus('VmRSS:\t 1 kB\n')).toThrow(ProcessMemoryError);
  });

  it('passes on any other read error', async () => {
    await expect(readProcessMemory({ pid: 8, procDir: fakeProc(8, undefined) })).rejects.toMatchObject({ code: 'EISDIR' });
  });

  it('samples a child until it exits, keeping the highest RSS and the last one', async () => {
    // The child grows by ~64 MB and holds it briefly, then exits.
    const child = spawn(process.execPath, ['-e', 'const b = Buffer.alloc(64 * 1024 * 1024, 1); setTimeout(() => b.length, 600);']);
    const sampler = sampleProcessMemory({ pid: child.pid!, everyMs: 20 });
    await new Promise((r) => child.once('exit', r));
    await sampler.stop();
    const f = sampler.figures();
    expect(f.samples).toBeGreaterThan(3);
    expect(f.sampledPeakRssBytes).toBeGreaterThan(64 * 1024 * 1024);
    expect(f.kernelPeakRssBytes).toBeGreaterThanOrEqual(f.sampledPeakRssBytes);
    expect(f.lastRssBytes).toBeGreaterThan(0);
  });

  it('rejects on stop when the status could not be read, rather than report zeros', async () => {
    const sampler = sampleProcessMemory({ pid: 9, everyMs: 10, procDir: fakeProc(9, 'Name:\tx\n') });
    await new Promise((r) => setTimeout(r, 30));
    await expect(sampler.stop()).rejects.toMatchObject({ code: 'MemoryUnreadable' });
    expect(sampler.figures().samples).toBe(0);
  });
});
