import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessCpuError, parseProcStat, readProcessCpuSeconds } from '../../bench/lib-process-cpu.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the benchmark measures how much CPU the controller process used', () => {
  it('adds user and system ticks, counting fields after a command name that holds spaces and parentheses', () => {
    const line = '4242 (node (x) y) S 1 2 3 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 123 456 789\n';
    expect(parseProcStat(line)).toBeCloseTo(3.25, 10);
  });

  it('refuses a line without the CPU fields', () => {
    expect(() => parseProcStat('4242 (node) S 1 2')).toThrow(ProcessCpuError);
    expect(() => parseProcStat('garbage')).toThrow(expect.objectContaining({ code: 'StatUnreadable' }));
  });

  it('reads this process, whose CPU time grows as it works', async () => {
    const before = await readProcessCpuSeconds({ pid: process.pid });
    const until = performance.now() + 300;
    while (performance.now() < until) Math.sqrt(Math.random());
    expect(await readProcessCpuSeconds({ pid: process.pid })).toBeGreaterThanOrEqual(before + 0.1);
  });

  it('says a process is gone, and passes on other read errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'proc-'));
    dirs.push(dir);
    mkdirSync(join(dir, '8', 'stat'), { recursive: true });
    writeFileSync(join(dir, 'x'), '');
    await expect(readProcessCpuSeconds({ pid: 7, procDir: dir })).rejects.toMatchObject({ code: 'ProcessGone' });
    await expect(readProcessCpuSeconds({ pid: 8, procDir: dir })).rejects.toMatchObject({ code: 'EISDIR' });
  });
});
