import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { fullRelease, fullStatus, fullTraffic } from '../state-port.case.test.js';
import { StoreError } from '../store.js';
import { openSqliteStore } from './sqlite-store.js';

/** The tables as graylane wrote them at schema 2 (before records had namespaces and types). */
const SCHEMA_2 = `
  CREATE TABLE services (name TEXT PRIMARY KEY, spec TEXT NOT NULL, base_dir TEXT NOT NULL, desired_revision TEXT NOT NULL, applied_at_ms INTEGER NOT NULL);
  CREATE TABLE revisions (service TEXT NOT NULL, name TEXT NOT NULL, number INTEGER NOT NULL, template TEXT NOT NULL, created_at_ms INTEGER NOT NULL, PRIMARY KEY (service, name));
  CREATE TABLE statuses (service TEXT PRIMARY KEY, status TEXT NOT NULL, updated_at_ms INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, service TEXT NOT NULL, at_ms INTEGER NOT NULL, level TEXT NOT NULL, reason TEXT NOT NULL, message TEXT NOT NULL, status_version INTEGER);
  CREATE INDEX events_service ON events (service, id);
  CREATE TABLE instances (id TEXT PRIMARY KEY, service TEXT NOT NULL, revision TEXT NOT NULL, record TEXT NOT NULL);
  CREATE TABLE analysis_runs (id TEXT PRIMARY KEY, service TEXT NOT NULL, name TEXT NOT NULL, phase TEXT NOT NULL, run TEXT NOT NULL, started_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL);
  CREATE INDEX analysis_runs_service ON analysis_runs (service, started_at_ms);
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  PRAGMA user_version = 2;`;

const APP = { apiVersion: 'graylane.dev/v1alpha1', kind: 'App', metadata: { name: 'shop' }, spec: { services: [{ name: 'api' }, { name: 'web' }] } };
const TEMPLATES = [{ apiVersion: 'graylane.dev/v1alpha1', kind: 'AnalysisTemplate', metadata: { name: 'errors' }, spec: { metrics: [] } }];

/** A state.db as a schema-2 daemon left it; `settings` overrides or adds settings rows. */
function oldFile(settings: Record<string, string | undefined> = {}): string {
  const file = join(mkdtempSync(join(tmpdir(), 'graylane-migrate-')), 'state.db');
  const db = new Database(file);
  db.exec(SCHEMA_2);
  db.prepare(`INSERT INTO services VALUES ('api', '{}', '/app', 'bbb', 1)`).run();
  db.prepare(`INSERT INTO statuses VALUES ('api', ?, 7, 4)`).run(JSON.stringify(fullStatus()));
  // Committed under schema 1, before statuses had versions.
  db.prepare(`INSERT INTO statuses VALUES ('web', ?, 7, 0)`).run(JSON.stringify(fullStatus({ phase: 'Healthy' })));
  const event = db.prepare(`INSERT INTO events (service, at_ms, level, reason, message, status_version) VALUES (?, ?, 'info', ?, 'm', ?)`);
  event.run('api', 1, 'Applied', null);
  event.run('api', 2, 'StepCompleted', 3);
  event.run('api', 3, 'Paused', 4);
  const rows: Record<string, string | undefined> = {
    'traffic/api': JSON.stringify(fullTraffic()),
    'traffic/gone': JSON.stringify(fullTraffic({ stableRevision: 'old' })),
    'release/shop': JSON.stringify(fullRelease()),
    app: JSON.stringify(APP),
    templates: JSON.stringify(TEMPLATES),
    listen: '127.0.0.1:8080',
    ...settings,
  };
  for (const [key, value] of Object.entries(rows)) if (value !== undefined) db.prepare(`INSERT INTO settings VALUES (?, ?)`).run(key, value);
  db.close();
  return file;
}

function schemaOf(file: string): { version: unknown; settings: string[] } {
  const db = new Database(file, { readonly: true });
  const result = {
    version: db.pragma('user_version', { simple: true }),
    settings: (db.prepare(`SELECT key FROM settings ORDER BY key`).all() as { key: string }[]).map((r) => r.key),
  };
  db.close();
  return result;
}

describe('a state file written at schema 2', () => {
  it('opens with everything where the typed records keep it, and the settings bag keeps only the rest', () => {
    const file = oldFile();
    const store = openSqliteStore({ file });
    expect([store.getStatus('api'), store.getTraffic('api'), store.getStatusVersion('api')]).toEqual([fullStatus(), fullTraffic(), 4]);
    expect(store.eventsSinceVersion('api', 3).map((e) => e.reason)).toEqual(['Paused']);
    expect(store.listEvents({ service: 'api' }).map((e) => e.reason)).toEqual(['Applied', 'StepCompleted', 'Paused']);
    expect([store.getStatus('web'), store.getTraffic('web'), store.getStatusVersion('web')]).toEqual([fullStatus({ phase: 'Healthy' }), undefined, 1]);
    expect(store.loadRelease({ namespace: 'default', name: 'shop' })).toEqual({ key: { namespace: 'default', name: 'shop' }, state: fullRelease(), version: 1 });
    expect(store.getApp()).toEqual({ app: APP, templates: TEMPLATES });
    expect(store.getSetting('listen')).toBe('127.0.0.1:8080');
    store.close();
    expect(schemaOf(file)).toEqual({ version: 3, settings: ['listen'] });
  });

  it('goes on where it was: the next commit is version 5, and a stale one is refused', () => {
    const store = openSqliteStore({ file: oldFile() });
    expect(() => store.commit({ service: 'api', status: fullStatus(), expectedVersion: 3 })).toThrow('version 3 expected, 4 found');
    store.commit({ service: 'api', status: fullStatus({ phase: 'Healthy' }), expectedVersion: 4 });
    expect([store.getStatusVersion('api'), store.getTraffic('api')]).toEqual([5, fullTraffic()]);
    store.close();
  });

  it('an App applied before templates were kept has no templates', () => {
    const store = openSqliteStore({ file: oldFile({ templates: undefined }) });
    expect(store.getApp()).toEqual({ app: APP, templates: [] });
    store.close();
  });

  it.each([
    ['traffic/api', 'the traffic in force of service "api"'],
    ['release/shop', 'the state of release "shop"'],
    ['app', 'the applied App'],
    ['templates', 'the applied analysis templates'],
  ])('with a damaged %s setting is refused naming it, and is left at schema 2 as it was', (key, what) => {
    const file = oldFile({ [key]: '{"phase": ' });
    const err = (() => { try { openSqliteStore({ file }); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('StoreCorrupt');
    expect((err as StoreError).message).toContain(`is damaged: ${what} cannot be read (`);
    expect(schemaOf(file)).toEqual({ version: 2, settings: ['app', 'listen', 'release/shop', 'templates', 'traffic/api', 'traffic/gone'] });
  });

  it('with a status the engine cannot run on is refused with the damaged-row sentence', () => {
    const file = oldFile();
    const db = new Database(file);
    db.prepare(`UPDATE statuses SET status = '{"phase": "Healthy"}' WHERE service = 'web'`).run();
    db.close();
    expect(() => openSqliteStore({ file })).toThrow(/is damaged: the status of service "web" cannot be read \(currentStepIndex is missing/);
    expect(schemaOf(file).version).toBe(2);
  });
});
