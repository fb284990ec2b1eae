/**
 * An analysis step judged by a real Prometheus scraping graylane's router: a healthy canary
 * passes the step, a bad one fails it and the rollout goes back to stable.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startPrometheus, type TestPrometheus } from '../fixtures/metrics/prometheus-server.js';
import { appDir, cli, hit, startDaemon, startLoad, stopDaemon, waitFor, writeApp, type Daemon, view } from './harness.js';
import type { ServiceView } from '../../src/controller/view-model.js';

let daemon: Daemon | undefined;
let prometheus: TestPrometheus | undefined;
afterEach(async () => {
  if (daemon) await stopDaemon(daemon);
  await prometheus?.stop();
  daemon = undefined;
  prometheus = undefined;
});

const strategy = `      canary:
        guard: {enabled: false}
        steps:
        - setWeight: 50
        - analysis:
            templates: [{templateName: success-rate}]
            args: [{name: canary, valueFrom: {podTemplateHashValue: Latest}}]
        - pause: {}`;

function template(address: string): string {
  const rate = (extra: string) => `sum(rate(graylane_router_responses_total{service="app",revision="{{args.canary}}"${extra}}[5s]))`;
  return `---
apiVersion: graylane.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: success-rate}
spec:
  args: [{name: canary}]
  metrics:
  - name: success-rate
    initialDelay: 4s
    interval: 2s
    count: 3
    successCondition: result[0] >= 0.95
    failureLimit: 0
    consecutiveErrorLimit: 4
    provider:
      prometheus:
        address: ${address}
        query: '${rate(',class="2xx"')} / ${rate('')}'
`;
}

async function run(env: Record<string, string>): Promise<{ d: Daemon; final: ServiceView }> {
  const dir = appDir();
  const file = writeApp(dir, { version: 'v1', strategy });
  const d = await startDaemon(dir);
  daemon = d;
  await waitFor(async () => (await view(d)).phase === 'Healthy', 20_000, 'v1 healthy');
  const token = readFileSync(join(d.stateDir, 'token'), 'utf8').trim();
  prometheus = await startPrometheus({ extraTargets: [{ address: new URL(d.info.adminUrl!).host, bearerToken: token }] });
  writeApp(dir, { version: 'v2', strategy, env });
  writeFileSync(file, readFileSync(file, 'utf8') + template(prometheus.address));
  const load = startLoad(`${d.info.routerUrl}/`, 100, 40_000);
  expect((await cli(d.stateDir, ['apply', '-f', file])).code).toBe(0);
  const final = await waitFor(async () => {
    const v = await view(d);
    return (v.phase === 'Paused' && v.step === 3) || v.phase === 'Degraded' ? v : undefined;
  }, 40_000, 'analysis decided');
  load.stop();
  await load.done;
  return { d, final };
}

describe('an analysis step judged by Prometheus', () => {
  it('a healthy canary passes the analysis and goes on to the next step', async () => {
    const { d, final } = await run({});
    expect(final.phase).toBe('Paused');
    const runs = JSON.parse((await cli(d.stateDir, ['analysis', 'app', '--json'])).out).runs;
    expect(runs[0].phase).toBe('Successful');
    expect(runs[0].metrics[0].measurements.filter((m: { phase: string }) => m.phase === 'Successful').length).toBe(3);
  }, 90_000);

  it('a canary failing a third of its requests fails the analysis: traffic back on stable', async () => {
    const { d, final } = await run({ FAIL_RATE: '0.34' });
    expect(final.phase).toBe('Degraded');
    for (let i = 0; i < 20; i++) expect((await hit(`${d.info.routerUrl}/`)).version).toBe('v1');
    const runs = JSON.parse((await cli(d.stateDir, ['analysis', 'app', '--json'])).out).runs;
    expect(runs[0].phase).toBe('Failed');
  }, 90_000);
});
