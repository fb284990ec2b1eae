import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  corruptRow,
  StoreError,
  type ReconcileCommit,
  type Store,
  type StoredAnalysisRun,
  type StoredEvent,
  type StoredInstance,
  type StoredRevision,
  type StoredService,
} from '../store.js';

/** Bumped when the tables change; a newer file than this code is refused, never rewritten. */
const SCHEMA_VERSION = 2;

const MIGRATIONS: string[] = [
  `CREATE TABLE services (
     name TEXT PRIMARY KEY, spec TEXT NOT NULL, base_dir TEXT NOT NULL,
     desired_revision TEXT NOT NULL, applied_at_ms INTEGER NOT NULL);
   CREATE TABLE revisions (
     service TEXT NOT NULL, name TEXT NOT NULL, number INTEGER NOT NULL,
     template TEXT NOT NULL, created_at_ms INTEGER NOT NULL,
     PRIMARY KEY (service, name));
   CREATE TABLE statuses (service TEXT PRIMARY KEY, status TEXT NOT NULL, updated_at_ms INTEGER NOT NULL);
   CREATE TABLE events (
     id INTEGER PRIMARY KEY AUTOINCREMENT, service TEXT NOT NULL, at_ms INTEGER NOT NULL,
     level TEXT NOT NULL, reason TEXT NOT NULL, message TEXT NOT NULL);
   CREATE INDEX events_service ON events (service, id);
   CREATE TABLE instances (id TEXT PRIMARY KEY, service TEXT NOT NULL, revision TEXT NOT NULL, record TEXT NOT NULL);
   CREATE TABLE analysis_runs (
     id TEXT PRIMARY KEY, service TEXT NOT NULL, name TEXT NOT NULL, phase TEXT NOT NULL,
     run TEXT NOT NULL, started_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL);
   CREATE INDEX analysis_runs_service ON analysis_runs (service, started_at_ms);
   CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  // 2: statuses carry a commit version, events the version they were committed with.
  `ALTER TABLE statuses ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE events ADD COLUMN status_version INTEGER;`,
];

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** Database file; `:memory:` for tests that need no persistence. */
  file: string;
  /** Clock for updated-at stamps; injectable for tests. */
  nowMs?: () => number;
}

/** Opens (creating if needed) the daemon's SQLite state file. Refuses a corrupt or newer file. */
export function openSqliteStore(options: SqliteStoreOptions): Store {
  return new SqliteStore(options);
}

interface EventRow { id: number; service: string; at_ms: number; level: StoredEvent['level']; reason: string; message: string }
interface ServiceRow { name: string; spec: string; base_dir: string; desired_revision: string; applied_at_ms: number }
interface RevisionRow { service: string; name: string; number: number; template: string; created_at_ms: number }
interface RunRow { id: string; service: string; name: string; phase: string; run: string; started_at_ms: number; updated_at_ms: number }

class SqliteStore implements Store {
  readonly type = 'sqlite';
  readonly location: string | undefined;
  private readonly db: Database.Database;
  private readonly nowMs: () => number;

  constructor(options: SqliteStoreOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.location = options.file === ':memory:' ? undefined : options.file;
    if (options.file !== ':memory:' && !existsSync(dirname(options.file))) {
      throw new StoreError('StoreUnavailable', `state directory ${dirname(options.file)} does not exist; create it (graylane up does) or point --state-dir elsewhere`, options.file);
    }
    const existed = options.file !== ':memory:' && existsSync(options.file);
    try {
      this.db = new Database(options.file, { timeout: 5000 });
      // Full sync: a transition acknowledged to the caller survives power loss, not just a crash.
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      if (existed) {
        const check = this.db.pragma('quick_check', { simple: true }) as string;
        if (check !== 'ok') throw new Error(check);
      }
    } catch (err) {
      throw corrupt(options.file, err);
    }
    this.migrate(options.file);
    this.checkRows(options.file);
  }

  /**
   * Every JSON cell must parse: a row damaged by hand or by a bad disk passes quick_check, and
   * would otherwise surface later as a raw SyntaxError in the middle of routing.
   */
  private checkRows(file: string): void {
    const cells: [table: string, key: string, column: string, what: (key: string) => string][] = [
      ['statuses', 'service', 'status', (k) => `the status of service "${k}"`],
      ['services', 'name', 'spec', (k) => `the spec of service "${k}"`],
      ['revisions', `service || ' revision ' || name`, 'template', (k) => `the template of service ${k}`],
      ['instances', 'id', 'record', (k) => `the record of instance ${k}`],
      ['analysis_runs', 'id', 'run', (k) => `analysis run ${k}`],
    ];
    for (const [table, key, column, what] of cells) {
      for (const row of this.db.prepare(`SELECT ${key} AS k, ${column} AS v FROM ${table}`).all() as { k: string; v: string }[]) {
        try {
          JSON.parse(row.v);
        } catch (err) {
          this.db.close();
          throw corruptRow(file, what(row.k), err);
        }
      }
    }
  }

  private migrate(file: string): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      this.db.close();
      throw new StoreError(
        'StoreTooNew',
        `state file ${file} was written by a newer graylane (schema ${version}, this one knows ${SCHEMA_VERSION}); upgrade graylane or use another --state-dir. Nothing was changed.`,
        file,
      );
    }
    if (version === 0 && this.hasUserTables()) {
      this.db.close();
      throw corrupt(file, new Error('it holds tables that are not graylane state'));
    }
    this.db.transaction(() => {
      for (let v = version; v < SCHEMA_VERSION; v++) this.db.exec(MIGRATIONS[v]!);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
  }

  private hasUserTables(): boolean {
    const row = this.db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`).get() as { n: number };
    return row.n > 0;
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  putService(s: StoredService): void {
    this.db
      .prepare(
        `INSERT INTO services (name, spec, base_dir, desired_revision, applied_at_ms) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, base_dir = excluded.base_dir,
           desired_revision = excluded.desired_revision, applied_at_ms = excluded.applied_at_ms`,
      )
      .run(s.name, JSON.stringify(s.spec), s.baseDir, s.desiredRevision, s.appliedAtMs);
  }

  getService(name: string): StoredService | undefined {
    const row = this.db.prepare(`SELECT * FROM services WHERE name = ?`).get(name) as ServiceRow | undefined;
    return row && toService(row);
  }

  listServices(): StoredService[] {
    return (this.db.prepare(`SELECT * FROM services ORDER BY name`).all() as ServiceRow[]).map(toService);
  }

  deleteService(name: string): void {
    this.transaction(() => {
      for (const table of ['services', 'statuses']) {
        this.db.prepare(`DELETE FROM ${table} WHERE ${table === 'services' ? 'name' : 'service'} = ?`).run(name);
      }
      for (const table of ['revisions', 'instances', 'analysis_runs']) {
        this.db.prepare(`DELETE FROM ${table} WHERE service = ?`).run(name);
      }
    });
  }

  addRevision(r: Omit<StoredRevision, 'number'>): StoredRevision {
    return this.transaction(() => {
      const existing = this.db
        .prepare(`SELECT * FROM revisions WHERE service = ? AND name = ?`)
        .get(r.service, r.name) as RevisionRow | undefined;
      if (existing) return toRevision(existing);
      const { n } = this.db
        .prepare(`SELECT coalesce(max(number), 0) + 1 AS n FROM revisions WHERE service = ?`)
        .get(r.service) as { n: number };
      this.db
        .prepare(`INSERT INTO revisions (service, name, number, template, created_at_ms) VALUES (?, ?, ?, ?, ?)`)
        .run(r.service, r.name, n, JSON.stringify(r.template), r.createdAtMs);
      return { ...r, number: n };
    });
  }

  listRevisions(service: string): StoredRevision[] {
    return (this.db.prepare(`SELECT * FROM revisions WHERE service = ? ORDER BY number`).all(service) as RevisionRow[]).map(toRevision);
  }

  deleteRevision(service: string, name: string): void {
    this.db.prepare(`DELETE FROM revisions WHERE service = ? AND name = ?`).run(service, name);
  }

  getStatus(service: string): unknown {
    const row = this.db.prepare(`SELECT status FROM statuses WHERE service = ?`).get(service) as { status: string } | undefined;
    if (!row) return undefined;
    try {
      return JSON.parse(row.status);
    } catch (err) {
      throw corruptRow(this.location ?? ':memory:', `the status of service "${service}"`, err);
    }
  }

  getStatusVersion(service: string): number {
    const row = this.db.prepare(`SELECT version FROM statuses WHERE service = ?`).get(service) as { version: number } | undefined;
    return row?.version ?? 0;
  }

  eventsSinceVersion(service: string, version: number): StoredEvent[] {
    const rows = this.db
      .prepare(`SELECT * FROM events WHERE service = ? AND status_version > ? ORDER BY id`)
      .all(service, version) as EventRow[];
    return rows.map((r) => ({ id: r.id, service: r.service, atMs: r.at_ms, level: r.level, reason: r.reason, message: r.message }));
  }

  commit(c: ReconcileCommit): number[] {
    return this.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO statuses (service, status, updated_at_ms, version) VALUES (?, ?, ?, 1)
           ON CONFLICT (service) DO UPDATE SET status = excluded.status, updated_at_ms = excluded.updated_at_ms, version = statuses.version + 1`,
        )
        .run(c.service, JSON.stringify(c.status), this.nowMs());
      const ids = this.appendEvents(c.service, c.events ?? []);
      if (ids.length > 0) {
        this.db
          .prepare(`UPDATE events SET status_version = (SELECT version FROM statuses WHERE service = ?) WHERE id >= ? AND id <= ?`)
          .run(c.service, ids[0], ids.at(-1));
      }
      return ids;
    });
  }

  appendEvents(service: string, events: Omit<StoredEvent, 'id' | 'service'>[]): number[] {
    const insert = this.db.prepare(`INSERT INTO events (service, at_ms, level, reason, message) VALUES (?, ?, ?, ?, ?)`);
    return this.transaction(() =>
      events.map((e) => Number(insert.run(service, e.atMs, e.level, e.reason, e.message).lastInsertRowid)),
    );
  }

  trimEvents(options: { keepPerService: number; maxAgeMs: number; nowMs: number }): number {
    const { changes } = this.db
      .prepare(
        `DELETE FROM events WHERE at_ms < ? OR id IN (
           SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY service ORDER BY id DESC) AS n FROM events) WHERE n > ?)`,
      )
      .run(options.nowMs - options.maxAgeMs, options.keepPerService);
    return changes;
  }

  listEvents(options: { service?: string; afterId?: number; limit?: number } = {}): StoredEvent[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM (SELECT * FROM events WHERE id > ? AND (? IS NULL OR service = ?) ORDER BY id DESC LIMIT ?) ORDER BY id`,
      )
      .all(options.afterId ?? 0, options.service ?? null, options.service ?? null, options.limit ?? 1000) as EventRow[];
    return rows.map((r) => ({ id: r.id, service: r.service, atMs: r.at_ms, level: r.level, reason: r.reason, message: r.message }));
  }

  putInstance(i: StoredInstance): void {
    this.db
      .prepare(
        `INSERT INTO instances (id, service, revision, record) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET service = excluded.service, revision = excluded.revision, record = excluded.record`,
      )
      .run(i.id, i.service, i.revision, JSON.stringify(i.record));
  }

  deleteInstance(id: string): void {
    this.db.prepare(`DELETE FROM instances WHERE id = ?`).run(id);
  }

  listInstances(service?: string): StoredInstance[] {
    const rows = this.db
      .prepare(`SELECT * FROM instances WHERE (? IS NULL OR service = ?) ORDER BY id`)
      .all(service ?? null, service ?? null) as { id: string; service: string; revision: string; record: string }[];
    return rows.map((r) => ({ id: r.id, service: r.service, revision: r.revision, record: JSON.parse(r.record) as unknown }));
  }

  putAnalysisRun(r: StoredAnalysisRun): void {
    this.db
      .prepare(
        `INSERT INTO analysis_runs (id, service, name, phase, run, started_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET phase = excluded.phase, run = excluded.run, updated_at_ms = excluded.updated_at_ms`,
      )
      .run(r.id, r.service, r.name, r.phase, JSON.stringify(r.run), r.startedAtMs, r.updatedAtMs);
  }

  listAnalysisRuns(service: string, limit = 50): StoredAnalysisRun[] {
    const rows = this.db
      .prepare(`SELECT * FROM analysis_runs WHERE service = ? ORDER BY started_at_ms DESC, id DESC LIMIT ?`)
      .all(service, limit) as RunRow[];
    return rows.map((r) => ({
      id: r.id, service: r.service, name: r.name, phase: r.phase, run: JSON.parse(r.run) as unknown,
      startedAtMs: r.started_at_ms, updatedAtMs: r.updated_at_ms,
    }));
  }

  getSetting(key: string): string | undefined {
    const row = this.db.prepare(`SELECT value FROM settings WHERE key = ?`).get(key) as { value: string } | undefined;
    return row?.value;
  }

  setSetting(key: string, value: string): void {
    this.db
      .prepare(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
      .run(key, value);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function toService(r: ServiceRow): StoredService {
  return { name: r.name, spec: JSON.parse(r.spec) as unknown, baseDir: r.base_dir, desiredRevision: r.desired_revision, appliedAtMs: r.applied_at_ms };
}

function toRevision(r: RevisionRow): StoredRevision {
  return { service: r.service, name: r.name, number: r.number, template: JSON.parse(r.template) as unknown, createdAtMs: r.created_at_ms };
}

function corrupt(file: string, cause: unknown): StoreError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new StoreError(
    'StoreCorrupt',
    `state file ${file} cannot be read (${reason}). graylane changed nothing: move the file aside (or restore it from a backup) and run the command again; running app processes are not affected.`,
    file,
  );
}

