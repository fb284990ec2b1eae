/**
 * KubernetesAnalysis on its own: the port against the fake API server (the AnalysisRun CRD
 * validating every write), caches listed on demand, a metric provider that answers from a script,
 * and a clock the test moves. What a user sees of a run: the object and its status, the phases
 * the engine is shown, the Events.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { KubernetesAnalysis, type AnalysisTemplateObject } from '../../../src/controller/kubernetes/kubernetes-analysis.js';
import type { AnalysisRunObject } from '../../../src/controller/kubernetes/analysis-run-object.js';
import type { RunnerProviders, Scheduler } from '../../../src/analysis/runner.js';
import type { StartAnalysisAction } from '../../../src/engine/index.js';
import type { NewEvent, ObjectKey } from '../../../src/state/state-port.js';
import type { ObjectCache } from '../../../src/kube/object-cache.js';
import { startCluster, until, type Cluster } from '../../fixtures/kube/controller-harness.js';
import { analysisRuns, createTemplate, installAnalysisCrds, webTemplate } from '../../fixtures/kube/analysis-fixtures.js';
import { ListCache } from '../../fixtures/kube/list-cache.js';

const ns = 'default';
const key: ObjectKey = { namespace: ns, name: 'shop' };
const T0 = Date.parse('2026-11-28T10:00:00Z');

/** A clock that moves only when the test moves it; sleeps end when it passes them (or on abort). */
function manualClock(): Scheduler & { advance(ms: number): void; sleepers(): number } {
  let now = T0;
  let waiting: Array<{ at: number; resolve: () => void }> = [];
  return {
    now: () => now,
    sleep: (ms, signal) => new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const s = { at: now + ms, resolve };
      waiting.push(s);
      signal.addEventListener('abort', () => resolve(), { once: true });
    }),
    advance(ms) {
      now += ms;
      const due = waiting.filter((s) => s.at <= now);
      waiting = waiting.filter((s) => s.at > now);
      for (const s of due) s.resolve();
    },
    sleepers: () => waiting.length,
  };
}

/** A `web` provider answering from a script (the last value repeats), recording what it was asked with. */
function scripted(values: unknown[]): RunnerProviders & { types(): string[]; contexts: unknown[] } {
  const contexts: unknown[] = [];
  let i = 0;
  return {
    contexts,
    types: () => ['web'],
    get: (type) => {
      if (type !== 'web') throw new Error(`no metric provider "${type}"`);
      return {
        measure: ({ context }) => {
          contexts.push(context);
          const value = values[Math.min(i++, values.length - 1)];
          return Promise.resolve({ value });
        },
      };
    },
  };
}

const rollouts: ObjectCache = {
  get: (namespace, name) => (namespace === ns && name === 'shop' ? { apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name, namespace, uid: 'rollout-uid' } } : undefined),
  list: () => [],
  onChange: () => () => undefined,
  synced: () => true,
};

interface Rig {
  c: Cluster;
  clock: ReturnType<typeof manualClock>;
  port: KubernetesAnalysis;
  emitted: NewEvent[];
  phases: number;
  logs: Array<{ message: string; fields: Record<string, unknown> | undefined }>;
  refresh(): Promise<void>;
}

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

async function rig(providers: ReturnType<typeof scripted>, options: { c?: Cluster; clock?: ReturnType<typeof manualClock>; limits?: { successful: number; unsuccessful: number } } = {}): Promise<Rig> {
  let c = options.c;
  if (!c) {
    c = cluster = await startCluster({ simulateWorkloads: false });
    await installAnalysisCrds(c.server);
  }
  const runs = new ListCache<AnalysisRunObject>({ kubeConfig: c.kc, apiVersion: 'graylane.dev/v1alpha1', kind: 'AnalysisRun', namespace: ns });
  const templates = new ListCache<AnalysisTemplateObject>({ kubeConfig: c.kc, apiVersion: 'graylane.dev/v1alpha1', kind: 'AnalysisTemplate', namespace: ns });
  const clusterTemplates = new ListCache<AnalysisTemplateObject>({ kubeConfig: c.kc, apiVersion: 'graylane.dev/v1alpha1', kind: 'ClusterAnalysisTemplate' });
  const clock = options.clock ?? manualClock();
  const r: Rig = {
    c, clock, emitted: [], phases: 0, logs: [],
    port: undefined as never,
    refresh: () => Promise.all([runs.refresh(), templates.refresh(), clusterTemplates.refresh()]).then(() => undefined),
  };
  r.port = new KubernetesAnalysis({
    kubeConfig: c.kc, runs, templates, clusterTemplates, rollouts: rollouts, providers, scheduler: clock,
    events: { emit: (_k, e) => r.emitted.push(e) }, onPhase: () => { r.phases += 1; },
    log: (_level, message, fields) => r.logs.push({ message, fields }),
    ...(options.limits ? { historyLimits: () => options.limits! } : {}),
  });
  await r.refresh();
  return r;
}

