import { afterEach, describe, expect, it } from 'vitest';
import { appendFileSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { followAccessLog, type AccessLine, type AccessLogReader } from './access-log-reader.js';

const line = (n: number) => `gl1|web|v1|v1|200|0.00${n % 10}|0.001|request\n`;
let reader: AccessLogReader | undefined;
afterEach(async () => {
  await reader?.close();
  reader = undefined;
});

describe('following the access log file', () => {
  it('reads lines appended after it started, and waits for the end of a partial last line', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'graylane-access-')), 'access.log');
    const seen: AccessLine[] = [];
    reader = followAccessLog({ path, onLine: (l, n) => seen.push(...Array<AccessLine>(n).fill(l)), pollMs: 20 });
    await reader.read(); // no file yet: nothing, no error
    appendFileSync(path, line(1) + line(2) + 'gl1|web|v1|v1|50');
    await reader.read();
    expect(seen.map((l) => l.status)).toEqual([200, 200]);
    appendFileSync(path, '3|0.1|-|request\n');
    await reader.read();
    expect(seen.map((l) => l.status)).toEqual([200, 200, 503]);
  });

  it('reads more than its buffer holds in one read, and a line longer than it, counting each line once', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'graylane-access-')), 'access.log');
    let counted = 0;
    reader = followAccessLog({ path, onLine: (_l, n) => (counted += n), pollMs: 60_000 });
    // About 1 MB of lines (four times the buffer), a foreign line of 600 kB, then more lines.
    appendFileSync(path, line(1).repeat(12_000) + 'x'.repeat(600_000) + '\n' + line(2).repeat(12_000) + line(3));
    await reader.read();
    expect(counted).toBe(24_001);
    appendFileSync(path, line(4));
    await reader.read();
    expect(counted).toBe(24_002);
  });

  it('skips what the file held when it started: an earlier run\'s traffic', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'graylane-access-')), 'access.log');
    appendFileSync(path, line(1) + line(2));
    const seen: number[] = [];
    reader = followAccessLog({ path, onLine: (l, n) => seen.push(...Array<number>(n).fill(Math.round(l.requestMs))) });
    appendFileSync(path, line(3));
    await reader.read();
    expect(seen).toEqual([3]);
  });

  it('rotates past its size: lines written before and after the reopen are each read once, and the old file goes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graylane-access-'));
    const path = join(dir, 'access.log');
    const seen: number[] = [];
    let reopens = 0;
    // This process stands for an nginx worker: it writes through a descriptor, which follows the
    // file through the rename, and writes its buffer to it at the reopen before closing it.
    const fd = openSync(path, 'a');
    reader = followAccessLog({
      path,
      pollMs: 10,
      onLine: (l, n) => seen.push(...Array<number>(n).fill(Math.round(l.requestMs))),
      rotation: {
        maxBytes: 150,
        reopen: () => {
          reopens++;
          writeSync(fd, line(7));
          setTimeout(() => {
            writeSync(fd, line(8));
            closeSync(fd);
            appendFileSync(path, line(9));
          }, 50);
          return Promise.resolve();
        },
        holders: () => [process.pid],
      },
    });
    let body = '';
    for (let i = 0; i < 5; i++) body += line(i);
    writeSync(fd, body);
    await reader.read();
    expect(reopens).toBe(1);
    expect(seen).toEqual([0, 1, 2, 3, 4, 7, 8, 9]);
    expect(existsSync(`${path}.rotated`)).toBe(false);
    appendFileSync(path, line(5));
    await reader.read();
    expect(seen).toEqual([0, 1, 2, 3, 4, 7, 8, 9, 5]);
    expect(readdirSync(dir)).toEqual(['access.log']);
  });

  it('puts the file back when nginx cannot be told to reopen, and reports it', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'graylane-access-')), 'access.log');
    const seen: AccessLine[] = [];
    const errors: string[] = [];
    reader = followAccessLog({
      path,
      onLine: (l, n) => seen.push(...Array<AccessLine>(n).fill(l)),
      rotation: { maxBytes: 10, reopen: () => Promise.reject(new Error('nginx is not running')) },
      onError: (e) => errors.push(e.message),
    });
    appendFileSync(path, line(1));
    await reader.read();
    expect(errors).toEqual(['nginx is not running']);
    appendFileSync(path, line(2));
    await reader.read();
    expect(seen).toHaveLength(2);
    expect(existsSync(path)).toBe(true);
  });

  it('after a reopen that failed, tries the next rotation a retry interval later, not at once (its own rename wakes the watch)', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'graylane-access-')), 'access.log');
    let reopens = 0;
    reader = followAccessLog({
      path,
      onLine: () => undefined,
      pollMs: 20,
      rotation: {
        maxBytes: 10,
        retryMs: 400,
        reopen: () => {
          reopens++;
          return Promise.reject(new Error('nginx is not running'));
        },
      },
      onError: () => undefined,
    });
    appendFileSync(path, line(1));
    await reader.read();
    expect(reopens).toBe(1);
    // Reads every 20 ms and on every event of the directory: none rotates within the 400 ms.
    await new Promise((r) => setTimeout(r, 250));
    expect(reopens).toBe(1);
    await new Promise((r) => setTimeout(r, 400));
    expect(reopens).toBe(2);
  });

  it('without holders to watch, takes the renamed file as complete once it stopped growing', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'graylane-access-')), 'access.log');
    const seen: number[] = [];
    reader = followAccessLog({
      path,
      pollMs: 10,
      onLine: (l, n) => seen.push(...Array<number>(n).fill(Math.round(l.requestMs))),
      rotation: {
        maxBytes: 10,
        quietMs: 150,
        reopen: () => {
          setTimeout(() => appendFileSync(`${path}.rotated`, line(6)), 60);
          return Promise.resolve();
        },
      },
    });
    appendFileSync(path, line(1));
    const start = Date.now();
    await reader.read();
    expect(seen).toEqual([1, 6]);
    expect(Date.now() - start).toBeGreaterThanOrEqual(150);
    expect(existsSync(`${path}.rotated`)).toBe(false);
  });
});
