/**
 * Hooks on the cluster, end to end: the real controller against the fake API server with
 * graylane's analysis CRDs, and the fake's Job runner running each Job's command as a local
 * process. A hook given as a bare `command` runs as a Job built from the new revision's pod
 * template, through a one-metric AnalysisRun that owns it: `preRollout` before any pod of the new
 * revision exists (and, failing, aborts with no such pod ever made), `postPromotion` once the new
 * revision is stable. What happened when is read from the fake's own store, in write order.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { V1Job } from '@kubernetes/client-node';
import { HOOK_LABEL } from '../../src/documents/hook-job.js';
import { POD_TEMPLATE_HASH_LABEL } from '../../src/kube/names.js';
import { analysisRuns, installAnalysisCrds } from '../fixtures/kube/analysis-fixtures.js';
import { apply, ClusterTestBed, patchRolloutSpec, readRollout, runController, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { JobRunner } from '../fixtures/kube/job-runner.js';
import { storageKey } from '../fixtures/kube/resource-types.js';

const bed = new ClusterTestBed();
let runner: JobRunner | undefined;
let dir: string | undefined;
afterEach(async () => {
  await bed.tearDown();
  await runner?.stop();
  runner = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const ns = 'default';
const labels = { app: 'shop' };
const template = (image: string) => ({
  metadata: { labels, annotations: { team: 'shop' } },
  spec: { serviceAccountName: 'shop', containers: [{ name: 'shop', image, env: [{ name: 'DATABASE_URL', value: 'postgres://db/shop' }], ports: [{ containerPort: 8080 }], readinessProbe: { httpGet: { path: '/ready', port: 8080 } } }] },
});
const services = ['shop-stable', 'shop-canary'].map((name) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] } }));
const sh = (script: string) => ['sh', '-c', script];

/** What the fake stored, in order: Jobs added and done, pods added, the stable Service's selector changing. */
function recordWrites(c: Cluster): string[] {
  const seen: string[] = [];
  const jobs = storageKey(c.server.cluster.type('batch', 'v1', 'jobs'));
  const pods = storageKey(c.server.cluster.type('', 'v1', 'pods'));
  const svcs = storageKey(c.server.cluster.type('', 'v1', 'services'));
  let selected: unknown;
  c.server.cluster.store.subscribe(({ key, type, object }) => {
    if (key === jobs && type === 'ADDED') seen.push(`job ${object.metadata.labels?.[HOOK_LABEL]}`);
    if (key === jobs && type === 'MODIFIED' && (object.status as { succeeded?: number } | undefined)?.succeeded === 1) seen.push(`job ${object.metadata.labels?.[HOOK_LABEL]} done`);
    if (key === pods && type === 'ADDED') seen.push(`pod ${object.metadata.labels?.[POD_TEMPLATE_HASH_LABEL]}`);
    const hash = (object.spec as { selector?: Record<string, string> } | undefined)?.selector?.[POD_TEMPLATE_HASH_LABEL];
    if (key === svcs && object.metadata.name === 'shop-stable' && hash !== selected) seen.push(`shop-stable selects ${String((selected = hash))}`);
  });
  return seen;
}

/** A cluster with the Rollout and its hooks (given the file a hook may write), Healthy on its first revision. */
async function setUp(hooksFor: (file: string) => Record<string, unknown>): Promise<{ c: Cluster; v1: string; writes: string[]; file: string }> {
  dir = await mkdtemp(join(tmpdir(), 'graylane-hooks-'));
  const file = join(dir, 'migrations.log');
  const hooks = hooksFor(file);
  const c = (bed.cluster = await startCluster({ readyAfterMs: 50 }));
  await installAnalysisCrds(c.server);
  runner = JobRunner.start({ cluster: c.server.cluster });
  const writes = recordWrites(c);
  await apply(c, [...services, {
    apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'shop', namespace: ns },
    spec: {
      replicas: 2, selector: { matchLabels: labels }, template: template('shop:1'), hooks,
      strategy: { canary: { stableService: 'shop-stable', canaryService: 'shop-canary', steps: [{ setWeight: 50 }, { pause: { duration: '1s' } }] } },
    },
  }] as never);
  bed.controller = await runController({ kubeConfig: bed.cluster.kc, namespace: ns, log: bed.log });
  const v1 = (await until('Healthy on the first revision', () => readRollout(c, ns, 'shop'), (r) => r.status?.phase === 'Healthy')).status!.stableRS!;
  return { c, v1, writes, file };
}

/** The Jobs stored in the namespace. */
const jobs = (c: Cluster): V1Job[] => (c.server.cluster.store.list(storageKey(c.server.cluster.type('batch', 'v1', 'jobs')), ns)) as V1Job[];

