/**
 * Counters of one release, kept across table swaps (the compiled release of each new table writes
 * to the same object): cumulative ones read by `Router.releaseStats` and `/metrics`, and a ring of
 * 1-second buckets of page loads and requests per side and of skew errors, read by
 * `Router.releaseTraffic` (the share the canary really gets, which `status` shows beside the weight
 * set, and the skew errors caught lately).
 */
import type { ReleaseSide, ReleaseStats, ReleaseTraffic } from './types.js';

/** Seconds of recent traffic kept: the longest window {@link ReleaseCounters.recent} can answer. */
export const RELEASE_TRAFFIC_SECONDS = 300;

/** Per-second counts: [page loads stable, page loads canary, requests stable, requests canary, skew errors]. */
const SLOTS = 5;
const SKEW_SLOT = 4;

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
  unreadyServed = 0;
  forgedTokens = 0;
  skewErrors = 0;
  readonly lastPinnedMs: { stable?: number; canary?: number } = {};
  /** Skew errors per `service\nrevision`. */
  readonly skewByRevision = new Map<string, SkewCount>();

  /** Ring of per-second counts, {@link SLOTS} numbers per second. */
  private readonly ring = new Float64Array(RELEASE_TRAFFIC_SECONDS * SLOTS);
  /** The second each ring entry holds, or -1. */
  private readonly seconds = new Float64Array(RELEASE_TRAFFIC_SECONDS).fill(-1);

  constructor(readonly release: string) {}

  /**
   * Counts a request served by `side` at wall-clock `nowMs`; `pageLoad` when it is a navigation.
   * Each request counts once, whether it was assigned, pinned or forced.
   */
  served(side: ReleaseSide, pageLoad: boolean, nowMs: number): void {
    const i = this.slot(nowMs);
    const canary = side === 'canary' ? 1 : 0;
    if (pageLoad) this.ring[i * SLOTS + canary]!++;
    this.ring[i * SLOTS + 2 + canary]!++;
  }

  /** The ring entry of the second of `nowMs`, cleared when it held an older second. */
  private slot(nowMs: number): number {
    const second = Math.floor(nowMs / 1000);
    const i = second % RELEASE_TRAFFIC_SECONDS;
    if (this.seconds[i] !== second) {
      this.seconds[i] = second;
      this.ring.fill(0, i * SLOTS, i * SLOTS + SLOTS);
    }
    return i;
  }

  /** Page loads and requests per side, and skew errors, over the `windowMs` before `nowMs` (the current second included). */
  recent(windowMs: number, nowMs: number): ReleaseTraffic {
    const span = Math.max(1, Math.min(RELEASE_TRAFFIC_SECONDS, Math.ceil(windowMs / 1000)));
    const now = Math.floor(nowMs / 1000);
    const out: ReleaseTraffic = { windowMs: span * 1000, pageLoads: { stable: 0, canary: 0 }, requests: { stable: 0, canary: 0 }, skewErrors: 0 };
    for (let second = now - span + 1; second <= now; second++) {
      const i = ((second % RELEASE_TRAFFIC_SECONDS) + RELEASE_TRAFFIC_SECONDS) % RELEASE_TRAFFIC_SECONDS;
      if (this.seconds[i] !== second) continue;
      out.pageLoads.stable += this.ring[i * SLOTS]!;
      out.pageLoads.canary += this.ring[i * SLOTS + 1]!;
      out.requests.stable += this.ring[i * SLOTS + 2]!;
      out.requests.canary += this.ring[i * SLOTS + 3]!;
      out.skewErrors += this.ring[i * SLOTS + SKEW_SLOT]!;
    }
    return out;
  }

  /** Counts a request pinned to `side` at wall-clock `nowMs`. */
  pin(side: ReleaseSide, nowMs: number): void {
    this.pinned[side]++;
    this.lastPinnedMs[side] = nowMs;
  }

  /** Counts a skew error of one member revision at wall-clock `nowMs`. */
  skew(service: string, revision: string, nowMs: number): void {
    this.skewErrors++;
    this.ring[this.slot(nowMs) * SLOTS + SKEW_SLOT]!++;
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
      unreadyServed: this.unreadyServed,
      forgedTokens: this.forgedTokens,
      skewErrors: this.skewErrors,
      lastPinnedMs: { ...this.lastPinnedMs },
    };
  }
}
