/**
 * An analysis step right after a weight change, judged with the builtin provider: over no
 * requests the measurement is Argo's empty result (an Error retried at the next interval), never
 * a Failed verdict on a canary nobody called yet.
 */
import { describe, expect, it } from 'vitest';
import { resolveTemplate } from '../../analysis/judge/template.js';
import { runAnalysis, type Scheduler } from '../../analysis/runner.js';
import type { AnalysisTemplateSpec } from '../../documents/schema.js';
import { MetricProviderRegistry } from '../provider.js';
import { BuiltinMetricProvider } from './builtin-provider.js';
import type { RevisionStatsSource } from './stats-source.js';

const T0 = 1_700_000_000_000;

/** A fake clock: sleeping jumps time forward at once. */
function fakeScheduler(): Scheduler {
  let now = T0;
  return { now: () => now, sleep: async (ms) => { now += Math.max(0, ms); await Promise.resolve(); } };
}
const template = (spec: AnalysisTemplateSpec) => resolveTemplate({ spec });

describe('runAnalysis with the builtin provider over no data (fake clock)', () => {
  /** Router figures that start empty and get traffic once the clock passes `trafficAtMs`. */
  function routerFigures(scheduler: Scheduler, trafficAtMs: number, errors: number): RevisionStatsSource {
    const empty = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
    return {
      stats: () => {
        const n = scheduler.now() >= trafficAtMs ? 200 : 0;
        return {
          requests: n, failed: n ? errors : 0, responses: { ...empty, '2xx': n ? n - errors : 0, '5xx': n ? errors : 0 },
          upstreamErrors: 0, timeouts: 0, rejected: 0, clientErrors: 0, skewErrors: 0, fallbacks: 0, unreadyServed: 0,
          latencyMs: { p50: 0, p90: 0, p99: 0, max: 0 }, requestsPerSecond: n / 60, windowMs: 60_000,
        };
      },
    };
  }
  const builtinTemplate = template({ metrics: [{ name: 'success', successCondition: 'result >= 0.99', provider: { builtin: { metric: 'successRate' } } }] });
  const context = { service: 'api', canaryRevision: 'v2', stableRevision: 'v1' };

  it('a step measuring before the canary served a request does not fail; it judges once traffic came', async () => {
    const scheduler = fakeScheduler();
    const providers = new MetricProviderRegistry().register(new BuiltinMetricProvider(routerFigures(scheduler, T0 + 15_000, 0)));
    const out = await runAnalysis({ template: builtinTemplate, providers, scheduler, context });
    expect(out.phase).toBe('Successful');
    // Argo's empty result: an Error that is retried after 10 s (no interval), not a Failed verdict.
    expect(out.measurements.map((m) => [m.startedAtMs - T0, m.phase])).toEqual([[0, 'Error'], [10_000, 'Error'], [20_000, 'Successful']]);
    expect(out.measurements[0]!.message).toBe('no data: canary api/v2 served no requests in the last 60s');
  });

  it('with traffic it judges normally: a failing canary fails', async () => {
    const scheduler = fakeScheduler();
    const providers = new MetricProviderRegistry().register(new BuiltinMetricProvider(routerFigures(scheduler, T0, 20)));
    const out = await runAnalysis({ template: builtinTemplate, providers, scheduler, context });
    expect(out.phase).toBe('Failed');
    expect(out.measurements.map((m) => m.phase)).toEqual(['Failed']);
  });

  it('a condition that accepts no traffic (isNaN) still passes on no data', async () => {
    const scheduler = fakeScheduler();
    const providers = new MetricProviderRegistry().register(new BuiltinMetricProvider(routerFigures(scheduler, Infinity, 0)));
    const out = await runAnalysis({
      template: template({ metrics: [{ name: 's', successCondition: 'isNaN(result) || result >= 0.99', provider: { builtin: { metric: 'successRate' } } }] }),
      providers, scheduler, context,
    });
    expect(out.phase).toBe('Successful');
  });

  it('a canary that never gets traffic ends Error (not Failed) after consecutiveErrorLimit, saying why', async () => {
    const scheduler = fakeScheduler();
    const providers = new MetricProviderRegistry().register(new BuiltinMetricProvider(routerFigures(scheduler, Infinity, 0)));
    const out = await runAnalysis({ template: builtinTemplate, providers, scheduler, context });
    expect(out.phase).toBe('Error');
    expect(out.measurements).toHaveLength(5);
    expect(out.message).toMatch(/consecutive errors \(5\) > consecutiveErrorLimit \(4\); last: no data: canary api\/v2 served no requests/);
  });
});
