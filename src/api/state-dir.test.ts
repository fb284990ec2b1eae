/** The state dir holds every service's environment and the release secret: only its owner may read it. */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureStateDir, StateDirError } from './state-dir.js';

const mode = (path: string) => statSync(path).mode & 0o777;
const OTHER_UID = 65534;

function oldStateDir(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'graylane-state-')), '.graylane');
  mkdirSync(join(dir, 'logs', 'api', 'r1'), { recursive: true, mode: 0o755 });
  for (const f of ['state.db', 'state.db-wal', 'state.db-shm', 'token', 'daemon.json', 'logs/api/r1/api-r1-a.log']) writeFileSync(join(dir, f), 'x', { mode: 0o644 });
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'logs'), 0o755);
  return dir;
}

describe('ensureStateDir', () => {
  it('tightens an existing 0755 state dir to 0700 and its files (state.db, -wal, -shm, token, logs) to 0600', () => {
    const dir = oldStateDir();
    const outside = join(dir, '..', 'outside');
    writeFileSync(outside, 'x', { mode: 0o644 });
    symlinkSync(outside, join(dir, 'link'));
    ensureStateDir(dir);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'logs'))).toBe(0o700);
    expect(mode(join(dir, 'logs', 'api', 'r1'))).toBe(0o700);
    for (const f of ['state.db', 'state.db-wal', 'state.db-shm', 'token', 'daemon.json', 'logs/api/r1/api-r1-a.log']) expect(mode(join(dir, f))).toBe(0o600);
    // A link is not followed: what it points at is not ours to change.
    expect(mode(outside)).toBe(0o644);
  });

  it('creates a missing state dir 0700', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'graylane-state-')), 'a', '.graylane');
    ensureStateDir(dir);
    expect(mode(dir)).toBe(0o700);
  });

  it('refuses a state dir that belongs to another user, and changes nothing', () => {
    const dir = oldStateDir();
    chownSync(dir, OTHER_UID, OTHER_UID);
    expect(() => ensureStateDir(dir)).toThrow(StateDirError);
    expect(() => ensureStateDir(dir)).toThrow(/belongs to user 65534/);
    expect(mode(dir)).toBe(0o755);
  });

  it('refuses a state dir with a file another user put there', () => {
    const dir = oldStateDir();
    chownSync(join(dir, 'state.db-wal'), OTHER_UID, OTHER_UID);
    expect(() => ensureStateDir(dir)).toThrow(/state\.db-wal belongs to user 65534/);
  });

  it('refuses a dir open to others whose mode cannot be changed', () => {
    // /proc/<pid> is ours and r-x for everyone, and chmod on it fails: a stand-in for a file
    // system that does not keep Unix permissions.
    let err: unknown;
    try {
      ensureStateDir(`/proc/${process.pid}`);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateDirError);
    expect((err as StateDirError).code).toBe('Insecure');
    expect((err as Error).message).toMatch(/cannot be made private/);
  });
});
