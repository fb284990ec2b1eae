/**
 * The `builtin` provider: graylane's own router figures for the canary, the stable revision, or
 * both side by side (`revision: both` gives `{ canary, stable }`, for conditions such as
 * `result.canary <= result.stable + 0.01`). Errors are 5xx responses, upstream errors, timeouts
 * and rejections: everything a user saw fail. With no requests in the window, rates are NaN
 * (as PromQL's 0/0), so `isNaN(result)` can tell "no traffic" from "no errors"; such a
 * measurement is marked `noData`, so a condition that does not accept NaN makes it an Error that
 * is retried, never a Failed verdict on a canary nobody has called yet.
 */
import type { Static } from '@sinclair/typebox';
import type { BuiltinProvider as BuiltinProviderSchema } from '../../documents/schema.js';
import type { ResolvedMetric } from '../../analysis/judge/types.js';
import { parseDurationMs } from '../../lib/duration.js';
import { raceAbort, throwIfAborted } from '../deadline.js';
import { providerConfig, ProviderError, type MeasureRequest, type MeasureResult, type MetricProvider, type ProviderCapability } from '../provider.js';
import type { RevisionStats } from '../../router/contract/index.js';
import type { RevisionStatsSource } from './stats-source.js';

type BuiltinConfig = Static<typeof BuiltinProviderSchema>;

/** Window used when the metric names none. */
export const DEFAULT_BUILTIN_WINDOW_MS = 60_000;

/** Everything a user saw fail, each request once. */
export function errorCount(s: RevisionStats): number {
  // The router counts upstream errors, timeouts and rejections among its 5xx: adding them again
  // counted one 502 twice (error rates above 100%). `failed` has each failed request once.
  return s.failed;
}

/** The figure a builtin metric asks for. */
export function figure(metric: BuiltinConfig['metric'], s: RevisionStats): number {
  switch (metric) {
    case 'errorRate': return s.requests === 0 ? NaN : errorCount(s) / s.requests;
    case 'successRate': return s.requests === 0 ? NaN : 1 - errorCount(s) / s.requests;
    case 'latencyP50': return s.latencyMs.p50;
    case 'latencyP90': return s.latencyMs.p90;
    case 'latencyP99': return s.latencyMs.p99;
    case 'requestRate': return s.requestsPerSecond;
  }
}

/** Why `metric` has nothing to say about `s`, or undefined when it does (a request rate of 0 is a figure). */
export function noDataReason(metric: BuiltinConfig['metric'], s: RevisionStats, what: string, windowMs: number): string | undefined {
  if (metric === 'requestRate' || s.requests > 0) return undefined;
  return `${what} served no requests in the last ${Math.round(Math.min(windowMs, s.windowMs || windowMs) / 1000)}s`;
}

/** Reads the router's per-revision figures. */
export class BuiltinMetricProvider implements MetricProvider {
  readonly type = 'builtin';
  readonly capabilities: readonly ProviderCapability[] = ['compare-revisions'];

  constructor(private readonly source: RevisionStatsSource) {}

  validate(metric: ResolvedMetric): void {
    const c = providerConfig<BuiltinConfig>(metric, this.type);
    const fail = (msg: string) => new ProviderError('invalid-config', this.type, `metric "${metric.name}": ${msg}`);
    if (!['successRate', 'errorRate', 'latencyP50', 'latencyP90', 'latencyP99', 'requestRate'].includes(c.metric)) throw fail(`unknown metric ${JSON.stringify(c.metric)}`);
    if (c.revision !== undefined && !['canary', 'stable', 'both'].includes(c.revision)) throw fail(`revision must be canary, stable or both, got ${JSON.stringify(c.revision)}`);
    if (c.window !== undefined) {
      try {
        if (parseDurationMs(c.window) <= 0) throw new RangeError('window must be longer than 0');
      } catch (err) {
        throw fail(`window: ${(err as Error).message}`);
      }
    }
  }

  async measure({ metric, signal, context }: MeasureRequest): Promise<MeasureResult> {
    this.validate(metric);
    throwIfAborted(signal, this.type);
    const c = providerConfig<BuiltinConfig>(metric, this.type);
    const service = c.service ?? context?.service;
    if (!service) throw new ProviderError('invalid-config', this.type, `metric "${metric.name}": no service (set provider.builtin.service or run it from a rollout)`);
    const windowMs = c.window === undefined ? DEFAULT_BUILTIN_WINDOW_MS : parseDurationMs(c.window);
    const which = c.revision ?? 'canary';
    const read = async (side: 'canary' | 'stable'): Promise<RevisionStats> => {
      const revision = side === 'canary' ? context?.canaryRevision : context?.stableRevision;
      if (!revision) throw new ProviderError('unreachable', this.type, `no ${side} revision of ${service} to measure`);
      try {
        return await raceAbort(Promise.resolve().then(() => this.source.stats({ service, revision, windowMs })), signal, this.type);
      } catch (err) {
        if (err instanceof ProviderError) throw err;
        throw new ProviderError('unreachable', this.type, `no figures for ${service}/${revision}: ${(err as Error).message}`, { cause: err });
      }
    };
    if (which === 'both') {
      const [canary, stable] = await Promise.all([read('canary'), read('stable')]);
      throwIfAborted(signal, this.type);
      const noData = noDataReason(c.metric, canary, `canary ${service}/${context?.canaryRevision ?? ''}`, windowMs)
        ?? noDataReason(c.metric, stable, `stable ${service}/${context?.stableRevision ?? ''}`, windowMs);
      return {
        value: { canary: figure(c.metric, canary), stable: figure(c.metric, stable) },
        metadata: { canaryRequests: String(canary.requests), stableRequests: String(stable.requests), windowMs: String(windowMs) },
        ...(noData ? { noData } : {}),
      };
    }
    const stats = await read(which);
    throwIfAborted(signal, this.type);
    const revision = which === 'canary' ? context?.canaryRevision : context?.stableRevision;
    const noData = noDataReason(c.metric, stats, `${which} ${service}/${revision ?? ''}`, windowMs);
    return { value: figure(c.metric, stats), metadata: { requests: String(stats.requests), windowMs: String(stats.windowMs) }, ...(noData ? { noData } : {}) };
  }
}
