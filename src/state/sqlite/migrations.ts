/**
 * The SQLite state file's schema, one migration per version. A file is brought up to
 * {@link SCHEMA_VERSION} in one transaction when it is opened; a newer file is refused.
 */

/** Bumped when the tables change; a newer file than this code is refused, never rewritten. */
export const SCHEMA_VERSION = 3;

/** MIGRATIONS[v] takes a file from schema v to v + 1. Released entries never change. */
export const MIGRATIONS: readonly string[] = [
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
  // 3: records are keyed by namespace and name; the settings bag gives up what has a type: the
  // traffic in force (settings traffic/<service>) joins its status row, release states (release/<name>)
  // get a versioned table, the applied App and its analysis templates (app, templates) a row of their
  // own. A status row that exists has been committed at least once, so its version is at least 1
  // (rows from schema 1 were given 0), and "expected version 0" always means "not there yet".
  // Traffic settings of services deleted since (deleteService left them behind) are dropped.
  `CREATE TABLE statuses_v3 (
     namespace TEXT NOT NULL, service TEXT NOT NULL, status TEXT NOT NULL, traffic TEXT,
     updated_at_ms INTEGER NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (namespace, service));
   INSERT INTO statuses_v3 (namespace, service, status, traffic, updated_at_ms, version)
     SELECT 'default', s.service, s.status, (SELECT value FROM settings WHERE key = 'traffic/' || s.service),
            s.updated_at_ms, max(s.version, 1)
     FROM statuses s;
   DROP TABLE statuses;
   ALTER TABLE statuses_v3 RENAME TO statuses;
   ALTER TABLE events ADD COLUMN namespace TEXT NOT NULL DEFAULT 'default';
   DROP INDEX events_service;
   CREATE INDEX events_service ON events (namespace, service, id);
   CREATE TABLE releases (
     namespace TEXT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,
     version INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL, PRIMARY KEY (namespace, name));
   INSERT INTO releases (namespace, name, state, version, updated_at_ms)
     SELECT 'default', substr(key, 9), value, 1, 0 FROM settings WHERE substr(key, 1, 8) = 'release/';
   CREATE TABLE app (id INTEGER PRIMARY KEY CHECK (id = 1), app TEXT NOT NULL, templates TEXT NOT NULL);
   INSERT INTO app (id, app, templates)
     SELECT 1, value, coalesce((SELECT value FROM settings WHERE key = 'templates'), '[]') FROM settings WHERE key = 'app';
   DELETE FROM settings
     WHERE key IN ('app', 'templates') OR substr(key, 1, 8) IN ('traffic/', 'release/');`,
];
