/**
 * The figures of the last minutes per service (or release) and revision, for the console's
 * charts: the views' live figures sampled at a steady interval and kept for a window. Bounded:
 * at most a window's worth of samples per name, and a name the backend no longer lists is dropped.
 */
import type { ApiBackend } from './api-backend.js';
import type { SeriesView, ServiceView } from './contract/index.js';

/** Default time between samples. */
export const DEFAULT_SAMPLE_INTERVAL_MS = 1000;
/** Default time kept. */
export const DEFAULT_SERIES_WINDOW_MS = 10 * 60 * 1000;

/** Calls `fn` every `ms` until the returned function is called; injectable for tests. */
export type Every = (ms: number, fn: () => void) => () => void;

/** Options of {@link SeriesRecorder}. */
export interface SeriesRecorderOptions {
  /** What is sampled. */
  backend: Pick<ApiBackend, 'list' | 'get'>;
  /** Time between samples; default {@link DEFAULT_SAMPLE_INTERVAL_MS}. */
  sampleIntervalMs?: number;
  /** Time kept; default {@link DEFAULT_SERIES_WINDOW_MS}. */
  windowMs?: number;
  /** Clock; injectable for tests. */
  nowMs?: () => number;
  /** Timer; injectable for tests. Default: an unref'd setInterval. */
  every?: Every;
}

const realEvery: Every = (ms, fn) => {
  const timer = setInterval(fn, ms);
  // The daemon's other work keeps the process alive; the charts' sampling must not.
  timer.unref();
  return () => clearInterval(timer);
};

type Point = SeriesView['points'][number];

/** See the file's comment. Call `start()` once, `stop()` at the end. */
export class SeriesRecorder {
  private readonly points = new Map<string, Point[]>();
  private readonly intervalMs: number;
  private readonly windowMs: number;
  private readonly nowMs: () => number;
  private readonly every: Every;
  private cancel: (() => void) | undefined;
  private sampling = false;
  private readonly listeners = new Set<(views: ServiceView[]) => void>();

  constructor(private readonly options: SeriesRecorderOptions) {
    this.intervalMs = options.sampleIntervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS;
    this.windowMs = options.windowMs ?? DEFAULT_SERIES_WINDOW_MS;
    this.nowMs = options.nowMs ?? Date.now;
    this.every = options.every ?? realEvery;
  }

  /** Samples now, then every interval. */
  start(): void {
    if (this.cancel) return;
    this.cancel = this.every(this.intervalMs, () => void this.sample());
    void this.sample();
  }

  /** Stops sampling; what was recorded stays readable. */
  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
  }

  /** Calls `listener` with every sample's views (the event streams send the live figures from them); returns the unsubscribe function. */
  onSample(listener: (views: ServiceView[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Takes one sample of every view (skipped while the previous one is still being read). */
  async sample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const views = await this.options.backend.list();
      this.record(views);
      for (const listener of this.listeners) listener(views);
    } catch {
      // A backend that cannot answer now (a cluster out of reach) leaves a gap; the API reports its errors itself.
    } finally {
      this.sampling = false;
    }
  }

  /** The recorded figures of a service or release; the backend's NotFound for an unknown name. */
  async series(name: string): Promise<SeriesView> {
    // Asked of the backend so that a name it does not know is a 404 with its sentence, recorded or not.
    await this.options.backend.get(name);
    return { name, intervalMs: this.intervalMs, points: [...(this.points.get(name) ?? [])] };
  }

  private record(views: ServiceView[]): void {
    const atMs = this.nowMs();
    const seen = new Set<string>();
    const maxPoints = Math.max(1, Math.ceil(this.windowMs / this.intervalMs));
    for (const view of views) {
      seen.add(view.name);
      const points = this.points.get(view.name) ?? [];
      points.push({
        atMs,
        revisions: view.revisions.map((r) => ({ name: r.name, role: r.role, weight: r.weight, requestsPerSecond: r.requestsPerSecond, errorRate: r.errorRate, p99Ms: r.p99Ms })),
      });
      // Both bounds: by age (a sampler that fell behind) and by count (a clock that went back).
      let drop = 0;
      while (drop < points.length && points[drop]!.atMs <= atMs - this.windowMs) drop++;
      drop = Math.max(drop, points.length - maxPoints);
      if (drop > 0) points.splice(0, drop);
      this.points.set(view.name, points);
    }
    for (const name of this.points.keys()) if (!seen.has(name)) this.points.delete(name);
  }
}
