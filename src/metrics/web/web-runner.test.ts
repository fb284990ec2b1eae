/** The analysis runner on real timers with the real web provider against a loopback server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTemplate } from '../../analysis/judge/template.js';
import { runAnalysis, type RecordedMeasurement } from '../../analysis/runner.js';
import { startServer, type TestServer } from '../../../test/fixtures/metrics/http-server.js';
import { createDefaultProviderRegistry } from '../registry.js';

describe('runAnalysis with the web provider', () => {
  let server: TestServer;
  let ratio = 0.99;
  beforeAll(async () => {
    server = await startServer({ '/health': (_req, _body, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ratio })) });
  });
  afterAll(() => server.close());

  const template = () => resolveTemplate({
    spec: { args: [{ name: 'base' }], metrics: [{ name: 'ratio', interval: '1s', count: 3, successCondition: 'result >= 0.95', provider: { web: { url: '{{args.base}}/health', jsonPath: '$.ratio' } } }] },
    args: [{ name: 'base', value: server.url }],
  });

  it('passes a healthy endpoint, storing every measurement', async () => {
    ratio = 0.99;
    const stored: RecordedMeasurement[] = [];
    const out = await runAnalysis({ template: template(), providers: createDefaultProviderRegistry(), onMeasurement: (m) => { stored.push(m); } });
    expect(out.phase).toBe('Successful');
    expect(stored.map((m) => [m.phase, m.value])).toEqual([['Successful', 0.99], ['Successful', 0.99], ['Successful', 0.99]]);
    expect(stored[1]!.startedAtMs - stored[0]!.finishedAtMs!).toBeGreaterThanOrEqual(990);
  });

  it('fails as soon as the endpoint turns bad', async () => {
    ratio = 0.99;
    const out = await runAnalysis({
      template: template(),
      providers: createDefaultProviderRegistry(),
      onMeasurement: () => { ratio = 0.5; },
    });
    expect(out.phase).toBe('Failed');
    expect(out.measurements.map((m) => m.phase)).toEqual(['Successful', 'Failed']);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    const open = resolveTemplate({ spec: { metrics: [{ name: 'ratio', interval: '1s', provider: { web: { url: `${server.url}/health`, jsonPath: '$.ratio' } } }] } });
    setTimeout(() => controller.abort(), 1_500);
    const out = await runAnalysis({ template: open, providers: createDefaultProviderRegistry(), signal: controller.signal });
    expect(out).toMatchObject({ phase: 'Successful', stopped: true });
    expect(out.measurements.length).toBeGreaterThanOrEqual(1);
  });
});
