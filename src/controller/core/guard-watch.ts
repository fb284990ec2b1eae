/**
 * Feeds every canary behind the built-in router to the guard once a second: the per-second
 * difference of the router's counters for canary and stable. A Failed verdict aborts at once.
 */
import { CanaryGuard, type GuardResult, type GuardSideTick } from '../../analysis/judge/guard.js';
import { guardParamsFromSpec } from '../../analysis/guard-spec.js';
import type { LatencyCounts, RevisionTotals } from '../../router/contract/index.js';
import type { CanaryStrategy } from '../../documents/schema.js';
import type { AnalysisRunView } from '../view-model.js';

/** One canary the controller wants judged now. */
export interface GuardTarget {
  /** The service whose canary it is. */
  service: string;
  /** The revision the canary is judged against. */
  stableRevision: string;
  /** The revision judged. */
  canaryRevision: string;
  /** Distinguishes retries of the same canary: a retried canary is judged afresh. */
  attempt: number;
  /** The canary strategy in force; its `guard` sets the guard's parameters (or turns it off). */
  strategy: CanaryStrategy;
}

interface Watched {
  key: string;
  target: GuardTarget;
  startedAtMs: number;
  guard: CanaryGuard;
  last: { canary: RevisionTotals; stable: RevisionTotals };
  result?: GuardResult;
}

// Each failed request once: upstream errors and timeouts are already among the 5xx the router
// counts in `failed`, and requests refused for the client's fault are never in it.
const errorsOf = (t: RevisionTotals) => t.failed;

function delta(now: RevisionTotals, before: RevisionTotals): GuardSideTick {
  const requests = now.requests - before.requests;
  const counts = now.latency.counts.map((c, i) => c - (before.latency.counts[i] ?? 0));
  return { requests, errors: Math.min(requests, Math.max(0, errorsOf(now) - errorsOf(before))), latency: { boundsMs: now.latency.boundsMs, counts } };
}

/** Where a {@link GuardWatch} reads the router's figures, and how often it is ticked. */
export interface GuardWatchOptions {
  /** The router's cumulative counters of a revision. */
  totals: (service: string, revision: string) => RevisionTotals;
  /** A revision's latencies over the router's recent window: stable's, when a guard starts. */
  recentLatency?: (service: string, revision: string) => LatencyCounts;
  /** How often `tick` is called; the guard counts in ticks, its documents in seconds. */
  tickMs?: number;
  /** The clock, for when a guard started; real time by default. */
  nowMs?: () => number;
}

/** Keeps one guard per canary under way. */
export class GuardWatch {
  private readonly watched = new Map<string, Watched>();
  // The last canary judged per service stays shown after it stops being judged (aborted, promoted).
  private readonly judged = new Map<string, Watched>();
  private readonly nowMs: () => number;
  private readonly totals: GuardWatchOptions['totals'];
  private readonly recentLatency: GuardWatchOptions['recentLatency'];
  private readonly tickMs: number;

  constructor(options: GuardWatchOptions) {
    this.totals = options.totals;
    this.recentLatency = options.recentLatency;
    this.tickMs = options.tickMs ?? 1000;
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** One tick over the canaries now under way; returns the services whose canary just failed. */
  tick(targets: GuardTarget[]): { service: string; result: GuardResult }[] {
    const failed: { service: string; result: GuardResult }[] = [];
    const seen = new Set<string>();
    for (const t of targets) {
      const spec = guardParamsFromSpec(t.strategy.guard);
      if (!spec) continue;
      const params = { ...spec, restartEverySeconds: Math.max(1, Math.round((spec.restartEverySeconds * 1000) / this.tickMs)) };
      seen.add(t.service);
      const key = `${t.canaryRevision}/${t.stableRevision}/${t.attempt}`;
      const now = { canary: this.totals(t.service, t.canaryRevision), stable: this.totals(t.service, t.stableRevision) };
      let w = this.watched.get(t.service);
      if (!w || w.key !== key) {
        // Stable's last minute fixes the latency threshold, so latency is judged from the first tick.
        const reference = this.recentLatency?.(t.service, t.stableRevision);
        w = { key, target: t, startedAtMs: this.nowMs(), guard: new CanaryGuard(params, reference ? { latencyReference: reference } : {}), last: now };
        this.watched.set(t.service, w);
        continue;
      }
      const tick = { canary: delta(now.canary, w.last.canary), stable: delta(now.stable, w.last.stable) };
      w.last = now;
      const before = w.result?.verdict;
      w.result = w.guard.observe(tick);
      this.judged.set(t.service, w);
      if (w.result.verdict === 'Failed' && before !== 'Failed') failed.push({ service: t.service, result: w.result });
    }
    for (const service of [...this.watched.keys()]) if (!seen.has(service)) this.watched.delete(service);
    return failed;
  }

  /** The latest verdict for a service's canary, for the views. */
  verdict(service: string): GuardResult | undefined {
    return this.watched.get(service)?.result;
  }

  /**
   * The guard's last verdict on a service's canary as `graylane analysis` lists it, whether that
   * canary is still judged or was aborted or promoted since.
   */
  entry(service: string): AnalysisRunView | undefined {
    const w = this.judged.get(service);
    return w?.result ? guardEntry(w.target, w.startedAtMs, w.result) : undefined;
  }
}

/** The run id of the guard's entry for one canary attempt, unique beside analysis runs. */
export function guardEntryId(target: Pick<GuardTarget, 'canaryRevision' | 'attempt'>): string {
  return `${target.canaryRevision}.${target.attempt}.guard`;
}

/** A guard verdict as an entry of `graylane analysis`: its phase, the figures it judged, and why. */
export function guardEntry(target: Pick<GuardTarget, 'canaryRevision' | 'attempt'>, startedAtMs: number, r: GuardResult): AnalysisRunView {
  const rate = (s: { requests: number; errors: number }) => ({ ...s, errorRate: s.requests === 0 ? 0 : s.errors / s.requests });
  const id = guardEntryId(target);
  return {
    id, name: id, kind: 'guard', phase: r.verdict, startedAtMs, metrics: [], message: r.reason,
    guard: {
      canaryRevision: target.canaryRevision,
      canary: rate(r.canary),
      stable: rate(r.stable),
      ...(r.latency ? { latency: { thresholdMs: r.latency.thresholdMs, canarySlowRate: r.latency.canaryRate, stableSlowRate: r.latency.stableRate } } : {}),
      ...(r.failedOn ? { failedOn: r.failedOn } : {}),
    },
  };
}
