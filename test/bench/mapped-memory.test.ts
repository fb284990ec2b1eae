import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessMemoryError, pageOnceBytes, parseSmaps, readMappedMemory, readProcessMemory } from '../../bench/lib-process-memory.js';
import { signalChild } from '../../src/lib/signal-child.js';

/** Two mappings of the node binary (one with copied-on-write pages), an anonymous heap, a stack. */
const SMAPS = [
  '00400000-00600000 r-xp 00000000 08:01 1234 /usr/bin/node',
  'Rss:                1000 kB',
  'Anonymous:             0 kB',
  '00600000-00700000 rw-p 00200000 08:01 1234 /usr/bin/node',
  'Rss:                 300 kB',
  'Anonymous:           100 kB',
  '01000000-02000000 rw-p 00000000 00:00 0 [heap]',
  'Rss:                5000 kB',
  'Anonymous:          5000 kB',
  '7ffc0000-7ffd0000 rw-p 00000000 00:00 0 [stack]',
  'Rss:                  40 kB',
  'Anonymous:            40 kB',
  '',
].join('\n');

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) signalChild(c, 'SIGKILL');
});

describe('memory of a group of processes, each page once', () => {
  it('splits a process into its anonymous memory and the file ranges it maps', () => {
    const m = parseSmaps(SMAPS);
    expect(m.anonBytes).toBe((100 + 5000 + 40) * 1024);
    expect([...m.fileBytes]).toEqual([['08:01:1234:00000000', 1000 * 1024], ['08:01:1234:00200000', 200 * 1024]]);
  });

  it('counts a file range two processes map once, at the most either has resident, and every anonymous page', () => {
    const a = parseSmaps(SMAPS);
    const b = parseSmaps(SMAPS.replace('Rss:                1000 kB', 'Rss:                 700 kB'));
    expect(pageOnceBytes([a, b])).toBe((2 * 5140 + 1000 + 200) * 1024);
  });

  it('refuses a text with no mappings', () => {
    expect(() => parseSmaps('Name: x\n')).toThrow(ProcessMemoryError);
  });

  it('two live node processes hold less together than their RSS summed (they share the binary), more than either', async () => {
    for (let i = 0; i < 2; i++) children.push(spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }));
    await new Promise((r) => setTimeout(r, 500));
    const mapped = await Promise.all(children.map((c) => readMappedMemory({ pid: c.pid! })));
    const rss = await Promise.all(children.map((c) => readProcessMemory({ pid: c.pid! })));
    const together = pageOnceBytes(mapped);
    expect(together).toBeLessThan(rss[0]!.rssBytes + rss[1]!.rssBytes);
    expect(together).toBeGreaterThan(Math.max(rss[0]!.rssBytes, rss[1]!.rssBytes));
  });

  it('says a process that is gone is gone', async () => {
    const c = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((r) => c.once('exit', r));
    await expect(readMappedMemory({ pid: c.pid! })).rejects.toMatchObject({ code: 'ProcessGone' });
  });
});
