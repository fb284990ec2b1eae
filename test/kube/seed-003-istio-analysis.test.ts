/**
 * Seed 003 end to end: examples/kubernetes/003 (an Istio VirtualService split 90/10 by host, a
 * background analysis of `istio_requests_total` that aborts when the canary's errors pass 5%)
 * applied to the fake API server with Istio's own CRDs and graylane's analysis CRDs, the real
 * controller rolling it out, and a real Prometheus (Debian `prometheus`) scraping a simulated
 * mesh that splits its requests by the VirtualService's weights as the controller writes them.
 * The canary's error rate rises once it has traffic: the analysis run fails, the Rollout is
 * aborted and the VirtualService is back to 100/0.
 *
 * The document's own intervals are shortened for the test, and nothing else: the metric measures
 * every second instead of every 30 s (Prometheus scrapes every second), and its Prometheus address
 * is the test's. The query, the condition, the failure limit and the steps are the document's.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { AnalysisRunView } from '../../src/controller/view-model.js';
import { apply, ClusterTestBed, documents, patchRolloutSpec, readRollout, runController, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { analysisRuns, installAnalysisCrds } from '../fixtures/kube/analysis-fixtures.js';
import { installIstioCrds } from '../fixtures/kube/istio-crds.js';
import { IstioMeshExporter } from '../fixtures/kube/istio-mesh-exporter.js';
import { writeKubeconfig } from '../fixtures/kube/kubeconfig.js';
import { startPrometheus, type TestPrometheus } from '../fixtures/metrics/prometheus-server.js';

const EXAMPLE = resolve(import.meta.dirname, '../../examples/kubernetes/003-istio-90-10-analysis.yaml');
const ns = 'default';
const bed = new ClusterTestBed();
let prometheus: TestPrometheus | undefined;
let mesh: IstioMeshExporter | undefined;
let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
  await prometheus?.stop();
  prometheus = undefined;
  await mesh?.stop();
  mesh = undefined;
  await bed.tearDown();
});

type Metric = { interval?: string; provider: { prometheus?: { address?: string } } };

/** The VirtualService's primary route as `host=weight,…`. */
async function weights(c: Cluster): Promise<string> {
  const vs = await c.custom.getNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: ns, plural: 'virtualservices', name: 'my-service' }) as { spec: { http: Array<{ route: Array<{ destination: { host: string }; weight: number }> }> } };
  return vs.spec.http[0]!.route.map((r) => `${r.destination.host}=${r.weight}`).join(',');
}

