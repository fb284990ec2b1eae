/**
 * A release's analysis gate on the cluster, end to end: the real controller against the fake API
 * server with graylane's Release and analysis CRDs, the gate's `web` metric measuring a real
 * loopback HTTP server. The gate runs as an AnalysisRun of the first member (as on a single host,
 * where it measures the first member's canary), and its verdict moves both members: a passing run
 * opens the gate for all, a failing one aborts all back to stable.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { customResourceDefinition } from '../../src/documents/index.js';
import { POD_TEMPLATE_HASH_LABEL } from '../../src/kube/names.js';
import { apply, ClusterTestBed, readRollout, runController, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { analysisRuns, createTemplate, installAnalysisCrds, MetricServer, webTemplate } from '../fixtures/kube/analysis-fixtures.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';
import { memberRollout, memberService, newMemberImages, readRelease } from '../fixtures/kube/release-members.js';

const bed = new ClusterTestBed();
const { log } = bed;
let metrics: MetricServer | undefined;
afterEach(async () => {
  await bed.tearDown();
  await metrics?.close();
  metrics = undefined;
});

const ns = 'default';

/** web and api on their first revision, Healthy, in Release `shop` whose second step is an analysis gate. */
async function shop(value: number): Promise<{ c: Cluster; before: Record<string, string> }> {
  metrics = await MetricServer.start();
  metrics.value = value;
  const c = (bed.cluster = await startCluster({ readyAfterMs: 50 }));
  await installAnalysisCrds(c.server);
  expect((await rawRequest({ server: c.server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: customResourceDefinition('Release') })).status).toBe(201);
  await createTemplate(c, ns, webTemplate({ name: 'check', url: metrics.url, count: 2, interval: '100ms' }));
  await apply(c, [memberService('web-stable', 'web'), memberService('web-canary', 'web'), memberService('api-stable', 'api'), memberService('api-canary', 'api'), memberRollout('web', 'web:1'), memberRollout('api', 'api:1')] as never);
  expect((await rawRequest({ server: c.server, method: 'POST', path: `/apis/graylane.dev/v1alpha1/namespaces/${ns}/releases`, body: {
    apiVersion: 'graylane.dev/v1alpha1', kind: 'Release', metadata: { name: 'shop' },
    spec: { services: ['web', 'api'], strategy: { canary: { steps: [{ setWeight: 50 }, { analysis: { templates: [{ templateName: 'check' }], args: [{ name: 'hash', valueFrom: { podTemplateHashValue: 'Latest' } }] } }] } } },
  } })).status).toBe(201);
  bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log });
  const before: Record<string, string> = {};
  for (const name of ['web', 'api']) before[name] = (await until(`${name} Healthy`, () => readRollout(c, ns, name), (r) => r.status?.phase === 'Healthy', { timeoutMs: 30_000 })).status!.stableRS!;
  return { c, before };
}

describe('a release\'s analysis gate on the cluster', () => {
  it('a passing run, an AnalysisRun of the first member measuring its canary, opens the gate for both members: the release is promoted', async () => {
    const { c, before } = await shop(1);
    await newMemberImages(c, ns, ['web', 'api']);
    await until('the release promoted', () => readRelease(c), (r) => r.status?.phase === 'promoted', { timeoutMs: 30_000 });
    const after: Record<string, string> = {};
    for (const name of ['web', 'api']) {
      after[name] = (await until(`${name} on its new revision`, () => readRollout(c, ns, name), (r) => r.status?.stableRS !== before[name], { timeoutMs: 30_000 })).status!.stableRS!;
    }
    const runs = await analysisRuns(c, ns);
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run.metadata?.name).toMatch(/^web-shop-[0-9a-f]{12}-0-1$/);
    expect(run.metadata?.labels).toMatchObject({ [POD_TEMPLATE_HASH_LABEL]: after.web, 'rollout-type': 'Step', 'step-index': '1', 'graylane.dev/rollout': 'web' });
    expect(run.spec.args).toEqual([{ name: 'hash', value: after.web }]);
    expect(run.status?.phase).toBe('Successful');
    expect(metrics!.requests).toBe(2);
  }, 90_000);

  it('a failing run aborts the release: both members back on their old revisions', async () => {
    const { c, before } = await shop(0);
    await newMemberImages(c, ns, ['web', 'api']);
    const release = await until('the release aborted', () => readRelease(c), (r) => r.status?.phase === 'aborted', { timeoutMs: 30_000 });
    expect(release.status?.message).toMatch(/analysis at step 2 Failed/);
    for (const name of ['web', 'api']) {
      const r = await until(`${name} aborted`, () => readRollout(c, ns, name), (x) => x.status?.abort === true, { timeoutMs: 30_000 });
      expect(r.status?.stableRS).toBe(before[name]);
      expect((await c.core.readNamespacedService({ namespace: ns, name: `${name}-stable` })).spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe(before[name]);
    }
    expect((await analysisRuns(c, ns)).map((r) => r.status?.phase)).toEqual(['Failed']);
  }, 90_000);
});
