import { describe, expect, it } from 'vitest';
import { adoptedProcessGone, argvMatches } from './adoption.js';
import { processStartMs } from './proc-fs.js';

describe('argvMatches', () => {
  it.each([
    [['node', 'server.mjs'], ['node', 'server.mjs'], true],
    [['/usr/bin/node', 'server.mjs'], ['node', 'server.mjs'], true],
    [['/bin/sh', './run.sh', '--port'], ['./run.sh', '--port'], true],
    [['node', 'other.mjs'], ['node', 'server.mjs'], false],
    [['python3', 'server.mjs'], ['node', 'server.mjs'], false],
    [['node'], ['node', 'server.mjs'], false],
    [['node'], [], false],
  ] as const)('%j vs recorded %j → %s', (actual, recorded, ok) => expect(argvMatches([...actual], [...recorded])).toBe(ok));
});

describe('adoptedProcessGone', () => {
  const ownStartMs = processStartMs(process.pid)!;
  it.each([
    ['a running process with its recorded start time', process.pid, ownStartMs, false],
    ['a running process within the /proc rounding of its start time', process.pid, ownStartMs + 900, false],
    ['a pid reused by a process started at another time', process.pid, ownStartMs - 60_000, true],
    ['a pid that no longer exists', 2 ** 22 + 777, ownStartMs, true],
  ] as const)('%s → %s', (_what, pid, startedAtMs, gone) => expect(adoptedProcessGone(pid, startedAtMs)).toBe(gone));
});
