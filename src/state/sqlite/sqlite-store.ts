import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { statusProblem, type RolloutStatus, type TrafficInForce } from '../../engine/index.js';
import type { ReleaseState } from '../../engine/release/releases.js';
import {
  DEFAULT_NAMESPACE,
  StateConflictError,
  type CommitResult,
  type NewEvent,
  type ObjectKey,
  type ReleaseRecord,
  type RolloutChange,
  type RolloutRecord,
} from '../state-port.js';
import {
  corruptRow,
  StoreError,
  type ReconcileCommit,
  type Store,
  type StoredAnalysisRun,
  type StoredApp,
  type StoredEvent,
  type StoredInstance,
  type StoredRevision,
  type StoredService,
} from '../store.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';

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
  /** The file as damage messages name it. */
  private readonly file: string;
  private readonly db: Database.Database;
  private readonly nowMs: () => number;
  /**
   * Prepared once: the daemon reads its state several times a second per service (views, the
   * guard, the reconciler), and preparing a statement costs more than running it.
   */
  private readonly statements = new Map<string, Database.Statement>();
  /**
   * The applied App parsed, with the text it came from: it is read for every view and every pass
   * (tens of times a second with ten services), rarely written, and parsing it was a third of an
   * idle daemon's CPU. Reused only while the stored text is the same, so a write by another
   * store on the same file is seen; frozen, so no reader can change what the next one gets.
   */
  private appCache: { appText: string; templatesText: string; value: StoredApp } | undefined;

  constructor(options: SqliteStoreOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.location = options.file === ':memory:' ? undefined : options.file;
    this.file = options.file;
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
    // Migration and check in one transaction: a file that turns out damaged is left as it was.
    try {
      this.db.transaction(() => {
        this.migrate(options.file);
        this.checkRows(options.file);
      })();
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  /**
   * Every JSON cell must parse, and every status must be one the engine can run on: a row damaged
   * by hand or by a bad disk passes quick_check, and would otherwise surface later as a raw
   * SyntaxError (or as nonsense acted on) in the middle of routing.
   */
  private checkRows(file: string): void {
    const cells: [table: string, key: string, column: string, what: (key: string) => string, check?: (value: unknown) => string | undefined][] = [
      ['statuses', `namespace || '/' || service`, 'status', (k) => `the status of service ${quoteKey(k)}`, statusProblem],
      ['statuses', `namespace || '/' || service`, 'traffic', (k) => `the traffic in force of service ${quoteKey(k)}`],
      ['releases', `namespace || '/' || name`, 'state', (k) => `the state of release ${quoteKey(k)}`],
      ['app', `'app'`, 'app', () => 'the applied App'],
      ['app', `'app'`, 'templates', () => 'the applied analysis templates'],
      ['services', 'name', 'spec', (k) => `the spec of service "${k}"`],
      ['revisions', `service || ' revision ' || name`, 'template', (k) => `the template of service ${k}`],
      ['instances', 'id', 'record', (k) => `the record of instance ${k}`],
      ['analysis_runs', 'id', 'run', (k) => `analysis run ${k}`],
    ];
    for (const [table, key, column, what, check] of cells) {
      const rows = this.statement(`SELECT ${key} AS k, ${column} AS v FROM ${table} WHERE ${column} IS NOT NULL`).all() as { k: string; v: string }[];
      for (const row of rows) parseCell(file, what(row.k), row.v, check);
    }
  }

  private migrate(file: string): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new StoreError(
        'StoreTooNew',
        `state file ${file} was written by a newer graylane (schema ${version}, this one knows ${SCHEMA_VERSION}); upgrade graylane or use another --state-dir. Nothing was changed.`,
        file,
      );
    }
    if (version === 0 && this.hasUserTables()) throw corrupt(file, new Error('it holds tables that are not graylane state'));
    for (let v = version; v < SCHEMA_VERSION; v++) this.db.exec(MIGRATIONS[v]!);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  private hasUserTables(): boolean {
    const row = this.statement(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`).get() as { n: number };
    return row.n > 0;
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  putService(s: StoredService): void {
    this.statement(
        `INSERT INTO services (name, spec, base_dir, desired_revision, applied_at_ms) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, base_dir = excluded.base_dir,
           desired_revision = excluded.desired_revision, applied_at_ms = excluded.applied_at_ms`,
      )
      .run(s.name, JSON.stringify(s.spec), s.baseDir, s.desiredRevision, s.appliedAtMs);
  }

  getService(name: string): StoredService | undefined {
    const row = this.statement(`SELECT * FROM services WHERE name = ?`).get(name) as ServiceRow | undefined;
    return row && toService(row);
  }

  listServices(): StoredService[] {
    return (this.statement(`SELECT * FROM services ORDER BY name`).all() as ServiceRow[]).map(toService);
  }

  deleteService(name: string): void {
    this.transaction(() => {
      this.statement(`DELETE FROM services WHERE name = ?`).run(name);
      this.statement(`DELETE FROM statuses WHERE namespace = ? AND service = ?`).run(DEFAULT_NAMESPACE, name);
      for (const table of ['revisions', 'instances', 'analysis_runs']) {
        this.statement(`DELETE FROM ${table} WHERE service = ?`).run(name);
      }
    });
  }

  addRevision(r: Omit<StoredRevision, 'number'>): StoredRevision {
    return this.transaction(() => {
      const existing = this.statement(`SELECT * FROM revisions WHERE service = ? AND name = ?`)
        .get(r.service, r.name) as RevisionRow | undefined;
      if (existing) return toRevision(existing);
      const { n } = this.statement(`SELECT coalesce(max(number), 0) + 1 AS n FROM revisions WHERE service = ?`)
        .get(r.service) as { n: number };
      this.statement(`INSERT INTO revisions (service, name, number, template, created_at_ms) VALUES (?, ?, ?, ?, ?)`)
        .run(r.service, r.name, n, JSON.stringify(r.template), r.createdAtMs);
      return { ...r, number: n };
    });
  }

  listRevisions(service: string): StoredRevision[] {
    return (this.statement(`SELECT * FROM revisions WHERE service = ? ORDER BY number`).all(service) as RevisionRow[]).map(toRevision);
  }

  deleteRevision(service: string, name: string): void {
    this.statement(`DELETE FROM revisions WHERE service = ? AND name = ?`).run(service, name);
  }

  getStatus(service: string): RolloutStatus | undefined {
    return this.loadRollout(defaultKey(service))?.status;
  }

  getTraffic(service: string): TrafficInForce | undefined {
    const row = this.statement(`SELECT traffic FROM statuses WHERE namespace = ? AND service = ?`)
      .get(DEFAULT_NAMESPACE, service) as { traffic: string | null } | undefined;
    if (row?.traffic == null) return undefined;
    return parseCell(this.file, `the traffic in force of service ${keyName(defaultKey(service))}`, row.traffic) as TrafficInForce;
  }

  getStatusVersion(service: string): number {
    const row = this.statement(`SELECT version FROM statuses WHERE namespace = ? AND service = ?`)
      .get(DEFAULT_NAMESPACE, service) as { version: number } | undefined;
    return row?.version ?? 0;
  }

  eventsSinceVersion(service: string, version: number): StoredEvent[] {
    const rows = this.statement(`SELECT * FROM events WHERE namespace = ? AND service = ? AND status_version > ? ORDER BY id`)
      .all(DEFAULT_NAMESPACE, service, version) as EventRow[];
    return rows.map(toEvent);
  }

  commit(c: ReconcileCommit): number[] {
    return this.writeRollout(defaultKey(c.service), c, c.expectedVersion).eventIds;
  }

  loadRollout(key: ObjectKey): RolloutRecord | undefined {
    const row = this.statement(`SELECT status, traffic, version FROM statuses WHERE namespace = ? AND service = ?`)
      .get(key.namespace, key.name) as { status: string; traffic: string | null; version: number } | undefined;
    if (!row) return undefined;
    const status = parseCell(this.file, `the status of service ${keyName(key)}`, row.status, statusProblem) as RolloutStatus;
    const record: RolloutRecord = { key: { ...key }, status, version: row.version };
    if (row.traffic !== null) record.traffic = parseCell(this.file, `the traffic in force of service ${keyName(key)}`, row.traffic) as TrafficInForce;
    return record;
  }

  commitRollout(key: ObjectKey, change: RolloutChange, expectedVersion: number): CommitResult {
    return this.writeRollout(key, change, expectedVersion);
  }

  /** Status, traffic (when given) and events in one transaction; with `expectedVersion`, only at that version. */
  private writeRollout(key: ObjectKey, change: RolloutChange, expectedVersion: number | undefined): CommitResult {
    return this.transaction(() => {
      const found = this.statement(`SELECT version FROM statuses WHERE namespace = ? AND service = ?`)
        .get(key.namespace, key.name) as { version: number } | undefined;
      const actual = found?.version ?? 0;
      if (expectedVersion !== undefined && expectedVersion !== actual) throw new StateConflictError({ ...key }, expectedVersion, actual);
      const version = actual + 1;
      this.statement(
          `INSERT INTO statuses (namespace, service, status, traffic, updated_at_ms, version) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (namespace, service) DO UPDATE SET status = excluded.status,
             traffic = coalesce(excluded.traffic, statuses.traffic), updated_at_ms = excluded.updated_at_ms, version = excluded.version`,
        )
        .run(key.namespace, key.name, JSON.stringify(change.status), change.traffic ? JSON.stringify(change.traffic) : null, this.nowMs(), version);
      const eventIds = this.insertEvents(key, change.events ?? [], version);
      return { version, eventIds };
    });
  }

  loadRelease(key: ObjectKey): ReleaseRecord | undefined {
    const row = this.statement(`SELECT state, version FROM releases WHERE namespace = ? AND name = ?`)
      .get(key.namespace, key.name) as { state: string; version: number } | undefined;
    if (!row) return undefined;
    return { key: { ...key }, state: parseCell(this.file, `the state of release ${keyName(key)}`, row.state) as ReleaseState, version: row.version };
  }

  commitRelease(key: ObjectKey, state: ReleaseState, expectedVersion: number): CommitResult {
    return this.writeRelease(key, state, expectedVersion);
  }

  getRelease(name: string): ReleaseState | undefined {
    return this.loadRelease(defaultKey(name))?.state;
  }

  putRelease(state: ReleaseState): void {
    this.writeRelease(defaultKey(state.name), state, undefined);
  }

  private writeRelease(key: ObjectKey, state: ReleaseState, expectedVersion: number | undefined): CommitResult {
    return this.transaction(() => {
      const found = this.statement(`SELECT version FROM releases WHERE namespace = ? AND name = ?`)
        .get(key.namespace, key.name) as { version: number } | undefined;
      const actual = found?.version ?? 0;
      if (expectedVersion !== undefined && expectedVersion !== actual) throw new StateConflictError({ ...key }, expectedVersion, actual);
      this.statement(
          `INSERT INTO releases (namespace, name, state, version, updated_at_ms) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (namespace, name) DO UPDATE SET state = excluded.state, version = excluded.version, updated_at_ms = excluded.updated_at_ms`,
        )
        .run(key.namespace, key.name, JSON.stringify(state), actual + 1, this.nowMs());
      return { version: actual + 1, eventIds: [] };
    });
  }

  getApp(): StoredApp | undefined {
    const row = this.statement(`SELECT app, templates FROM app WHERE id = 1`).get() as { app: string; templates: string } | undefined;
    if (!row) return undefined;
    const cached = this.appCache;
    if (cached && cached.appText === row.app && cached.templatesText === row.templates) return cached.value;
    const value = deepFreeze({
      app: parseCell(this.file, 'the applied App', row.app) as StoredApp['app'],
      templates: parseCell(this.file, 'the applied analysis templates', row.templates) as StoredApp['templates'],
    });
    this.appCache = { appText: row.app, templatesText: row.templates, value };
    return value;
  }

  putApp(applied: StoredApp): void {
    this.statement(`INSERT INTO app (id, app, templates) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET app = excluded.app, templates = excluded.templates`)
      .run(JSON.stringify(applied.app), JSON.stringify(applied.templates));
  }

  appendEvents(service: string, events: Omit<StoredEvent, 'id' | 'service'>[]): number[] {
    return this.transaction(() => this.insertEvents(defaultKey(service), events, null));
  }

  private insertEvents(key: ObjectKey, events: NewEvent[], statusVersion: number | null): number[] {
    const insert = this.statement(
      `INSERT INTO events (namespace, service, at_ms, level, reason, message, status_version) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    return events.map((e) => Number(insert.run(key.namespace, key.name, e.atMs, e.level, e.reason, e.message, statusVersion).lastInsertRowid));
  }

  trimEvents(options: { keepPerService: number; maxAgeMs: number; nowMs: number }): number {
    const { changes } = this.statement(
        `DELETE FROM events WHERE at_ms < ? OR id IN (
           SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY namespace, service ORDER BY id DESC) AS n FROM events) WHERE n > ?)`,
      )
      .run(options.nowMs - options.maxAgeMs, options.keepPerService);
    return changes;
  }

  listEvents(options: { namespace?: string; service?: string; afterId?: number; limit?: number } = {}): StoredEvent[] {
    const rows = this.statement(
        `SELECT * FROM (SELECT * FROM events WHERE namespace = ? AND id > ? AND (? IS NULL OR service = ?) ORDER BY id DESC LIMIT ?) ORDER BY id`,
      )
      .all(options.namespace ?? DEFAULT_NAMESPACE, options.afterId ?? 0, options.service ?? null, options.service ?? null, options.limit ?? 1000) as EventRow[];
    return rows.map(toEvent);
  }

  /**
   * Instance records only serve to re-adopt processes after a crash of the daemon, which the OS
   * outlives with every write it accepted; after a power loss the processes are gone too. So they
   * skip the fsync that a rollout's transitions wait for (up to ~5 ms each on this kind of disk,
   * stalling a router that shares the event loop); the next synced commit makes them durable too.
   * Inside a transaction the transaction's setting applies.
   */
  private unsynced(write: () => void): void {
    if (this.db.inTransaction) return write();
    this.statement('PRAGMA synchronous = NORMAL').run();
    try {
      write();
    } finally {
      this.statement('PRAGMA synchronous = FULL').run();
    }
  }

  putInstance(i: StoredInstance): void {
    this.unsynced(() => this.statement(
        `INSERT INTO instances (id, service, revision, record) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET service = excluded.service, revision = excluded.revision, record = excluded.record`,
      )
      .run(i.id, i.service, i.revision, JSON.stringify(i.record)));
  }

  deleteInstance(id: string): void {
    this.unsynced(() => this.statement(`DELETE FROM instances WHERE id = ?`).run(id));
  }

  /** The connection's `synchronous` setting (2 is FULL), for tests. */
  syncLevel(): number {
    return this.db.pragma('synchronous', { simple: true }) as number;
  }

  listInstances(service?: string): StoredInstance[] {
    const rows = this.statement(`SELECT * FROM instances WHERE (? IS NULL OR service = ?) ORDER BY id`)
      .all(service ?? null, service ?? null) as { id: string; service: string; revision: string; record: string }[];
    return rows.map((r) => ({ id: r.id, service: r.service, revision: r.revision, record: JSON.parse(r.record) as unknown }));
  }

  putAnalysisRun(r: StoredAnalysisRun): void {
    this.statement(
        `INSERT INTO analysis_runs (id, service, name, phase, run, started_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET phase = excluded.phase, run = excluded.run, updated_at_ms = excluded.updated_at_ms`,
      )
      .run(r.id, r.service, r.name, r.phase, JSON.stringify(r.run), r.startedAtMs, r.updatedAtMs);
  }

  listAnalysisRuns(service: string, limit = 50): StoredAnalysisRun[] {
    const rows = this.statement(`SELECT * FROM analysis_runs WHERE service = ? ORDER BY started_at_ms DESC, id DESC LIMIT ?`)
      .all(service, limit) as RunRow[];
    return rows.map((r) => ({
      id: r.id, service: r.service, name: r.name, phase: r.phase, run: JSON.parse(r.run) as unknown,
      startedAtMs: r.started_at_ms, updatedAtMs: r.updated_at_ms,
    }));
  }

  getSetting(key: string): string | undefined {
    const row = this.statement(`SELECT value FROM settings WHERE key = ?`).get(key) as { value: string } | undefined;
    return row?.value;
  }

  setSetting(key: string, value: string): void {
    this.statement(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
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

function toEvent(r: EventRow): StoredEvent {
  return { id: r.id, service: r.service, atMs: r.at_ms, level: r.level, reason: r.reason, message: r.message };
}

/** A single host's records live in the `default` namespace. */
function defaultKey(name: string): ObjectKey {
  return { namespace: DEFAULT_NAMESPACE, name };
}

/** How a record is named in a message: its name alone in `default`, namespace/name elsewhere. */
function keyName(key: ObjectKey): string {
  return JSON.stringify(key.namespace === DEFAULT_NAMESPACE ? key.name : `${key.namespace}/${key.name}`);
}

/** keyName of a `namespace/name` string as checkRows selects it. */
function quoteKey(namespaced: string): string {
  const slash = namespaced.indexOf('/');
  return keyName({ namespace: namespaced.slice(0, slash), name: namespaced.slice(slash + 1) });
}

/** A JSON cell parsed (and checked); anything else is the damaged-row sentence naming it. */
function parseCell(file: string, what: string, text: string, check?: (value: unknown) => string | undefined): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw corruptRow(file, what, err);
  }
  const problem = check?.(value);
  if (problem !== undefined) throw corruptRow(file, what, new Error(problem));
  return value;
}

/** `value` with every object in it frozen. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function corrupt(file: string, cause: unknown): StoreError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new StoreError(
    'StoreCorrupt',
    `state file ${file} cannot be read (${reason}). graylane changed nothing: move the file aside (or restore it from a backup) and run the command again; running app processes are not affected.`,
    file,
  );
}

