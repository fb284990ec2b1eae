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

describe('sqlite store: the applied App read back', () => {
  const app = (image: string) => ({ apiVersion: 'graylane.dev/v1alpha1', kind: 'App', metadata: { name: 'shop' }, spec: { services: [{ name: 'api', image }] } }) as never;

  it('is parsed once while unchanged, and what it returns cannot be changed by a reader', () => {
    const store = openSqliteStore({ file: ':memory:' });
    store.putApp({ app: app('v1'), templates: [] });
    const first = store.getApp()!;
    expect(store.getApp()).toBe(first);
    expect(() => { (first.app as unknown as { metadata: { name: string } }).metadata.name = 'changed'; }).toThrow(TypeError);
    expect(store.getApp()!.app).toEqual(app('v1'));
  });

  it('follows a write, its own or another store\'s on the same file', () => {
    const file = tempFile();
    const store = openSqliteStore({ file });
    const other = openSqliteStore({ file });
    store.putApp({ app: app('v1'), templates: [] });
    expect(store.getApp()!.app).toEqual(app('v1'));
    store.putApp({ app: app('v2'), templates: [] });
    expect(store.getApp()!.app).toEqual(app('v2'));
    other.putApp({ app: app('v3'), templates: [] });
    expect(store.getApp()!.app).toEqual(app('v3'));
    store.close();
    other.close();
  });
});

describe('sqlite store: instance records skip the fsync, nothing else does', () => {
  const syncLevel = (store: unknown) => (store as { syncLevel(): number }).syncLevel();
  const FULL = 2;

  it('puts the connection back to a full sync after each instance write, also one that fails', () => {
    const store = openSqliteStore({ file: tempFile() });
    expect(syncLevel(store)).toBe(FULL);
    store.putInstance({ id: 'api-1', service: 'api', revision: 'r1', record: { pid: 42 } });
    expect(syncLevel(store)).toBe(FULL);
    expect(() => store.putInstance({ id: 'api-2', service: 'api', revision: 'r1', record: { pid: 10n } })).toThrow(/BigInt/);
    expect(syncLevel(store)).toBe(FULL);
    store.deleteInstance('api-1');
    expect(syncLevel(store)).toBe(FULL);
    expect(store.listInstances()).toEqual([]);
    store.close();
  });

  it('a record written without the fsync is there for the next daemon (a crash keeps what the OS accepted)', () => {
    const file = tempFile();
    const store = openSqliteStore({ file });
    store.transaction(() => store.putInstance({ id: 'api-1', service: 'api', revision: 'r1', record: { pid: 1 } }));
    store.putInstance({ id: 'api-2', service: 'api', revision: 'r1', record: { pid: 2 } });
    const next = openSqliteStore({ file });
    expect(next.listInstances().map((i) => i.id)).toEqual(['api-1', 'api-2']);
    store.close();
    next.close();
  });
});
