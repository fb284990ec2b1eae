/**
 * The RouterControl port: how a control plane drives a data plane it does not run inside. Today
 * the built-in router lives in the daemon's process (`in-process.ts`); a router supervisor in
 * processes of its own is a second implementation of this same interface, not a rewrite of its
 * callers. Every method is asynchronous for that reason; the in-process implementation acts
 * before its promise is returned, so "traffic back on stable at once" stays at once.
 */
import type {
  LatencyCounts, ReleaseStats, ReleaseTraffic, RevisionStats, RevisionTotals, RouteTable, RouterEvent, StatsQuery,
} from '../contract/index.js';

/** What {@link RouterControl.applyTable} did. */
export interface ApplyTableResult {
  /** The version now in force: bumped on every change, kept when the table was the same. */
  version: number;
  /** False when the table equals the one in force: nothing was sent, nothing was rebuilt. */
  changed: boolean;
}

/** How an instance's drain ended; see {@link RouterControl.awaitDrained}. */
export type DrainOutcome =
  /** Its last request finished (or it held none). */
  | 'drained'
  /** The deadline came first; requests still running were cut. */
  | 'timeout'
  /**
   * The data plane is not draining it, so there is nothing to wait for: no table put in force
   * through this control named it, or the table in force still routes to it.
   */
  | 'unknown';

/** The counters of every revision and release the data plane knows, at one moment. */
export interface RouterSnapshot {
  /** Wall-clock time the figures were read, ms since the epoch. */
  atMs: number;
  /** Version of the table in force when they were read. */
  tableVersion: number;
  /** Cumulative counters per service and revision since the data plane started. */
  revisions: { service: string; revision: string; totals: RevisionTotals }[];
  /** Cumulative counters per release. */
  releases: { release: string; stats: ReleaseStats }[];
}

/** The control side of a data plane. */
export interface RouterControl {
  /**
   * Puts `table` in force on every part of the data plane, atomically per part: a request is
   * routed by the old table or the new one, never by a mix. Equal tables are a no-op (see
   * {@link ApplyTableResult.changed}). Rejects with a `RouterError` for a table the data plane
   * cannot route; the table in force then stays.
   */
  applyTable(table: RouteTable): Promise<ApplyTableResult>;
  /** The table in force and its version (version 0, no services, before the first apply). */
  currentTable(): { version: number; table: RouteTable };
  /**
   * Resolves once no request is in flight to `instanceId` (which the table in force must already
   * mark draining or leave out), or at `deadlineMs` (epoch ms) at the latest. A drain that ended
   * before the call (an idle instance drains as the table is applied) still gives its outcome.
   */
  awaitDrained(instanceId: string, deadlineMs: number): Promise<DrainOutcome>;
  /** Cumulative counters and latency histograms of everything routed; merged across workers. */
  snapshot(): Promise<RouterSnapshot>;
  /** Cumulative counters of one revision (zeros for one never routed). */
  totals(query: { service: string; revision: string }): RevisionTotals;
  /** One revision's figures over a recent window. */
  stats(query: StatsQuery): RevisionStats;
  /** A revision's latency histogram over a recent window. */
  recentLatency(query: StatsQuery): LatencyCounts;
  /** A release's cumulative figures. */
  releaseStats(release: string): ReleaseStats;
  /** A release's page loads and requests per side over a recent window. */
  releaseTraffic(query: { release: string; windowMs?: number }): ReleaseTraffic;
  /** Calls `listener` for every data-plane event (ejections, drains); returns the unsubscribe. */
  onEvent(listener: (event: RouterEvent) => void): () => void;
}
