/**
 * Analysis on the cluster, end to end: the real controller against the fake API server with
 * graylane's analysis CRDs, its `web` metrics measuring a real loopback HTTP server. Every run is an
 * AnalysisRun object (the fake validates each write against the CRD's schema), which decides the
 * Rollout: a passing step completes it, a failing one (or a failing background run) aborts it
 * back to stable, a blue-green pre-promotion run gates the switch. A restarted controller resumes a
 * run from its stored measurements; a missing template or the builtin provider is an Error with a
 * sentence.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { POD_TEMPLATE_HASH_LABEL } from '../../src/kube/names.js';
import { apply, ClusterTestBed, patchRolloutSpec, readRollout, runController, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { analysisRuns, createTemplate, events, installAnalysisCrds, MetricServer, webTemplate } from '../fixtures/kube/analysis-fixtures.js';
import { writeKubeconfig } from '../fixtures/kube/kubeconfig.js';

const bed = new ClusterTestBed();
const { log } = bed;
let metrics: MetricServer | undefined;
afterEach(async () => {
  await bed.tearDown();
  await metrics?.close();
  metrics = undefined;
});

const ns = 'default';
const labels = { app: 'shop' };
const template = (image: string) => ({ metadata: { labels }, spec: { containers: [{ name: 'shop', image, ports: [{ containerPort: 8080 }] }] } });
const services = ['shop-stable', 'shop-canary', 'shop-active', 'shop-preview'].map((name) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] } }));
const hashArg = [{ name: 'hash', valueFrom: { podTemplateHashValue: 'Latest' } }];
const canary = (strategy: Record<string, unknown>) => ({
  apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'shop', namespace: ns },
  spec: { replicas: 1, selector: { matchLabels: labels }, template: template('shop:1'), strategy: { canary: { stableService: 'shop-stable', canaryService: 'shop-canary', ...strategy } } },
});
const selectorOf = async (c: Cluster, name: string) => (await c.core.readNamespacedService({ namespace: ns, name })).spec?.selector?.[POD_TEMPLATE_HASH_LABEL];

async function setUp(templates: Array<Record<string, unknown>>, rollout: Record<string, unknown>): Promise<{ c: Cluster; v1: string }> {
  const c = (bed.cluster = await startCluster({ readyAfterMs: 50 }));
  await installAnalysisCrds(c.server);
  for (const t of templates) await createTemplate(c, ns, t);
  await apply(c, [...services, rollout] as never);
  bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log });
  const first = await until('Healthy on the first revision', () => readRollout(c, ns, 'shop'), (r) => r.status?.phase === 'Healthy');
  return { c, v1: first.status!.stableRS! };
}

describe('analysis on the cluster', () => {
  it('a canary analysis step measuring a real web endpoint passes: the AnalysisRun is stored Successful (owned, labelled as Argo\'s) and the Rollout completes', async () => {
    metrics = await MetricServer.start();
    const { c, v1 } = await setUp([webTemplate({ name: 'check', url: metrics.url, count: 2, interval: '100ms' })],
      canary({ steps: [{ setWeight: 50 }, { analysis: { templates: [{ templateName: 'check' }], args: hashArg } }] }));
    await patchRolloutSpec(c, ns, 'shop', { template: template('shop:2') });
    const done = await until('promoted to the new revision', () => readRollout(c, ns, 'shop'), (r) => r.status?.stableRS !== undefined && r.status.stableRS !== v1, { timeoutMs: 30_000 });
    const v2 = done.status!.stableRS!;
    const [run, ...others] = await analysisRuns(c, ns);
    expect(others).toEqual([]);
    expect(run!.metadata?.name).toBe(`shop-${v2}-0-1`);
    expect(run!.metadata?.labels).toMatchObject({ [POD_TEMPLATE_HASH_LABEL]: v2, 'rollout-type': 'Step', 'step-index': '1', 'graylane.dev/rollout': 'shop' });
    expect(run!.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'Rollout', name: 'shop', uid: done.metadata?.uid, controller: true })]);
    // The arg resolved to the canary's hash, stored so the run needs nothing else.
    expect(run!.spec.args).toEqual([{ name: 'hash', value: v2 }]);
    expect(run!.status?.phase).toBe('Successful');
    expect(run!.status?.metricResults?.[0]).toMatchObject({ name: 'ok', phase: 'Successful', count: 2, successful: 2 });
    expect(run!.status?.metricResults?.[0]?.measurements?.map((m) => m.value)).toEqual([1, 1]);
    expect(metrics.requests).toBe(2);
    expect(await selectorOf(c, 'shop-stable')).toBe(v2);
  });

  it('a failing metric aborts the Rollout back to stable, with the run\'s reason in its status and an Event', async () => {
    metrics = await MetricServer.start();
    metrics.value = 0;
    const { c, v1 } = await setUp([webTemplate({ name: 'check', url: metrics.url })],
      canary({ steps: [{ setWeight: 50 }, { analysis: { templates: [{ templateName: 'check' }], args: hashArg } }] }));
    await patchRolloutSpec(c, ns, 'shop', { template: template('shop:2') });
    const aborted = await until('aborted', () => readRollout(c, ns, 'shop'), (r) => r.status?.abort === true, { timeoutMs: 30_000 });
    expect(aborted.status?.stableRS).toBe(v1);
    expect(aborted.status?.message).toMatch(/step analysis .* failed: .*ok/);
    const [run] = await analysisRuns(c, ns);
    expect(run!.status?.phase).toBe('Failed');
    expect(run!.status?.metricResults?.[0]?.measurements?.[0]).toMatchObject({ phase: 'Failed', value: 0 });
    // No traffic router: traffic is the pods', and the canary's go.
    expect(await selectorOf(c, 'shop-stable')).toBe(v1);
    const canaryRs = `shop-${(await analysisRuns(c, ns))[0]!.metadata!.labels![POD_TEMPLATE_HASH_LABEL]}`;
    await until('the canary scaled to 0', () => c.apps.readNamespacedReplicaSet({ namespace: ns, name: canaryRs }), (rs) => rs.spec?.replicas === 0);
    const posted = await until('an AnalysisRunFailed Event', () => events(c, ns), (es) => es.some((e) => e.reason === 'AnalysisRunFailed'));
    expect(posted.find((e) => e.reason === 'AnalysisRunFailed')?.message).toContain(run!.metadata!.name!);
  });

  it('background analysis (canary.analysis) failing mid-way aborts the paused canary', async () => {
    metrics = await MetricServer.start();
    const { c, v1 } = await setUp([webTemplate({ name: 'bg', url: metrics.url, count: 1000, interval: '100ms' })],
      canary({ analysis: { templates: [{ templateName: 'bg' }], args: hashArg }, steps: [{ setWeight: 50 }, { pause: {} }] }));
    await patchRolloutSpec(c, ns, 'shop', { template: template('shop:2') });
    await until('paused with the background run measuring', () => analysisRuns(c, ns), (rs) => (rs[0]?.status?.metricResults?.[0]?.successful ?? 0) >= 2, { timeoutMs: 30_000 });
    expect((await readRollout(c, ns, 'shop')).status?.abort).not.toBe(true);
    metrics.value = 0;
    const aborted = await until('aborted', () => readRollout(c, ns, 'shop'), (r) => r.status?.abort === true, { timeoutMs: 30_000 });
    expect(aborted.status?.message).toMatch(/background analysis .* failed/);
    expect(aborted.status?.stableRS).toBe(v1);
    const [run] = await analysisRuns(c, ns);
    expect(run!.metadata?.labels?.['rollout-type']).toBe('Background');
    expect(run!.status?.phase).toBe('Failed');
  });

  it('blue-green prePromotionAnalysis gates the switch: the active Service stays on the old revision while the run measures, and moves once it passed', async () => {
    metrics = await MetricServer.start();
    const bg = {
      apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'shop', namespace: ns },
      spec: {
        replicas: 1, selector: { matchLabels: labels }, template: template('shop:1'),
        strategy: { blueGreen: { activeService: 'shop-active', previewService: 'shop-preview', prePromotionAnalysis: { templates: [{ templateName: 'gate' }], args: hashArg } } },
      },
    };
    const { c, v1 } = await setUp([webTemplate({ name: 'gate', url: metrics.url, count: 3, interval: '500ms' })], bg);
    await patchRolloutSpec(c, ns, 'shop', { template: template('shop:2') });
    const measuring = await until('the pre-promotion run measuring', () => analysisRuns(c, ns), (rs) => (rs[0]?.status?.metricResults?.[0]?.measurements?.length ?? 0) >= 1, { timeoutMs: 30_000 });
    const [run] = measuring;
    expect(run!.metadata?.labels?.['rollout-type']).toBe('PrePromotion');
    expect(run!.metadata?.name).toMatch(/^shop-[a-z0-9]+-0-pre$/);
    expect(run!.status?.phase).toBe('Running');
    expect(await selectorOf(c, 'shop-active')).toBe(v1);
    await until('the switch after the run', () => selectorOf(c, 'shop-active'), (s) => s !== v1, { timeoutMs: 30_000 });
    const [passed] = await analysisRuns(c, ns);
    expect(passed!.status?.phase).toBe('Successful');
    expect(passed!.status?.metricResults?.[0]?.measurements).toHaveLength(3);
  });

  it('a controller restarted mid-run resumes the run from its stored measurements: none lost, none taken twice', async () => {
    metrics = await MetricServer.start();
    const { c } = await setUp([webTemplate({ name: 'check', url: metrics.url, count: 6, interval: '300ms' })],
      canary({ steps: [{ setWeight: 50 }, { analysis: { templates: [{ templateName: 'check' }], args: hashArg } }] }));
    await patchRolloutSpec(c, ns, 'shop', { template: template('shop:2') });
    const midway = await until('two measurements stored', () => analysisRuns(c, ns), (rs) => (rs[0]?.status?.metricResults?.[0]?.measurements?.length ?? 0) >= 2, { timeoutMs: 30_000 });
    await bed.controller!.stop();
    const stored = (await analysisRuns(c, ns))[0]!;
    expect(stored.status?.phase).toBe('Running');
    const before = stored.status!.metricResults![0]!.measurements!;
    expect(before.length).toBeGreaterThanOrEqual(midway[0]!.status!.metricResults![0]!.measurements!.length);
    bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log });
    const ended = await until('the run Successful', () => analysisRuns(c, ns), (rs) => rs[0]?.status?.phase === 'Successful', { timeoutMs: 30_000 });
    const after = ended[0]!.status!.metricResults![0]!.measurements!;
    expect(after).toHaveLength(6);
    // The stored ones are kept as they were; only the rest were measured.
    expect(after.slice(0, before.length)).toEqual(before);
    expect(metrics.requests).toBe(6);
  });

  it('a template that does not exist: the run is Error with a sentence naming it, the Rollout aborts, and an Event says so', async () => {
    const { c, v1 } = await setUp([], canary({ steps: [{ setWeight: 50 }, { analysis: { templates: [{ templateName: 'nowhere' }] } }] }));
    await patchRolloutSpec(c, ns, 'shop', { template: template('shop:2') });
    const aborted = await until('aborted', () => readRollout(c, ns, 'shop'), (r) => r.status?.abort === true, { timeoutMs: 30_000 });
    expect(aborted.status?.message).toMatch(/errored: AnalysisTemplate "nowhere" not found in namespace "default"/);
    expect(aborted.status?.stableRS).toBe(v1);
    const posted = await until('an AnalysisRunError Event', () => events(c, ns), (es) => es.some((e) => e.reason === 'AnalysisRunError'));
    expect(posted.find((e) => e.reason === 'AnalysisRunError')?.message).toContain('AnalysisTemplate "nowhere" not found');
  });

  it('a template measuring with the builtin provider, on a controller given no Prometheus, is an Error with a sentence saying what to set', async () => {
    const builtin = webTemplate({ name: 'router', url: 'unused', provider: { builtin: { metric: 'successRate' } } });
    const { c } = await setUp([builtin], canary({ steps: [{ setWeight: 50 }, { analysis: { templates: [{ templateName: 'router' }], args: hashArg } }] }));
    await patchRolloutSpec(c, ns, 'shop', { template: template('shop:2') });
    const aborted = await until('aborted', () => readRollout(c, ns, 'shop'), (r) => r.status?.abort === true, { timeoutMs: 30_000 });
    expect(aborted.status?.message).toMatch(/metric "ok" cannot be measured: on Kubernetes the builtin provider reads the canary's requests from Prometheus, and this controller has none: start it with --prometheus-url/);
    const [run] = await analysisRuns(c, ns);
    expect(run!.status?.phase).toBe('Error');
  });

  it('ended runs beyond spec.analysis.successfulRunHistoryLimit are deleted, the newest kept', async () => {
    metrics = await MetricServer.start();
    const check = { analysis: { templates: [{ templateName: 'check' }], args: hashArg } };
    const rollout = canary({ steps: [{ setWeight: 30 }, check, { setWeight: 60 }, check] });
    (rollout.spec as Record<string, unknown>).analysis = { successfulRunHistoryLimit: 1 };
    const { c, v1 } = await setUp([webTemplate({ name: 'check', url: metrics.url })], rollout);
    await patchRolloutSpec(c, ns, 'shop', { template: template('shop:2') });
    await until('promoted to the new revision', () => readRollout(c, ns, 'shop'), (r) => r.status?.stableRS !== undefined && r.status.stableRS !== v1, { timeoutMs: 30_000 });
    expect(metrics.requests).toBe(2);
    const left = await until('one run left', () => analysisRuns(c, ns), (rs) => rs.length === 1, { timeoutMs: 15_000 });
    expect(left[0]!.metadata?.labels?.['step-index']).toBe('3');
  });

  it.skipIf(!existsSync('/usr/bin/kubectl'))('kubectl get analysisruns (the real kubectl) lists the runs with their phase', async () => {
    metrics = await MetricServer.start();
    const { c } = await setUp([webTemplate({ name: 'check', url: metrics.url })],
      canary({ steps: [{ setWeight: 50 }, { analysis: { templates: [{ templateName: 'check' }], args: hashArg } }] }));
    await patchRolloutSpec(c, ns, 'shop', { template: template('shop:2') });
    await until('the run Successful', () => analysisRuns(c, ns), (rs) => rs[0]?.status?.phase === 'Successful', { timeoutMs: 30_000 });
    const dir = await mkdtemp(join(tmpdir(), 'graylane-analysis-'));
    try {
      const kubeconfig = await writeKubeconfig({ server: c.server, dir });
      const { stdout } = await promisify(execFile)('/usr/bin/kubectl', ['--kubeconfig', kubeconfig, 'get', 'analysisruns', '-n', ns], { timeout: 20_000 });
      const [header, row, ...rest] = stdout.trim().split('\n');
      expect(header).toMatch(/^NAME\s+PHASE\s+AGE$/);
      expect(row).toMatch(/^shop-[a-z0-9]+-0-1\s+Successful\s+/);
      expect(rest).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
