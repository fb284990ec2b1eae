import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessCpuError, parseProcStat, readProcessCpuSeconds, readProcessTreeCpuSeconds } from '../../bench/lib-process-cpu.js';

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

describe('the router benchmark charges a proxy for all its processes', () => {
  it('adds the CPU of every descendant (nginx workers under their master), skipping one that is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'proc-'));
    dirs.push(dir);
    const proc = (pid: number, ticks: number, children: string) => {
      mkdirSync(join(dir, String(pid), 'task', String(pid)), { recursive: true });
      writeFileSync(join(dir, String(pid), 'stat'), `${pid} (nginx) S 1 2 3 0 -1 4194560 100 0 0 0 ${ticks} 0 0 0 20 0 1 0 1 2 3\n`);
      writeFileSync(join(dir, String(pid), 'task', String(pid), 'children'), children);
    };
    proc(10, 100, '11 12 13 ');
    proc(11, 250, '');
    proc(12, 50, '14');
    proc(14, 25, '');
    // 13 is listed as a child but exited before it was read.
    expect(await readProcessTreeCpuSeconds({ pid: 10, procDir: dir })).toBeCloseTo(4.25, 10);
    expect(await readProcessTreeCpuSeconds({ pid: 11, procDir: dir })).toBeCloseTo(2.5, 10);
    await expect(readProcessTreeCpuSeconds({ pid: 99, procDir: dir })).rejects.toMatchObject({ code: 'ProcessGone' });
  });
});
