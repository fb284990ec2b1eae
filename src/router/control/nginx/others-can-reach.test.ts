import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { othersCanReach } from './nginx-process.js';

describe('whether nginx\'s workers (nobody) can reach the prefix directory', () => {
  it.each([
    ['every directory on the way lets others search it', 0o755, 0o711, true],
    ['a parent only its owner may enter (a state dir under /root)', 0o700, 0o711, false],
    ['a parent others may search but not list', 0o711, 0o711, true],
    ['the directory itself closed to others', 0o755, 0o700, false],
  ])('%s', (_what, parentMode, dirMode, reachable) => {
    const base = mkdtempSync(join(tmpdir(), 'graylane-reach-'));
    chmodSync(base, 0o755);
    expect(othersCanReach(base)).toBe(true);
    const parent = join(base, 'parent');
    const dir = join(parent, 'nginx');
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, dirMode);
    chmodSync(parent, parentMode);
    expect(othersCanReach(dir)).toBe(reachable);
  });
});
