import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { storeConformance } from '../store.case.test.js';
import { StoreError } from '../store.js';
import { openStore } from '../registry.js';
import { openSqliteStore } from './sqlite-store.js';

const tempFile = () => join(mkdtempSync(join(tmpdir(), 'graylane-store-')), 'state.db');

storeConformance('sqlite in memory', () => ({ store: openSqliteStore({ file: ':memory:' }) }));
storeConformance('sqlite file', () => {
  const file = tempFile();
  return { store: openSqliteStore({ file }), reopen: () => openSqliteStore({ file }) };
});

describe('sqlite store errors', () => {
  it('refuses a corrupt file with a sentence saying what to do, and leaves the file as it was', () => {
    const file = tempFile();
    const garbage = 'this is not a database'.repeat(200);
    writeFileSync(file, garbage);
    const err = (() => { try { openSqliteStore({ file }); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('StoreCorrupt');
    expect((err as StoreError).message).toMatch(/state file .*state\.db cannot be read .*move the file aside/);
    expect(readFileSync(file, 'utf8')).toBe(garbage);
  });

  it('refuses a file written by a newer graylane', () => {
    const file = tempFile();
    openSqliteStore({ file }).close();
    const db = new Database(file);
    db.pragma('user_version = 99');
    db.close();
    expect(() => openSqliteStore({ file })).toThrow(/newer graylane \(schema 99/);
  });

  it('refuses a SQLite file that is some other program\'s database', () => {
    const file = tempFile();
    const db = new Database(file);
    db.exec('CREATE TABLE customers (id INTEGER)');
    db.close();
    expect(() => openSqliteStore({ file })).toThrow(/not graylane state/);
  });

  it('a missing state directory is named as such, not as a corrupt file', () => {
    expect(() => openSqliteStore({ file: join(tmpdir(), 'graylane-no-such-dir', 'state.db') })).toThrow(/state directory .*graylane-no-such-dir does not exist/);
  });

  it('an unknown store type is an error naming the known ones', () => {
    expect(() => openStore({ type: 'etcd', file: 'x' })).toThrow('no store of type "etcd"; known: sqlite');
  });
});
