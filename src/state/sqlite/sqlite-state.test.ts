import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { fullStatus, statePortConformance } from '../state-port.case.test.js';
import type { Store } from '../store.js';
import { guardWrites } from '../write-guard.js';
import { createSqliteState, openSqliteState } from './sqlite-state.js';
import { openSqliteStore } from './sqlite-store.js';

const tempFile = () => join(mkdtempSync(join(tmpdir(), 'graylane-state-')), 'state.db');

function harness(store: Store) {
  return {
    state: createSqliteState({ store }),
    recordedEvents: ({ namespace, name }: { namespace: string; name: string }) =>
      store.listEvents({ namespace, service: name }).map(({ atMs, level, reason, message }) => ({ atMs, level, reason, message })),
    close: () => store.close(),
  };
}

statePortConformance('sqlite in memory', () => harness(openSqliteStore({ file: ':memory:' })));
statePortConformance('sqlite file', () => harness(openSqliteStore({ file: tempFile() })));

describe('sqlite state port', () => {
  it('what the port committed is what the store reads, and survives a reopen', async () => {
    const file = tempFile();
    const { state, store } = openSqliteState({ file });
    expect(state.type).toBe('sqlite');
    await state.commit({ namespace: 'default', name: 'api' }, { status: fullStatus(), events: [{ atMs: 1, level: 'info', reason: 'R', message: 'm' }] }, 0);
    expect([store.getStatus('api'), store.getStatusVersion('api'), store.eventsSinceVersion('api', 0).map((e) => e.reason)]).toEqual([fullStatus(), 1, ['R']]);
    store.close();
    const again = openSqliteState({ file });
    expect(await again.state.load({ namespace: 'default', name: 'api' })).toMatchObject({ status: fullStatus(), version: 1 });
    again.store.close();
  });

  it('a full disk under the port is the write guard\'s StateDirFull, reported once, as a rejection', async () => {
    const inner = openSqliteStore({ file: ':memory:' });
    const failures: string[] = [];
    const full = Object.assign(Object.create(inner) as Store, {
      commitRollout: () => { throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL'); },
    });
    const state = createSqliteState({ store: guardWrites(full, { onWriteFailed: (e) => failures.push(e.code), onWriteSucceeded: () => undefined }) });
    await expect(state.commit({ namespace: 'default', name: 'api' }, { status: fullStatus() }, 0)).rejects.toMatchObject({ code: 'StateDirFull' });
    expect(failures).toEqual(['StateDirFull']);
    inner.close();
  });

  it('a damaged status row is a rejection with the damaged-row sentence', async () => {
    const file = tempFile();
    const { state, store } = openSqliteState({ file });
    await state.commit({ namespace: 'team-b', name: 'api' }, { status: fullStatus() }, 0);
    const db = new Database(file);
    db.prepare(`UPDATE statuses SET status = '{"phase": "Sideways"}' WHERE namespace = 'team-b'`).run();
    db.close();
    await expect(state.load({ namespace: 'team-b', name: 'api' })).rejects.toThrow(
      /state file .*state\.db is damaged: the status of service "team-b\/api" cannot be read \(phase "Sideways" is not one of/,
    );
    store.close();
  });
});
