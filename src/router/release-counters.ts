/**
 * Cumulative counters of one release, kept across table swaps (the compiled release of each new
 * table writes to the same object) and read by `Router.releaseStats` and `/metrics`.
 */
import type { ReleaseSide, ReleaseStats } from './types.js';

/** Skew errors of one member revision. */
export interface SkewCount {
  service: string;
  revision: string;
  count: number;
}

/** See the module comment. */
export class ReleaseCounters {
  readonly assigned = { stable: 0, canary: 0 };
  readonly pinned = { stable: 0, canary: 0 };
  fallbacks = 0;
  forgedTokens = 0;
  skewErrors = 0;
  readonly lastPinnedMs: { stable?: number; canary?: number } = {};
  /** Skew errors per `service\nrevision`. */
  readonly skewByRevision = new Map<string, SkewCount>();

  constructor(readonly release: string) {}

  /** Counts a request pinned to `side` at wall-clock `nowMs`. */
  pin(side: ReleaseSide, nowMs: number): void {
    this.pinned[side]++;
    this.lastPinnedMs[side] = nowMs;
  }

  /** Counts a skew error of one member revision. */
  skew(service: string, revision: string): void {
    this.skewErrors++;
    const key = `${service}\n${revision}`;
    const entry = this.skewByRevision.get(key);
    if (entry) entry.count++;
    else this.skewByRevision.set(key, { service, revision, count: 1 });
  }

  /** A copy for callers. */
  snapshot(): ReleaseStats {
    return {
      assigned: { ...this.assigned },
      pinned: { ...this.pinned },
      fallbacks: this.fallbacks,
      forgedTokens: this.forgedTokens,
      skewErrors: this.skewErrors,
      lastPinnedMs: { ...this.lastPinnedMs },
    };
  }
}
