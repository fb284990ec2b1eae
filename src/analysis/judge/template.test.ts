import { describe, expect, it } from 'vitest';
import type { AnalysisTemplateSpec } from '../../documents/schema.js';
import { AnalysisSpecError, resolveTemplate } from './template.js';

const prom = (query: string) => ({ prometheus: { address: 'http://127.0.0.1:9090', query } });

function specError(fn: () => unknown): AnalysisSpecError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AnalysisSpecError) return err;
    throw err;
  }
  throw new Error('expected an AnalysisSpecError');
}

describe('resolveTemplate', () => {
  it('substitutes {{args.x}} everywhere in a metric and applies Argo defaults', () => {
    const spec: AnalysisTemplateSpec = {
      args: [{ name: 'service' }, { name: 'threshold', value: '0.95' }, { name: 'count', value: '3' }],
      metrics: [{
        name: 'success-rate',
        interval: '30s',
        count: '{{args.count}}',
        successCondition: 'result[0] >= {{ args.threshold }}',
        provider: prom('sum(rate(http{service="{{args.service}}"}[1m]))'),
      }],
    };
    const t = resolveTemplate({ spec, args: [{ name: 'service', value: 'api' }, { name: 'other-template-arg', value: 'x' }] });
    expect(t.args).toEqual({ service: 'api', threshold: '0.95', count: '3' });
    const m = t.metrics[0]!;
    expect(m).toMatchObject({
      name: 'success-rate', providerType: 'prometheus', intervalMs: 30_000, count: 3, initialDelayMs: 0,
      failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4, dryRun: false,
      successCondition: 'result[0] >= 0.95',
    });
    expect(m.provider.prometheus?.query).toBe('sum(rate(http{service="api"}[1m]))');
  });

  it.each([
    [{ interval: undefined, count: undefined }, 1],
    [{ interval: '10s', count: undefined }, undefined],
    [{ interval: '10s', count: 0 }, undefined],
    [{ interval: '10s', count: 5 }, 5],
    [{ interval: undefined, count: 1 }, 1],
  ] as const)('count with %j is %s', (fields, count) => {
    const t = resolveTemplate({ spec: { metrics: [{ name: 'm', provider: prom('up'), ...fields }] } });
    expect(t.metrics[0]!.count).toBe(count);
  });

  it('merges the rollout dry-run list with the template one, and * means all', () => {
    const spec: AnalysisTemplateSpec = { metrics: [{ name: 'a', provider: prom('up') }, { name: 'b', provider: prom('up') }], dryRun: [{ metricName: 'a' }] };
    expect(resolveTemplate({ spec }).metrics.map((m) => m.dryRun)).toEqual([true, false]);
    expect(resolveTemplate({ spec, dryRun: ['b'] }).metrics.map((m) => m.dryRun)).toEqual([true, true]);
    expect(resolveTemplate({ spec: { ...spec, dryRun: [{ metricName: '*' }] } }).metrics.map((m) => m.dryRun)).toEqual([true, true]);
  });

  it.each([
    ['a required arg without a value', { args: [{ name: 'service' }], metrics: [{ name: 'm', provider: prom('up') }] }, 'missing-arg', 'args.service'],
    ['an undeclared {{args.x}}', { metrics: [{ name: 'm', provider: prom('up{x="{{args.nope}}"}') }] }, 'missing-arg', 'metrics[0].provider.prometheus.query'],
    ['a bad condition', { metrics: [{ name: 'm', successCondition: 'result >=', provider: prom('up') }] }, 'bad-condition', 'metrics[0].successCondition'],
    ['an unknown function', { metrics: [{ name: 'm', failureCondition: 'exec(result)', provider: prom('up') }] }, 'bad-condition', 'metrics[0].failureCondition'],
    ['a duplicate metric', { metrics: [{ name: 'm', provider: prom('up') }, { name: 'm', provider: prom('up') }] }, 'duplicate-metric', 'metrics[1].name'],
    ['count > 1 without interval', { metrics: [{ name: 'm', count: 3, provider: prom('up') }] }, 'invalid-value', 'metrics[0].interval'],
    ['failureLimit > count', { metrics: [{ name: 'm', count: 2, interval: '1s', failureLimit: 3, provider: prom('up') }] }, 'invalid-value', 'metrics[0].failureLimit'],
    ['inconclusiveLimit > count', { metrics: [{ name: 'm', count: 2, interval: '1s', inconclusiveLimit: 3, provider: prom('up') }] }, 'invalid-value', 'metrics[0].inconclusiveLimit'],
    ['a non-integer count', { metrics: [{ name: 'm', count: 'many', interval: '1s', provider: prom('up') }] }, 'invalid-value', 'metrics[0].count'],
    ['a bad interval', { metrics: [{ name: 'm', interval: '5 minutes', provider: prom('up') }] }, 'invalid-value', 'metrics[0].interval'],
    ['a bad initialDelay', { metrics: [{ name: 'm', initialDelay: '1d', provider: prom('up') }] }, 'invalid-value', 'metrics[0].initialDelay'],
    ['a negative consecutiveErrorLimit', { metrics: [{ name: 'm', consecutiveErrorLimit: '-1', provider: prom('up') }] }, 'invalid-value', 'metrics[0].consecutiveErrorLimit'],
    ['two providers', { metrics: [{ name: 'm', provider: { ...prom('up'), web: { url: 'http://x' } } }] }, 'no-provider', 'metrics[0].provider'],
    ['an unknown dry-run metric', { metrics: [{ name: 'm', provider: prom('up') }], dryRun: [{ metricName: 'x' }] }, 'invalid-value', 'dryRun'],
  ] as const)('rejects %s', (_what, spec, code, path) => {
    const err = specError(() => resolveTemplate({ spec: spec as unknown as AnalysisTemplateSpec }));
    expect(err.code).toBe(code);
    expect(err.path).toBe(path);
    expect(err.message.startsWith(`${path}: `)).toBe(true);
  });

  it('accepts failureLimit -1 (unlimited)', () => {
    const t = resolveTemplate({ spec: { metrics: [{ name: 'm', interval: '1s', count: 3, failureLimit: -1, provider: prom('up') }] } });
    expect(t.metrics[0]!.failureLimit).toBe(-1);
  });
});