describe('hooks on the cluster', () => {
  it('preRollout runs as a Job of the new revision\'s pod template before any new pod exists; postPromotion runs after promotion; each Job is owned by its AnalysisRun', async () => {
    const { c, v1, writes, file } = await setUp((FILE) => ({
      preRollout: { command: sh('echo "expand $GRAYLANE_HOOK $DATABASE_URL" >> "$FILE"'), env: { FILE } },
      postPromotion: { command: sh('echo contract >> "$FILE"'), env: { FILE } },
    }));
    await patchRolloutSpec(c, ns, 'shop', { template: template('shop:2') });
    const done = await until('the postPromotion hook done', () => readFile(file, 'utf8').catch(() => ''), (text) => text.includes('contract'), { timeoutMs: 45_000 });
    expect(done).toBe('expand preRollout postgres://db/shop\ncontract\n');
    const v2 = (await readRollout(c, ns, 'shop')).status!.stableRS!;
    expect(v2).not.toBe(v1);

    const order = writes.filter((w) => w.startsWith('job') || w === `pod ${v2}` || w === `shop-stable selects ${v2}`);
    // Every pod of v2 after the expand finished; the contract once the stable Service sends every request to v2.
    expect(order.indexOf('job preRollout done')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf(`pod ${v2}`)).toBeGreaterThan(order.indexOf('job preRollout done'));
    expect(order.indexOf(`shop-stable selects ${v2}`)).toBeGreaterThan(order.indexOf(`pod ${v2}`));
    expect(order.indexOf('job postPromotion')).toBeGreaterThan(order.indexOf(`shop-stable selects ${v2}`));

    // The hook's command wrote its line before its Job finished, and the run is judged after that.
    const runs = await until('both hook runs judged', () => analysisRuns(c, ns), (rs) => rs.length === 2 && rs.every((r) => r.status?.phase !== 'Running' && r.status?.phase !== 'Pending' && r.status?.phase !== undefined), { timeoutMs: 30_000 });
    expect(runs.map((r) => r.status?.phase)).toEqual(['Successful', 'Successful']);
    const all = jobs(c);
    expect(all).toHaveLength(2);
    for (const job of all) {
      const hook = job.metadata!.labels![HOOK_LABEL]!;
      // Created at all means valid: the fake validates every Job against Kubernetes' own schema.
      const run = runs.find((r) => r.spec.metrics[0]!.name === hook);
      expect(run, `the AnalysisRun of ${hook}`).toBeDefined();
      expect(job.metadata!.ownerReferences).toEqual([expect.objectContaining({ kind: 'AnalysisRun', name: run!.metadata!.name, uid: run!.metadata!.uid, controller: true })]);
      // From the new revision's pod template: its image, service account and env; no probe, none of the app's labels.
      const pod = job.spec!.template;
      expect(pod.spec!.serviceAccountName).toBe('shop');
      expect(pod.spec!.containers[0]!.image).toBe('shop:2');
      expect(pod.spec!.containers[0]!.readinessProbe).toBeUndefined();
      expect(pod.spec!.restartPolicy).toBe('Never');
      expect(pod.metadata!.labels?.app).toBeUndefined();
      expect(pod.metadata!.annotations).toMatchObject({ team: 'shop' });
      expect(job.status?.succeeded).toBe(1);
    }
  }, 90_000);

  it('a failing preRollout aborts with the hook\'s reason, and no pod of the new revision is ever created', async () => {
    const { c, v1, writes } = await setUp(() => ({ preRollout: { command: sh('exit 3') } }));
    await patchRolloutSpec(c, ns, 'shop', { template: template('shop:2') });
    const aborted = await until('aborted by the hook', () => readRollout(c, ns, 'shop'), (r) => r.status?.abort === true, { timeoutMs: 30_000 });
    expect(aborted.status?.phase).toBe('Degraded');
    expect(aborted.status?.stableRS).toBe(v1);
    expect(aborted.status?.message).toMatch(/preRollout hook failed: .*failed/);
    const [run] = await analysisRuns(c, ns);
    expect(run!.status?.phase).toBe('Failed');
    const [job] = jobs(c);
    expect(job!.status?.failed).toBe(1);
    expect(job!.metadata!.ownerReferences).toEqual([expect.objectContaining({ kind: 'AnalysisRun', uid: run!.metadata!.uid })]);
    // A little longer, for a pod that would come late.
    await new Promise((r) => setTimeout(r, 500));
    expect(writes.filter((w) => w.startsWith('pod ') && w !== `pod ${v1}`)).toEqual([]);
  }, 60_000);
});
