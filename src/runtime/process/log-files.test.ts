import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rotateLog } from './log-files.js';

function logWith(lines: number, width = 99): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'graylane-logfiles-'));
  const file = path.join(dir, 'a.log');
  writeFileSync(file, Array.from({ length: lines }, (_, i) => `${String(i).padStart(width, '.')}\n`).join(''));
  return file;
}

describe('rotateLog', () => {
  it('moves a file that reached its cap to .1 whole and empties it', async () => {
    const file = logWith(95);
    expect(await rotateLog(file, { maxBytes: 10_000, keepFiles: 2 })).toEqual({ rotated: true, droppedBytes: 0, moved: { from: 0, to: 0 } });
    expect(statSync(file).size).toBe(0);
    expect(readFileSync(`${file}.1`, 'utf8').split('\n')).toHaveLength(96);
    expect(await rotateLog(file, { maxBytes: 10_000, keepFiles: 2 })).toEqual({ rotated: false, droppedBytes: 0 });
  });

  it('keeps the newest maxBytes, from a line start, and says how much it dropped', async () => {
    const file = logWith(150);
    const outcome = await rotateLog(file, { maxBytes: 10_000, keepFiles: 1 });
    const kept = readFileSync(`${file}.1`, 'utf8').split('\n');
    expect(outcome).toEqual({ rotated: true, droppedBytes: 5_000, moved: { from: 5_000, to: kept[0]!.length + 1 } });
    expect(kept[0]).toBe('graylane: 5000 bytes of log dropped: the app wrote faster than the log could be rotated');
    expect(kept[1]).toBe(`${'.'.repeat(97)}50`);
    expect(statSync(`${file}.1`).size).toBeLessThanOrEqual(10_000 + kept[0]!.length + 1);
  });

  it('still empties the file, saying so, when the rotated copy cannot be written', async () => {
    const file = logWith(150);
    // A rotated "file" that cannot be replaced, as a full disk or a stray directory would make it.
    mkdirSync(`${file}.1`);
    writeFileSync(path.join(`${file}.1`, 'x'), 'x');
    const outcome = await rotateLog(file, { maxBytes: 10_000, keepFiles: 1 });
    expect(outcome).toEqual({ rotated: true, droppedBytes: 15_000 });
    expect(readFileSync(file, 'utf8')).toMatch(/^graylane: 15000 bytes of log dropped: the rotated copy could not be written \(/);
  });
});
