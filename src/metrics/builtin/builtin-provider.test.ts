import { describe, expect, it } from 'vitest';
import { describeProviderConformance, metricOf } from '../provider.case.test.js';
import { ProviderError, type MeasureContext } from '../provider.js';
import { BuiltinMetricProvider } from './builtin-provider.js';
import type { RevisionStats } from '../../router/contract/index.js';
import type { RevisionStatsSource } from './stats-source.js';

/** Figures where 5xx, upstream errors, timeouts and rejections are disjoint failures (unless `failed` says otherwise). */
const stats = (over: Partial<RevisionStats> & { ok?: number; e5xx?: number } = {}): RevisionStats => ({
  requests: (over.ok ?? 990) + (over.e5xx ?? 10) + (over.upstreamErrors ?? 0) + (over.timeouts ?? 0) + (over.rejected ?? 0),
  responses: { '1xx': 0, '2xx': over.ok ?? 990, '3xx': 0, '4xx': 0, '5xx': over.e5xx ?? 10 },
  failed: (over.e5xx ?? 10) + (over.upstreamErrors ?? 0) + (over.timeouts ?? 0) + (over.rejected ?? 0),
  upstreamErrors: 0, timeouts: 0, rejected: 0, clientErrors: 0, skewErrors: 0, fallbacks: 0, unreadyServed: 0,
  latencyMs: { p50: 10, p90: 20, p99: 40, max: 80 }, requestsPerSecond: 16.5, windowMs: 60_000,
  ...over,
});

/** The router's figures as a plain in-memory table (the real router implements the same interface). */
class TableSource implements RevisionStatsSource {
  queries: Array<{ service: string; revision: string; windowMs: number }> = [];
  constructor(private readonly table: Record<string, RevisionStats | 'hang'>) {}
  stats(q: { service: string; revision: string; windowMs: number }): RevisionStats | Promise<RevisionStats> {
    this.queries.push(q);
    const s = this.table[`${q.service}/${q.revision}`];
    if (s === 'hang') return new Promise(() => {});
    if (!s) throw new Error(`unknown revision ${q.revision}`);
    return s;
  }
}

const context: MeasureContext = { service: 'api', canaryRevision: 'v2', stableRevision: 'v1' };

describeProviderConformance('builtin', () => Promise.resolve({
  provider: new BuiltinMetricProvider(new TableSource({ 'api/v2': stats(), 'api/v1': stats(), 'hang/v2': 'hang' })),
  context,
  good: metricOf({ builtin: { metric: 'successRate' } }),
  failing: metricOf({ builtin: { metric: 'successRate', revision: 'stable' } }),
  failingContext: { ...context, stableRevision: 'gone' },
  invalid: metricOf({ builtin: { metric: 'throughput' } }),
  slow: { skip: 'builtin reads the router memory: it has no timeout capability' },
  hanging: metricOf({ builtin: { metric: 'successRate', service: 'hang' } }),
  teardown: async () => {},
}));

describe('builtin provider', () => {
  const source = new TableSource({
    'api/v2': stats({ ok: 900, e5xx: 50, upstreamErrors: 30, timeouts: 10, rejected: 10, latencyMs: { p50: 12, p90: 30, p99: 90, max: 200 }, requestsPerSecond: 20 }),
    'api/v1': stats({ ok: 1000, e5xx: 0 }),
    'api/idle': stats({ ok: 0, e5xx: 0, requestsPerSecond: 0 }),
  });
  const provider = new BuiltinMetricProvider(source);
  const measure = (builtin: Record<string, unknown>, ctx: MeasureContext = context) =>
    provider.measure({ metric: metricOf({ builtin }), args: {}, signal: new AbortController().signal, now: 0, context: ctx });

  it.each([
    ['errorRate', 0.1],
    ['successRate', 0.9],
    ['latencyP50', 12],
    ['latencyP90', 30],
    ['latencyP99', 90],
    ['requestRate', 20],
  ] as const)('%s of the canary → %d (errors = 5xx + upstream errors + timeouts + rejected)', async (metric, value) => {
    expect((await measure({ metric })).value).toBeCloseTo(value, 10);
  });

  it('counts each failed request once when the router reports failed (a 502 is also an upstream error)', async () => {
    // The router's own figures: 10 requests, all 502 for a refused connection.
    const routerLike = stats({ ok: 0, e5xx: 10, upstreamErrors: 10, failed: 10 });
    routerLike.requests = 10;
    const p = new BuiltinMetricProvider(new TableSource({ 'api/v2': routerLike }));
    const value = (await p.measure({ metric: metricOf({ builtin: { metric: 'errorRate' } }), args: {}, signal: new AbortController().signal, now: 0, context })).value;
    expect(value).toBe(1);
  });

  it('compares canary and stable with revision both', async () => {
    expect((await measure({ metric: 'errorRate', revision: 'both' })).value).toEqual({ canary: expect.closeTo(0.1, 10), stable: 0 });
  });

  it('reads the window and service from the metric', async () => {
    await measure({ metric: 'errorRate', revision: 'stable', window: '30s', service: 'api' }, { canaryRevision: 'v2', stableRevision: 'v1' });
    expect(source.queries.at(-1)).toEqual({ service: 'api', revision: 'v1', windowMs: 30_000 });
  });

  it('gives NaN rates without traffic', async () => {
    expect((await measure({ metric: 'successRate' }, { ...context, canaryRevision: 'idle' })).value).toBeNaN();
  });

  it.each([
    ['no service', { metric: 'errorRate' }, { canaryRevision: 'v2' }, 'invalid-config'],
    ['no canary revision', { metric: 'errorRate' }, { service: 'api' }, 'unreachable'],
    ['a zero window', { metric: 'errorRate', window: '0s' }, context, 'invalid-config'],
    ['a bad revision', { metric: 'errorRate', revision: 'preview' }, context, 'invalid-config'],
  ] as const)('%s is a ProviderError %s', async (_what, builtin, ctx, code) => {
    const err = await measure(builtin, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).code).toBe(code);
  });
});
