/**
 * The RouterControl of a router living in the daemon's own process: every call goes straight to
 * the router object. `applyTable` swaps the table before its promise is returned, so an abort's
 * table is in force by the time the caller's next line runs, exactly as with a direct call.
 */
import { isDeepStrictEqual } from 'node:util';
import type {
  LatencyCounts, ReleaseStats, ReleaseTraffic, RevisionStats, RevisionTotals, RouteTable, RouterEvent, StatsQuery,
} from '../../contract/index.js';
import type { Router } from '../../router.js';
import type { ApplyTableResult, DrainOutcome, RouterControl, RouterSnapshot } from '../router-control.js';

/** Options of {@link createInProcessRouterControl}. */
export interface InProcessRouterControlOptions {
  /** The router to drive; the control subscribes to its events for as long as both live. */
  router: Router;
  /** Wall clock of drain deadlines and snapshot times, ms since the epoch; `Date.now` by default. */
  nowMs?: () => number;
  /** How many finished drains are remembered for a late {@link RouterControl.awaitDrained}; default 4096. */
  drainHistory?: number;
}

/** Where an instance's last drain stands, as the router's events told it. */
type DrainState = 'draining' | Exclude<DrainOutcome, 'unknown'>;

class InProcessRouterControl implements RouterControl {
  private readonly router: Router;
  private readonly nowMs: () => number;
  private readonly drainHistory: number;
  private version = 0;
  /**
   * Drains seen, by instance id. An idle instance drains inside `setRouteTable` itself, before any
   * caller could start waiting: the outcome is kept so that a later `awaitDrained` still gets it.
   */
  private readonly drains = new Map<string, DrainState>();
  private readonly waiters = new Map<string, Set<(outcome: DrainOutcome) => void>>();

  constructor(options: InProcessRouterControlOptions) {
    this.router = options.router;
    this.nowMs = options.nowMs ?? Date.now;
    this.drainHistory = options.drainHistory ?? 4096;
    this.router.on('event', (e) => this.onDrainEvent(e));
  }

  applyTable(table: RouteTable): Promise<ApplyTableResult> {
    try {
      // The first table is always set, even an empty one: until then the router answers "starting".
      if (this.router.hasRouteTable() && isDeepStrictEqual(this.router.getRouteTable(), table)) return Promise.resolve({ version: this.version, changed: false });
      // Synchronous on purpose: the new table routes the very next request.
      this.router.setRouteTable(table);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    // An instance routed again is not draining any more: an old outcome would answer for it wrongly.
    for (const id of routedInstanceIds(table)) this.drains.delete(id);
    this.version++;
    return Promise.resolve({ version: this.version, changed: true });
  }

  currentTable(): { version: number; table: RouteTable } {
    return { version: this.version, table: this.router.getRouteTable() };
  }

  awaitDrained(instanceId: string, deadlineMs: number): Promise<DrainOutcome> {
    const state = this.drains.get(instanceId);
    // Never drained while this control watched: either the table never named it, or it still
    // routes to it. Either way there is nothing to wait for.
    if (state === undefined) return Promise.resolve('unknown');
    if (state !== 'draining') return Promise.resolve(state);
    return new Promise<DrainOutcome>((resolve) => {
      let waiters = this.waiters.get(instanceId);
      if (!waiters) this.waiters.set(instanceId, (waiters = new Set()));
      const done = (outcome: DrainOutcome) => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0 && this.waiters.get(instanceId) === waiters) this.waiters.delete(instanceId);
        resolve(outcome);
      };
      const timer = setTimeout(() => done('timeout'), Math.max(0, deadlineMs - this.nowMs()));
      waiters.add(done);
    });
  }

  snapshot(): Promise<RouterSnapshot> {
    const { revisions, releases } = this.router.counted();
    return Promise.resolve({
      atMs: this.nowMs(),
      tableVersion: this.version,
      revisions: revisions.map((r) => ({ ...r, totals: this.router.totals(r) })),
      releases: releases.map((release) => ({ release, stats: this.router.releaseStats(release) })),
    });
  }

  totals(query: { service: string; revision: string }): RevisionTotals {
    return this.router.totals(query);
  }

  stats(query: StatsQuery): RevisionStats {
    return this.router.stats(query);
  }

  recentLatency(query: StatsQuery): LatencyCounts {
    return this.router.recentLatency(query);
  }

  releaseStats(release: string): ReleaseStats {
    return this.router.releaseStats(release);
  }

  releaseTraffic(query: { release: string; windowMs?: number }): ReleaseTraffic {
    return this.router.releaseTraffic(query);
  }

  onEvent(listener: (event: RouterEvent) => void): () => void {
    this.router.on('event', listener);
    return () => {
      this.router.off('event', listener);
    };
  }

  private onDrainEvent(e: RouterEvent): void {
    if (e.type === 'instance-draining') {
      this.remember(e.instance, 'draining');
      return;
    }
    if (e.type !== 'instance-drained' && e.type !== 'instance-drain-timeout') return;
    const outcome = e.type === 'instance-drained' ? 'drained' : 'timeout';
    const state = this.drains.get(e.instance);
    // Cutting requests at the drain deadline lets the instance report itself drained just after:
    // the drain still ended in a timeout.
    if (state !== undefined && state !== 'draining') return;
    this.remember(e.instance, outcome);
    for (const done of [...(this.waiters.get(e.instance) ?? [])]) done(outcome);
  }

  /** Records a drain's state, newest last, forgetting the oldest beyond the history's length. */
  private remember(instanceId: string, state: DrainState): void {
    this.drains.delete(instanceId);
    this.drains.set(instanceId, state);
    for (const [id, s] of this.drains) {
      if (this.drains.size <= this.drainHistory) break;
      // Only finished drains are forgotten: a running one still has its end to announce.
      if (s !== 'draining') this.drains.delete(id);
    }
  }
}

/** Ids of the instances the table routes to (those it names and does not mark draining). */
function routedInstanceIds(table: RouteTable): string[] {
  return table.services.flatMap((s) => Object.values(s.revisions).flatMap((r) => r.instances.filter((i) => !i.draining).map((i) => i.id)));
}

/** A {@link RouterControl} over a router in this process. */
export function createInProcessRouterControl(options: InProcessRouterControlOptions): RouterControl {
  return new InProcessRouterControl(options);
}
