/**
 * The guard loop: on every tick it decides which canaries are judged now (from the specs and
 * statuses it is given), feeds each one's counters, read through the RouterControl port, to its
 * guard, and calls back `abort` for a canary that just failed. An abort that could not be
 * committed (a full state directory) is held here: the traffic step asks {@link
 * GuardLoop.forcesStable} and sends the canary nothing meanwhile, and the abort is retried.
 */
import type { CanaryStrategy } from '../../documents/schema.js';
import type { RolloutStatus } from '../../engine/index.js';
import type { RouterControl } from '../../router/control/router-control.js';
import type { AnalysisRunView } from '../view-model.js';
import { GuardWatch, type GuardTarget } from './guard-watch.js';
import type { GuardResult } from '../../analysis/judge/guard.js';

/** A service the guard may judge: its canary strategy in force and its committed status. */
export interface GuardCandidate {
  /** The service. */
  service: string;
  /** Its canary strategy (a member of a release: the release's); undefined for other strategies and static services. */
  strategy: CanaryStrategy | undefined;
  /** Its committed status; undefined before the first commit. */
  status: RolloutStatus | undefined;
}

/**
 * The canaries to judge now: routed canaries under way, neither aborted nor degraded. Pure.
 * A canary without traffic routing has no split of its own to compare, so it is left alone.
 */
export function guardTargets(candidates: readonly GuardCandidate[]): GuardTarget[] {
  const targets: GuardTarget[] = [];
  for (const { service, strategy, status } of candidates) {
    if (!strategy?.trafficRouting || !status?.stableRevision || !status.canaryRevision) continue;
    if (status.canaryRevision === status.stableRevision || status.abort || status.phase === 'Degraded') continue;
    targets.push({ service, stableRevision: status.stableRevision, canaryRevision: status.canaryRevision, attempt: status.attempt, strategy });
  }
  return targets;
}

/** Options of {@link GuardLoop}. */
export interface GuardLoopOptions {
  /** Where the canary's and stable's counters are read. */
  counters: Pick<RouterControl, 'totals' | 'recentLatency'>;
  /** The services that may be judged, as committed now. */
  candidates: () => GuardCandidate[];
  /**
   * Aborts a failing canary (commit the engine's `guardAbort`, then act); called once per
   * failure, and again by {@link GuardLoop.retryHeld} while the abort is held.
   */
  abort: (service: string, reason: string) => void;
  /** How often {@link GuardLoop.tick} is called; the guard counts in ticks, its documents in seconds. Default 1 s. */
  tickMs?: number | undefined;
  /** The clock; real time by default. */
  nowMs?: (() => number) | undefined;
}

/** The guard loop of one controller. */
export class GuardLoop {
  private readonly watch: GuardWatch;
  /** Aborts decided but not committed, with their reasons. */
  private readonly held = new Map<string, string>();

  constructor(private readonly options: GuardLoopOptions) {
    this.watch = new GuardWatch({
      totals: (service, revision) => options.counters.totals({ service, revision }),
      recentLatency: (service, revision) => options.counters.recentLatency({ service, revision }),
      tickMs: options.tickMs,
      nowMs: options.nowMs,
    });
  }

  /** One tick: every canary under way judged on the traffic since the last tick; a failure aborts. */
  tick(): void {
    for (const { service, result } of this.watch.tick(guardTargets(this.options.candidates()))) this.options.abort(service, result.reason);
  }

  /** The live verdict on a service's canary, for its view. */
  verdict(service: string): GuardResult | undefined {
    return this.watch.verdict(service);
  }

  /** The guard's last verdict on a service's canary as an analysis entry (kept after it stops being judged). */
  entry(service: string): AnalysisRunView | undefined {
    return this.watch.entry(service);
  }

  /**
   * The abort of `service` could not be committed: hold it, so that its canary gets no traffic
   * until it is. Returns true when it was not held yet (the route must be rebuilt now).
   */
  holdAbort(service: string, reason: string): boolean {
    if (this.held.has(service)) return false;
    this.held.set(service, reason);
    return true;
  }

  /** The abort of `service` was committed (or is moot): returns true when it had been held (the route must be rebuilt). */
  releaseAbort(service: string): boolean {
    return this.held.delete(service);
  }

  /** Whether `service`'s canary must get no traffic whatever its committed traffic says (an abort is held). */
  forcesStable(service: string): boolean {
    return this.held.has(service);
  }

  /** Services whose abort is held now. */
  heldAborts(): string[] {
    return [...this.held.keys()];
  }

  /** Tries every held abort again (once writes work). */
  retryHeld(): void {
    for (const [service, reason] of [...this.held]) this.options.abort(service, reason);
  }
}