describe('seed 003: Istio 90/10 judged by istio_requests_total from a real Prometheus', () => {
  it('the canary gets 10% of the requests; when its errors pass 5% the analysis run fails, the Rollout aborts and the VirtualService is back to 100/0', async () => {
    const c = (bed.cluster = await startCluster({ readyAfterMs: 50 }));
    await installIstioCrds(c.server);
    await installAnalysisCrds(c.server);
    mesh = await IstioMeshExporter.start({ kubeConfig: c.kc, namespace: ns, virtualService: 'my-service', workload: 'my-service' });
    prometheus = await startPrometheus({ extraTargets: [{ address: mesh.address }] });
    const address = prometheus.address;
    await apply(c, documents(readFileSync(EXAMPLE, 'utf8'), (doc) => {
      if (doc.kind !== 'AnalysisTemplate') return doc;
      const metrics = (doc.spec as { metrics: Metric[] }).metrics.map((m) => ({ ...m, interval: '1s', provider: { prometheus: { ...m.provider.prometheus, address } } }));
      return { ...doc, spec: { ...doc.spec, metrics } };
    }));
    bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log: bed.log });
    const v1 = (await until('Healthy on v1', () => readRollout(c, ns, 'my-service'), (r) => r.status?.phase === 'Healthy', { timeoutMs: 30_000 })).status!.stableRS!;
    expect(await weights(c)).toBe('my-service=100,my-service-canary=0');

    await patchRolloutSpec(c, ns, 'my-service', { template: { metadata: { labels: { app: 'my-service' } }, spec: { containers: [{ name: 'my-service', image: 'my-service:v2', ports: [{ containerPort: 8080 }] }] } } });
    await until('90/10 in the VirtualService', () => weights(c), (w) => w === 'my-service=90,my-service-canary=10', { timeoutMs: 30_000 });
    const v2 = (await readRollout(c, ns, 'my-service')).status!.currentPodHash!;
    expect(v2).not.toBe(v1);
    // The mesh follows the weights: Prometheus sees a tenth of the requests go to the canary
    // Service, reported under the canary's canonical revision.
    await prometheus.waitFor('sum(rate(istio_requests_total{reporter="source",destination_service_name="my-service-canary"}[3s])) / sum(rate(istio_requests_total{reporter="source"}[3s]))', (share) => share > 0.07 && share < 0.13, 20_000);
    await prometheus.waitFor(`sum(istio_requests_total{reporter="destination",destination_canonical_revision="${v2}"})`, (n) => n > 0, 10_000);
    // Healthy canary traffic measured and passed before anything fails.
    await until('a passing measurement of the canary\'s traffic', () => analysisRuns(c, ns), (runs) => (runs[0]?.status?.metricResults?.[0]?.measurements ?? [])
      .some((m) => m.phase === 'Successful' && Array.isArray(m.value) && m.value.length === 1), { timeoutMs: 30_000 });
    expect((await readRollout(c, ns, 'my-service')).status?.abort).not.toBe(true);

    mesh.errorRates.set(v2, 0.3);
    const failingSince = Date.now();
    const aborted = await until('aborted by the analysis', () => readRollout(c, ns, 'my-service'), (r) => r.status?.abort === true, { timeoutMs: 30_000 });
    expect(Date.now() - failingSince).toBeLessThan(25_000);
    expect(aborted.status?.phase).toBe('Degraded');
    expect(aborted.status?.stableRS).toBe(v1);
    expect(aborted.status?.message).toMatch(/background analysis .* failed/);
    await until('100/0 in the VirtualService', () => weights(c), (w) => w === 'my-service=100,my-service-canary=0', { timeoutMs: 10_000 });

    const [run, ...others] = await analysisRuns(c, ns);
    expect(others).toEqual([]);
    expect(run!.metadata?.labels?.['rollout-type']).toBe('Background');
    expect(run!.spec.args).toEqual([{ name: 'service', value: 'my-service-canary' }]);
    expect(run!.status?.phase).toBe('Failed');
    const result = run!.status!.metricResults![0]!;
    expect(result).toMatchObject({ name: 'error-rate', phase: 'Failed', failed: 1 });
    const last = result.measurements!.at(-1)!;
    expect(last.phase).toBe('Failed');
    expect((last.value as number[])[0]).toBeGreaterThan(0.05);
    expect(result.measurements!.filter((m) => m.phase === 'Successful').length).toBeGreaterThanOrEqual(1);

    // `graylane analysis` (and `kubectl graylane analysis`, which sets GRAYLANE_TARGET=cluster) shows the same run.
    dir = await mkdtemp(join(tmpdir(), 'graylane-seed003-'));
    const kubeconfig = await writeKubeconfig({ server: c.server, dir, namespace: ns });
    const cli = async (args: string[], env: Record<string, string> = {}) => {
      let out = '';
      let err = '';
      const code = await main(args, { out: (t) => void (out += t), err: (t) => void (err += t), isTty: false, env: { KUBECONFIG: kubeconfig, ...env }, cwd: dir! });
      return { code, out, err };
    };
    const json = await cli(['analysis', 'my-service', '--json', '--kubeconfig', kubeconfig, '-n', ns]);
    expect(json.code).toBe(0);
    const { runs } = JSON.parse(json.out) as { runs: AnalysisRunView[] };
    expect(runs.map((r) => [r.name, r.phase])).toEqual([[run!.metadata!.name, 'Failed']]);
    expect(runs[0]!.metrics[0]!.measurements.map((m) => m.phase)).toEqual(result.measurements!.map((m) => m.phase));
    expect(runs[0]!.metrics[0]!.measurements.at(-1)!.value).toEqual(last.value);
    const text = await cli(['analysis', 'my-service'], { GRAYLANE_TARGET: 'cluster' });
    expect(text.code).toBe(0);
    const [header, metric] = text.out.trim().split('\n');
    expect(header).toMatch(new RegExp(`^${run!.metadata!.name}  Failed  started \\S+Z  `));
    expect(metric).toMatch(/^ {2}error-rate {2}Failed .*F:\[0\.\d+\]$/);
    const missing = await cli(['analysis', 'nope'], { GRAYLANE_TARGET: 'cluster' });
    expect(missing.code).not.toBe(0);
    expect(missing.err).toMatch(/no service "nope" in namespace default; services: my-service/);
  }, 120_000);
});
