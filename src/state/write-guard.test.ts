import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import { fullRelease } from './state-port.case.test.js';
import { StateConflictError } from './state-port.js';
import { StoreError, type Store } from './store.js';
import { guardWrites, writeFailure } from './write-guard.js';

describe('write failures of the state store', () => {
  it.each([
    ['SQLITE_FULL', new Database.SqliteError('database or disk is full', 'SQLITE_FULL')],
    ['ENOSPC', Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })],
  ])('%s reads "the state directory is full", naming the directory', (_n, err) => {
    const e = writeFailure(err, '/var/lib/graylane/state.db');
    expect(e.code).toBe('StateDirFull');
    expect(e.message).toMatch(/^the state directory is full \(\/var\/lib\/graylane\)/);
  });

  it('another write error says its own cause', () => {
    const e = writeFailure(new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_WRITE'), undefined);
    expect(e.code).toBe('StateWriteFailed');
    expect(e.message).toContain('SQLITE_IOERR_WRITE: disk I/O error');
  });

  it('reports failures and successes once per outermost write; the caller\'s own errors pass through unreported', () => {
    const seen: string[] = [];
    const store = guardWrites(openSqliteStore({ file: ':memory:' }), { onWriteFailed: (e) => seen.push(e.code), onWriteSucceeded: () => seen.push('ok') });
    store.transaction(() => store.setSetting('a', '1'));
    expect(seen).toEqual(['ok']);
    const mine = new RangeError('a bug of the caller');
    expect(() => store.transaction(() => { throw mine; })).toThrow(mine);
    expect(seen).toEqual(['ok']);
    expect(store.getSetting('a')).toBe('1');
    expect(() => store.transaction(() => { throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }); })).toThrow(StoreError);
    expect(seen).toEqual(['ok', 'StateDirFull']);
  });

  it.each(['commit', 'commitRollout', 'commitRelease', 'putRelease', 'putApp'] as const)('%s is a guarded write: a full disk under it reads StateDirFull and is reported', (name) => {
    const inner = openSqliteStore({ file: ':memory:' });
    const full = Object.assign(Object.create(inner) as Store, {
      [name]: () => { throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL'); },
    });
    const seen: string[] = [];
    const store = guardWrites(full, { onWriteFailed: (e) => seen.push(e.code), onWriteSucceeded: () => seen.push('ok') });
    const write = (store as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!;
    expect(() => write()).toThrow(expect.objectContaining({ code: 'StateDirFull' }));
    expect(seen).toEqual(['StateDirFull']);
    inner.close();
  });

  it('a conflict is the caller\'s to handle: it passes through as it is, not as a write failure', () => {
    const seen: string[] = [];
    const store = guardWrites(openSqliteStore({ file: ':memory:' }), { onWriteFailed: (e) => seen.push(e.code), onWriteSucceeded: () => seen.push('ok') });
    expect(() => store.commitRelease({ namespace: 'default', name: 'shop' }, fullRelease(), 3)).toThrow(StateConflictError);
    expect(seen).toEqual([]);
  });
});
