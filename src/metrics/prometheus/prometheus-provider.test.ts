/** Against a real Prometheus server (/usr/bin/prometheus) scraping a prom-client exporter every second. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTemplate } from '../../analysis/judge/template.js';
import { realScheduler, runAnalysis } from '../../analysis/runner.js';
import { deadUrl, hang, json, startServer, type TestServer } from '../../../test/fixtures/metrics/http-server.js';
import { startPrometheus, type TestPrometheus } from '../../../test/fixtures/metrics/prometheus-server.js';
import { describeProviderConformance, metricOf } from '../provider.case.test.js';
import { MetricProviderRegistry, ProviderError } from '../provider.js';
import { PrometheusMetricProvider } from './prometheus-provider.js';

let shared: Promise<TestPrometheus> | undefined;
const prometheus = () => (shared ??= startPrometheus());
afterAll(async () => { if (shared) await (await shared).stop(); }, 30_000);

describeProviderConformance('prometheus', async () => {
  const prom = await prometheus();
  const silent = await startServer({ '/api/v1/query': hang });
  return {
    provider: new PrometheusMetricProvider(),
    good: metricOf({ prometheus: { address: prom.address, query: 'graylane_test_success_ratio{revision="canary"}' } }),
    failing: metricOf({ prometheus: { address: await deadUrl(), query: 'up' } }),
    invalid: metricOf({ prometheus: { address: 'localhost:9090', query: 'up' } }),
    slow: metricOf({ prometheus: { address: silent.url, query: 'up', timeout: 1 } }),
    teardown: () => silent.close(),
  };
});

describe('prometheus provider (real server)', () => {
  let prom: TestPrometheus;
  let headerServer: TestServer;
  const provider = new PrometheusMetricProvider();
  const measure = (query: string, extra: Record<string, unknown> = {}) =>
    provider.measure({ metric: metricOf({ prometheus: { address: prom.address, query, ...extra } }), args: {}, signal: new AbortController().signal, now: Date.now() });

  beforeAll(async () => {
    prom = await prometheus();
    headerServer = await startServer({ '/prom/api/v1/query': json({ status: 'success', data: { resultType: 'scalar', result: [0, '1'] } }) });
  }, 60_000);
  afterAll(() => headerServer.close());

  it('a vector becomes an array of numbers, a scalar a number, an empty vector []', async () => {
    expect((await measure('graylane_test_success_ratio{revision="canary"}')).value).toEqual([0.99]);
    const both = (await measure('sort(graylane_test_success_ratio)')).value as number[];
    expect(both).toEqual([0.99, 0.999]);
    expect((await measure('scalar(graylane_test_success_ratio{revision="stable"})')).value).toBe(0.999);
    expect((await measure('graylane_test_success_ratio{revision="none"}')).value).toEqual([]);
    expect((await measure('vector(0) / 0')).value).toEqual([NaN]);
  });

  it.each([
    ['a PromQL syntax error', 'sum(', 'query-failed'],
    ['a range vector', 'graylane_test_success_ratio[1m]', 'bad-response'],
  ] as const)('%s is a ProviderError %s', async (_what, query, code) => {
    const err = await measure(query).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).code).toBe(code);
  });

  it('sends the configured headers and honours a path prefix in the address', async () => {
    const r = await provider.measure({
      metric: metricOf({ prometheus: { address: `${headerServer.url}/prom`, query: 'up', headers: [{ key: 'Authorization', value: 'Bearer s3cret' }] } }),
      args: {}, signal: new AbortController().signal, now: 1_700_000_000_000,
    });
    expect(r.value).toBe(1);
    const seen = headerServer.seen.at(-1)!;
    expect(seen.headers.authorization).toBe('Bearer s3cret');
    expect(seen.path).toBe('/prom/api/v1/query');
  });

  it('rejects authentication blocks it cannot honour', () => {
    expect(() => provider.validate(metricOf({ prometheus: { address: prom.address, query: 'up', authentication: { sigv4: {} } } }))).toThrow(/not supported/);
  });

  it('a Prometheus-judged run passes while healthy and fails once the figure drops', async () => {
    const registry = new MetricProviderRegistry().register(provider);
    const spec = {
      args: [{ name: 'revision' }],
      metrics: [{ name: 'success-rate', interval: '1s', count: 2, successCondition: 'result[0] >= 0.95', provider: { prometheus: { address: prom.address, query: 'graylane_test_success_ratio{revision="{{args.revision}}"}' } } }],
    };
    const good = await runAnalysis({ template: resolveTemplate({ spec, args: [{ name: 'revision', value: 'canary' }] }), providers: registry, scheduler: realScheduler });
    expect(good.phase).toBe('Successful');
    prom.successRatio.set({ revision: 'canary' }, 0.5);
    await prom.waitFor('graylane_test_success_ratio{revision="canary"}', (v) => v === 0.5);
    const bad = await runAnalysis({ template: resolveTemplate({ spec, args: [{ name: 'revision', value: 'canary' }] }), providers: registry, scheduler: realScheduler });
    expect(bad.phase).toBe('Failed');
    expect(bad.measurements[0]).toMatchObject({ phase: 'Failed', value: [0.5] });
    prom.successRatio.set({ revision: 'canary' }, 0.99);
  }, 60_000);

  it('Prometheus unreachable: Error measurements up to consecutiveErrorLimit, never Successful', async () => {
    const registry = new MetricProviderRegistry().register(provider);
    const template = resolveTemplate({ spec: { metrics: [{
      name: 'success-rate', interval: '1s', count: 3, consecutiveErrorLimit: 2, successCondition: 'result[0] >= 0.95',
      provider: { prometheus: { address: await deadUrl(), query: 'up', timeout: 1 } },
    }] } });
    const out = await runAnalysis({ template, providers: registry, scheduler: realScheduler });
    expect(out.phase).toBe('Error');
    expect(out.measurements.map((m) => m.phase)).toEqual(['Error', 'Error', 'Error']);
    expect(out.message).toMatch(/consecutive errors \(3\) > consecutiveErrorLimit \(2\).*cannot reach/);
  }, 60_000);
});
