/**
 * The metric provider conformance suite: every provider, set up against a real source (loopback
 * HTTP server, real Prometheus, real child processes, an in-memory router stats source), must
 * measure, classify failures as typed ProviderErrors, reject bad config, honour abort and its
 * timeout. A skipped case names its reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTemplate } from '../analysis/judge/template.js';
import type { MetricProviderSpec, ResolvedMetric } from '../analysis/judge/types.js';
import { MetricProviderRegistry, ProviderError, type MeasureContext, type MetricProvider, type ProviderCapability } from './provider.js';

export function metricOf(provider: unknown, extra: Record<string, unknown> = {}): ResolvedMetric {
  return resolveTemplate({ spec: { metrics: [{ name: 'm', provider: provider as MetricProviderSpec, ...extra }] } }).metrics[0]!;
}

/** What a provider's test file hands the suite. */
export interface ProviderConformanceSetup {
  provider: MetricProvider;
  /** Measures successfully. */
  good: ResolvedMetric;
  /** Its source cannot answer (unreachable, missing). */
  failing: ResolvedMetric;
  /** A provider block the provider must reject. */
  invalid: ResolvedMetric;
  /** A metric whose source never answers within its 1 s timeout, or why the case does not apply. */
  slow: ResolvedMetric | { skip: string };
  /** Measured instead of `slow` for the mid-measurement abort when `slow` is skipped: never answers. */
  hanging?: ResolvedMetric;
  context?: MeasureContext;
  /** Context for `failing`, when the failure comes from the context. */
  failingContext?: MeasureContext;
  teardown(): Promise<void>;
}

const KNOWN: ProviderCapability[] = ['compare-revisions', 'headers', 'request-body', 'json-path', 'insecure-tls', 'timeout'];

const controller = () => new AbortController();

/** Runs the conformance suite against one provider; each provider's own test file calls it. */
export function describeProviderConformance(type: string, setup: () => Promise<ProviderConformanceSetup>): void {
  describe(`metric provider conformance: ${type}`, () => {
    let s: ProviderConformanceSetup;
    beforeAll(async () => {
      s = await setup();
    }, 60_000);
    afterAll(async () => { await s?.teardown(); }, 30_000);

    const measure = (metric: ResolvedMetric, signal = controller().signal, context = s.context) =>
      s.provider.measure({ metric, args: {}, signal, now: Date.now(), ...(context ? { context } : {}) });

    it('declares its type and known capabilities, and is found by type in a registry', () => {
      expect(s.provider.type).toBe(type);
      expect(s.good.providerType).toBe(type);
      for (const c of s.provider.capabilities) expect(KNOWN).toContain(c);
      expect(new MetricProviderRegistry().register(s.provider).get(type)).toBe(s.provider);
    });

    it('measures a value', async () => {
      const result = await measure(s.good);
      expect(result.value).toBeDefined();
      expect(result.phase).toBeUndefined();
    });

    it('a source that cannot answer is a ProviderError, never a value', async () => {
      await expect(measure(s.failing, controller().signal, s.failingContext ?? s.context)).rejects.toBeInstanceOf(ProviderError);
    });

    it('rejects a bad provider block with invalid-config, at validate and at measure', async () => {
      expect(() => s.provider.validate(s.invalid)).toThrow(ProviderError);
      await expect(measure(s.invalid)).rejects.toMatchObject({ code: 'invalid-config' });
    });

    it('rejects with aborted when the signal is already aborted', async () => {
      const c = controller();
      c.abort();
      await expect(measure(s.good, c.signal)).rejects.toMatchObject({ code: 'aborted' });
    });

    it('rejects with aborted when aborted mid-measurement', async (ctx) => {
      const slowMetric = 'skip' in s.slow ? s.hanging : { ...s.slow, provider: patchTimeout(s.slow.provider, 30) };
      if (!slowMetric) return ctx.skip('no metric that hangs');
      const c = controller();
      const pending = measure(slowMetric, c.signal);
      setTimeout(() => c.abort(), 200);
      await expect(pending).rejects.toMatchObject({ code: 'aborted' });
    });

    it('gives up after its timeout with timeout', async (ctx) => {
      if ('skip' in s.slow) return ctx.skip(s.slow.skip);
      await expect(measure(s.slow)).rejects.toMatchObject({ code: 'timeout' });
    });
  });
}

/** A copy of the provider block with a long timeout, so only the abort can end it. */
function patchTimeout(provider: MetricProviderSpec, seconds: number): MetricProviderSpec {
  const [key, block] = Object.entries(provider)[0] as [string, Record<string, unknown>];
  const field = key === 'prometheus' ? 'timeout' : 'timeoutSeconds';
  return { [key]: { ...block, [field]: seconds } };
}