const step = (templates: Array<{ templateName: string; clusterScope?: boolean }>, args?: unknown[]): StartAnalysisAction => ({
  type: 'startAnalysis', name: 'v2hash.0.step.1', kind: 'step', revision: 'v2hash',
  analysis: { templates, ...(args ? { args } : {}) } as StartAnalysisAction['analysis'],
});
const stored = async (r: Rig): Promise<AnalysisRunObject | undefined> => (await analysisRuns(r.c, ns))[0];

describe('KubernetesAnalysis', () => {
  it('creates the run from a namespaced and a cluster template merged, args resolved (Stable, Latest), owned by the Rollout; measures it with the namespace and owner; the verdict is in status and in list', async () => {
    const providers = scripted([1]);
    const r = await rig(providers);
    const t1 = webTemplate({ name: 'a', url: 'http://127.0.0.1:1' });
    (t1.spec as { args: unknown[] }).args = [{ name: 'hash' }, { name: 'base' }];
    await createTemplate(r.c, ns, t1);
    const t2 = webTemplate({ name: 'b', url: 'http://127.0.0.1:2', kind: 'ClusterAnalysisTemplate' });
    ((t2.spec as { metrics: Array<{ name: string }> }).metrics[0]!).name = 'other';
    await createTemplate(r.c, ns, t2);
    await r.refresh();
    await r.port.start(key, {
      action: step([{ templateName: 'a' }, { templateName: 'b', clusterScope: true }], [{ name: 'hash', valueFrom: { podTemplateHashValue: 'Latest' } }, { name: 'base', valueFrom: { podTemplateHashValue: 'Stable' } }]),
      stableRevision: 'v1hash',
    });
    const run = await until('the run Successful', () => stored(r), (x) => x?.status?.phase === 'Successful');
    expect(run!.metadata).toMatchObject({
      name: 'shop-v2hash-0-1',
      labels: { 'graylane.dev/rollout': 'shop', 'rollouts-pod-template-hash': 'v2hash', 'rollout-type': 'Step', 'step-index': '1' },
      annotations: { 'graylane.dev/analysis-run': 'v2hash.0.step.1' },
      ownerReferences: [{ apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', name: 'shop', uid: 'rollout-uid', controller: true, blockOwnerDeletion: true }],
    });
    expect(run!.spec.args).toEqual([{ name: 'hash', value: 'v2hash' }, { name: 'base', value: 'v1hash' }]);
    expect(run!.spec.metrics.map((m) => m.name)).toEqual(['ok', 'other']);
    expect(run!.status?.runSummary).toEqual({ count: 2, successful: 2, failed: 0, inconclusive: 0, error: 0 });
    expect(providers.contexts[0]).toMatchObject({ namespace: ns, owner: { apiVersion: 'graylane.dev/v1alpha1', kind: 'AnalysisRun', name: 'shop-v2hash-0-1', uid: run!.metadata!.uid } });
    await r.refresh();
    expect(await r.port.list(key)).toEqual([{ name: 'v2hash.0.step.1', phase: 'Successful' }]);
    // The verdict is said after the run's status is written: seen stored first once in a loaded CI run.
    await until('the verdict said as an event', () => Promise.resolve(r.emitted.length), (n) => n > 0);
    expect(r.emitted.map((e) => e.reason)).toEqual(['AnalysisRunSuccessful']);
    // Asked again (the engine asks on later passes): nothing new.
    await r.port.start(key, { action: step([{ templateName: 'a' }]) });
    expect(await analysisRuns(r.c, ns)).toHaveLength(1);
    expect(providers.contexts).toHaveLength(2);
  });

  it('stop ends an open-ended run as Argo\'s terminate does: spec.terminate, Successful since nothing failed, no measurement after', async () => {
    const providers = scripted([1]);
    const r = await rig(providers);
    await createTemplate(r.c, ns, webTemplate({ name: 'a', url: 'http://x', metric: { count: undefined, interval: '10s' } }));
    await r.refresh();
    await r.port.start(key, { action: step([{ templateName: 'a' }], [{ name: 'hash', value: 'h' }]) });
    await until('one measurement, then waiting', () => stored(r), (x) => (x?.status?.metricResults?.[0]?.measurements?.length ?? 0) === 1 && r.clock.sleepers() === 1);
    expect((await stored(r))!.status?.phase).toBe('Running');
    r.clock.advance(10_000);
    await until('two measurements', () => stored(r), (x) => x?.status?.metricResults?.[0]?.measurements?.length === 2);
    await r.port.stop(key, 'v2hash.0.step.1');
    const run = (await stored(r))!;
    expect(run.spec.terminate).toBe(true);
    expect(run.status?.phase).toBe('Successful');
    r.clock.advance(60_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(providers.contexts).toHaveLength(2);
    expect(r.emitted.map((e) => e.reason)).toEqual(['AnalysisRunSuccessful']);
  });

  it('a person setting spec.terminate (as with Argo) ends the run the same way', async () => {
    const providers = scripted([1]);
    const r = await rig(providers);
    await createTemplate(r.c, ns, webTemplate({ name: 'a', url: 'http://x', metric: { count: undefined, interval: '10s' } }));
    await r.refresh();
    await r.port.start(key, { action: step([{ templateName: 'a' }], [{ name: 'hash', value: 'h' }]) });
    await until('one measurement, then waiting', () => stored(r), (x) => (x?.status?.metricResults?.[0]?.measurements?.length ?? 0) === 1 && r.clock.sleepers() === 1);
    await r.c.custom.patchNamespacedCustomObject({ group: 'graylane.dev', version: 'v1alpha1', namespace: ns, plural: 'analysisruns', name: 'shop-v2hash-0-1', body: { spec: { terminate: true } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await r.refresh();
    await until('Successful', () => stored(r), (x) => x?.status?.phase === 'Successful');
    r.clock.advance(60_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(providers.contexts).toHaveLength(1);
    expect(await r.port.list(key)).toEqual([{ name: 'v2hash.0.step.1', phase: 'Successful' }]);
  });

  it('stopAll leaves a run Running in the cluster; another port resumes it from its stored measurements and measures only the rest', async () => {
    const first = scripted([1]);
    const r = await rig(first);
    await createTemplate(r.c, ns, webTemplate({ name: 'a', url: 'http://x', count: 3, interval: '5s' }));
    await r.refresh();
    await r.port.start(key, { action: step([{ templateName: 'a' }], [{ name: 'hash', value: 'h' }]) });
    await until('one measurement', () => stored(r), (x) => x?.status?.metricResults?.[0]?.measurements?.length === 1 && r.clock.sleepers() === 1);
    await r.port.stopAll();
    const left = (await stored(r))!;
    expect(left.status?.phase).toBe('Running');
    expect(left.spec.terminate).toBeUndefined();
    const second = scripted([1]);
    const next = await rig(second, { c: r.c, clock: r.clock });
    expect(await next.port.list(key)).toEqual([{ name: 'v2hash.0.step.1', phase: 'Running' }]);
    // The next measurement is due 5 s after the stored one, not at once.
    await until('the resumed run waiting', () => Promise.resolve(r.clock.sleepers()), (n) => n >= 1);
    expect(second.contexts).toHaveLength(0);
    r.clock.advance(5_000);
    await until('measured again', () => stored(r), (x) => x?.status?.metricResults?.[0]?.measurements?.length === 2);
    r.clock.advance(5_000);
    const done = await until('the run Successful', () => stored(r), (x) => x?.status?.phase === 'Successful');
    expect(done!.status?.metricResults?.[0]?.measurements?.[0]).toEqual(left.status?.metricResults?.[0]?.measurements?.[0]);
    expect([first.contexts.length, second.contexts.length]).toEqual([1, 2]);
  });

  it('a stored Running run stopped before anyone resumed it is judged from what it holds', async () => {
    const r = await rig(scripted([1]));
    await createTemplate(r.c, ns, webTemplate({ name: 'a', url: 'http://x', metric: { count: undefined, interval: '5s' } }));
    await r.refresh();
    await r.port.start(key, { action: step([{ templateName: 'a' }], [{ name: 'hash', value: 'h' }]) });
    await until('one measurement', () => stored(r), (x) => x?.status?.metricResults?.[0]?.measurements?.length === 1);
    await r.port.stopAll();
    const fresh = await rig(scripted([1]), { c: r.c, clock: r.clock });
    await fresh.port.stop(key, 'v2hash.0.step.1');
    const run = (await stored(r))!;
    expect([run.spec.terminate, run.status?.phase, run.status?.metricResults?.[0]?.measurements?.length]).toEqual([true, 'Successful', 1]);
  });

  it('a missing ClusterAnalysisTemplate: no object, the run is Error with a sentence, an Event, and the rollout is reconciled again', async () => {
    const r = await rig(scripted([1]));
    await r.port.start(key, { action: step([{ templateName: 'gone', clusterScope: true }]) });
    expect(await analysisRuns(r.c, ns)).toEqual([]);
    expect(await r.port.list(key)).toEqual([{ name: 'v2hash.0.step.1', phase: 'Error', message: 'ClusterAnalysisTemplate "gone" not found' }]);
    expect(r.emitted).toEqual([expect.objectContaining({ level: 'warning', reason: 'AnalysisRunError', message: 'analysis run shop-v2hash-0-1: ClusterAnalysisTemplate "gone" not found' })]);
    expect(r.phases).toBeGreaterThan(0);
  });

  it('a metric whose provider this controller lacks, or an arg with no value: the stored run is Error with the sentence, nothing measured', async () => {
    const providers = scripted([1]);
    const r = await rig(providers);
    await createTemplate(r.c, ns, webTemplate({ name: 'job', url: 'x', provider: { job: { spec: { template: {} } } } }));
    await createTemplate(r.c, ns, webTemplate({ name: 'web', url: 'http://x' }));
    await r.refresh();
    await r.port.start(key, { action: step([{ templateName: 'job' }], [{ name: 'hash', value: 'h' }]) });
    let run = await until('Error', () => stored(r), (x) => x?.status?.phase === 'Error');
    expect(run!.status?.message).toBe('metric "ok" cannot be measured: this controller has no "job" metric provider (it has web)');
    await r.port.start(key, { action: { ...step([{ templateName: 'web' }]), name: 'v2hash.0.step.3' } });
    run = await until('Error', () => analysisRuns(r.c, ns).then((rs) => rs.find((x) => x.metadata?.name === 'shop-v2hash-0-3')), (x) => x?.status?.phase === 'Error');
    expect(run!.status?.message).toMatch(/hash/);
    expect(providers.contexts).toEqual([]);
  });

  it('a run the API server refuses to create rejects with AnalysisStartFailed (the pass fails and is retried)', async () => {
    const r = await rig(scripted([1]));
    await createTemplate(r.c, ns, webTemplate({ name: 'a', url: 'http://x' }));
    await r.refresh();
    r.c.server.injectFault({ status: 500, method: 'POST', pathIncludes: '/analysisruns' });
    await expect(r.port.start(key, { action: step([{ templateName: 'a' }], [{ name: 'hash', value: 'h' }]) })).rejects.toMatchObject({ code: 'AnalysisStartFailed', message: expect.stringContaining('analysis run shop-v2hash-0-1 could not be created') });
    expect(await analysisRuns(r.c, ns)).toEqual([]);
  });

  it('an object of that name made by an earlier leader (not in the cache yet) is resumed, not created twice', async () => {
    const providers = scripted([1]);
    const r = await rig(providers);
    await createTemplate(r.c, ns, webTemplate({ name: 'a', url: 'http://x' }));
    await r.refresh();
    const earlier = await rig(scripted([1]), { c: r.c, clock: r.clock });
    await earlier.port.start(key, { action: step([{ templateName: 'a' }], [{ name: 'hash', value: 'h' }]) });
    await until('Successful', () => stored(r), (x) => x?.status?.phase === 'Successful');
    await r.port.start(key, { action: step([{ templateName: 'a' }], [{ name: 'hash', value: 'h' }]) });
    expect(await analysisRuns(r.c, ns)).toHaveLength(1);
    expect(providers.contexts).toEqual([]);
  });

  it('a run deleted while measuring stops being measured; a failed status write is logged and the next one carries everything', async () => {
    const providers = scripted([1]);
    const r = await rig(providers);
    await createTemplate(r.c, ns, webTemplate({ name: 'a', url: 'http://x', metric: { count: undefined, interval: '5s' } }));
    await r.refresh();
    await r.port.start(key, { action: step([{ templateName: 'a' }], [{ name: 'hash', value: 'h' }]) });
    await until('one measurement', () => stored(r), (x) => x?.status?.metricResults?.[0]?.measurements?.length === 1 && r.clock.sleepers() === 1);
    r.c.server.injectFault({ status: 500, method: 'PATCH', pathIncludes: '/analysisruns/shop-v2hash-0-1/status' });
    r.clock.advance(5_000);
    await until('the failed write logged', () => Promise.resolve(r.logs), (l) => l.some((x) => x.message === 'analysis run write failed'));
    await until('waiting again', () => Promise.resolve(r.clock.sleepers()), (n) => n === 1);
    r.clock.advance(5_000);
    await until('three measurements stored', () => stored(r), (x) => x?.status?.metricResults?.[0]?.measurements?.length === 3);
    await r.c.custom.deleteNamespacedCustomObject({ group: 'graylane.dev', version: 'v1alpha1', namespace: ns, plural: 'analysisruns', name: 'shop-v2hash-0-1' });
    await until('waiting again', () => Promise.resolve(r.clock.sleepers()), (n) => n === 1);
    r.clock.advance(5_000);
    await until('the run given up', () => Promise.resolve(r.clock.sleepers()), (n) => n === 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    r.clock.advance(60_000);
    expect(providers.contexts).toHaveLength(4);
  });

  it('deletes ended runs beyond the history limits, newest kept, never a Running one', async () => {
    const r = await rig(scripted([1]), { limits: { successful: 2, unsuccessful: 1 } });
    const phases = ['Successful', 'Failed', 'Successful', 'Error', 'Successful', 'Running', 'Inconclusive'] as const;
    for (const [i, phase] of phases.entries()) {
      const name = `shop-h${i}-0-1`;
      await r.c.custom.createNamespacedCustomObject({ group: 'graylane.dev', version: 'v1alpha1', namespace: ns, plural: 'analysisruns', body: {
        apiVersion: 'graylane.dev/v1alpha1', kind: 'AnalysisRun',
        metadata: { name, labels: { 'graylane.dev/rollout': 'shop' }, annotations: { 'graylane.dev/analysis-run': `h${i}.0.step.1` } },
        // The Running one is resumed by list: it waits an hour of the clock the test never moves.
        spec: { metrics: [{ name: 'ok', initialDelay: '1h', provider: { web: { url: 'http://x' } } }] },
      } });
      await r.c.custom.patchNamespacedCustomObjectStatus({ group: 'graylane.dev', version: 'v1alpha1', namespace: ns, plural: 'analysisruns', name, body: { status: { phase } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      // Creation timestamps have second precision: one second between runs orders them.
      if (i < phases.length - 1) await new Promise((resolve) => setTimeout(resolve, 1010));
    }
    await r.refresh();
    const seen = await r.port.list(key);
    expect(seen.map((x) => x.name)).toEqual(['h6.0.step.1', 'h5.0.step.1', 'h4.0.step.1', 'h3.0.step.1', 'h2.0.step.1', 'h1.0.step.1', 'h0.0.step.1']);
    const left = await until('the oldest deleted', () => analysisRuns(r.c, ns), (rs) => rs.length === 4);
    expect(left.map((x) => x.metadata!.name).sort()).toEqual(['shop-h2-0-1', 'shop-h4-0-1', 'shop-h5-0-1', 'shop-h6-0-1']);
  }, 20_000);
});
