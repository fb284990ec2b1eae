import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppsV1Api, CustomObjectsApi, KubeConfig, V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import { runUntilSignal } from '../../../src/cli/commands/controller.js';
import { jsonLog } from '../../../src/controller/kubernetes/json-log.js';
import { ControllerStartedError, ControllerLoop, type ControllerLog } from '../../../src/controller/kubernetes/controller-loop.js';
import type { RolloutObject, RolloutSpecSource } from '../../../src/controller/kubernetes/rollout-spec-source.js';
import { startCluster, type Cluster } from '../../fixtures/kube/controller-harness.js';
import { ListCache } from '../../fixtures/kube/list-cache.js';

let cluster: Cluster;
let kc: KubeConfig;
let apps: AppsV1Api;
let custom: CustomObjectsApi;
let caches: { rollouts: ListCache<RolloutObject>; replicaSets: ListCache<V1ReplicaSet>; deployments: ListCache<V1Deployment> };
let controller: ControllerLoop | undefined;
let lines: Record<string, unknown>[];
let log: ControllerLog;

beforeEach(async () => {
  cluster = await startCluster({ simulateWorkloads: false });
  ({ kc, apps, custom } = cluster);
  caches = {
    rollouts: new ListCache({ kubeConfig: kc, apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout' }),
    replicaSets: new ListCache({ kubeConfig: kc, apiVersion: 'apps/v1', kind: 'ReplicaSet' }),
    deployments: new ListCache({ kubeConfig: kc, apiVersion: 'apps/v1', kind: 'Deployment' }),
  };
  lines = [];
  log = jsonLog({ write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>), now: () => new Date('2026-01-02T03:04:05.000Z') });
});
afterEach(async () => {
  await controller?.stop();
  controller = undefined;
  await cluster.close();
});

const podTemplate = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } };
async function createRollout(name: string, spec: Record<string, unknown> = { selector: { matchLabels: { app: 'web' } }, template: podTemplate }): Promise<void> {
  await custom.createNamespacedCustomObject({ group: 'graylane.dev', version: 'v1alpha1', namespace: 'default', plural: 'rollouts', body: { apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name }, spec: { replicas: 1, strategy: { canary: { steps: [{ pause: {} }] } }, ...spec } } });
}
const refresh = () => Promise.all([caches.rollouts.refresh(), caches.replicaSets.refresh(), caches.deployments.refresh()]);

/** A reconcile pass for the test: records which keys ran and what the spec source said. */
function recorder(outcome: 'success' | Error = 'success') {
  const seen: { key: string; check: string }[] = [];
  let wake: () => void = () => undefined;
  const reconcile = (key: { namespace: string; name: string }, specs: RolloutSpecSource) => {
    seen.push({ key: `${key.namespace}/${key.name}`, check: specs.check(key).state });
    wake();
    return outcome === 'success' ? Promise.resolve('success' as const) : Promise.reject(outcome);
  };
  const until = async (n: number) => {
    while (seen.length < n) await new Promise<void>((r) => (wake = r));
  };
  return { seen, reconcile, until };
}

function build(reconcile: ReturnType<typeof recorder>['reconcile']): ControllerLoop {
  controller = new ControllerLoop({ caches, apps, reconcile, workers: 2, healthAddr: '127.0.0.1:0', metricsAddr: '127.0.0.1:0', log });
  return controller;
}

describe('ControllerLoop', () => {
  it('is unready until the caches have listed, then reconciles every Rollout once with the spec source', async () => {
    await createRollout('web');
    await createRollout('api', { selector: { matchLabels: { app: 'other' } }, template: podTemplate });
    const r = recorder();
    const c = build(r.reconcile);
    await c.start();
    expect(await fetch(`${c.urls!.health}/readyz`).then(async (res) => [res.status, await res.text()])).toEqual([503, 'the Rollout cache has not listed yet\n']);
    expect((await fetch(`${c.urls!.health}/healthz`)).status).toBe(200);
    await refresh();
    await r.until(2);
    expect(r.seen.sort((a, b) => a.key.localeCompare(b.key))).toEqual([{ key: 'default/api', check: 'invalid' }, { key: 'default/web', check: 'valid' }]);
    expect((await fetch(`${c.urls!.health}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${c.urls!.metrics}/metrics`)).text();
    expect(metrics).toContain('graylane_reconcile_duration_seconds_count{outcome="success"} 2');
    expect(metrics).toContain('graylane_leader 1');
    expect(lines[0]).toMatchObject({ time: '2026-01-02T03:04:05.000Z', level: 'info', msg: 'controller started', workers: 2 });
  });

  it('a ReplicaSet change reconciles its owning Rollout; a Deployment change the Rollouts that reference it', async () => {
    await createRollout('web');
    await apps.createNamespacedDeployment({ namespace: 'default', body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'demo-dp' }, spec: { replicas: 1, selector: { matchLabels: { app: 'demo' } }, template: { metadata: { labels: { app: 'demo' } }, spec: { containers: [{ name: 'a', image: 'demo:v1' }] } } } } });
    await createRollout('ref', { workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'demo-dp' } });
    await refresh();
    const r = recorder();
    const c = build(r.reconcile);
    await c.start();
    await r.until(2);
    const uid = caches.rollouts.get('default', 'web')!.metadata!.uid!;
    await apps.createNamespacedReplicaSet({ namespace: 'default', body: { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web-1', labels: { app: 'web' }, ownerReferences: [{ apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', name: 'web', uid, controller: true }] }, spec: { replicas: 0, selector: { matchLabels: { app: 'web' } }, template: podTemplate } } });
    await caches.replicaSets.refresh();
    await r.until(3);
    expect(r.seen[2]).toEqual({ key: 'default/web', check: 'valid' });
    await apps.patchNamespacedDeployment({ name: 'demo-dp', namespace: 'default', body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'demo:v2' }] });
    await caches.deployments.refresh();
    await r.until(4);
    expect(r.seen[3]).toEqual({ key: 'default/ref', check: 'valid' });
  });

  it('a failing pass is logged, counted and retried', async () => {
    await createRollout('web');
    await refresh();
    const r = recorder(new Error('the state port is gone'));
    const c = build(r.reconcile);
    await c.start();
    await r.until(2);
    expect(lines.find((l) => l.msg === 'reconcile failed')).toMatchObject({ level: 'error', key: 'default/web', error: 'the state port is gone', failures: 1 });
    expect(await (await fetch(`${c.urls!.metrics}/metrics`)).text()).toMatch(/graylane_reconcile_errors_total [1-9]/);
  });

  it('starts once', async () => {
    const c = build(recorder().reconcile);
    await c.start();
    await expect(c.start()).rejects.toBeInstanceOf(ControllerStartedError);
    await expect(c.start()).rejects.toMatchObject({ code: 'ControllerAlreadyStarted' });
  });
});

describe('runUntilSignal: SIGTERM stops the controller cleanly', () => {
  it('starts, stops on SIGTERM (servers closed, no pass after), and resolves', async () => {
    await createRollout('web');
    await refresh();
    const r = recorder();
    const c = build(r.reconcile);
    const signals = new EventEmitter();
    const running = runUntilSignal({ controller: c, signals, log });
    await r.until(1);
    const health = c.urls!.health;
    signals.emit('SIGTERM');
    await running;
    expect(lines.map((l) => l.msg)).toEqual(['controller started', 'leading: reconciling', 'stopping', 'stood down: the queue is stopped', 'controller stopped']);
    expect(lines[2]).toMatchObject({ signal: 'SIGTERM' });
    await expect(fetch(`${health}/healthz`)).rejects.toThrow();
    expect(signals.listenerCount('SIGTERM') + signals.listenerCount('SIGINT')).toBe(0);
    await caches.rollouts.refresh();
    await createRollout('late');
    await caches.rollouts.refresh();
    expect(r.seen).toHaveLength(1);
  });

  it('a start that fails is logged and rethrown, and nothing is left listening', async () => {
    const blocker = new ControllerLoop({ caches, apps, reconcile: recorder().reconcile, workers: 1, healthAddr: '127.0.0.1:0', metricsAddr: '127.0.0.1:0', log: () => undefined });
    await blocker.start();
    const port = new URL(blocker.urls!.metrics).port;
    const c = new ControllerLoop({ caches, apps, reconcile: recorder().reconcile, workers: 1, healthAddr: '127.0.0.1:0', metricsAddr: `127.0.0.1:${port}`, log });
    await expect(runUntilSignal({ controller: c, signals: new EventEmitter(), log })).rejects.toMatchObject({ code: 'HealthServerListen' });
    expect(lines.at(-1)).toMatchObject({ level: 'info', msg: 'controller stopped' });
    expect(lines.find((l) => l.msg === 'the controller failed')).toMatchObject({ level: 'error', error: expect.stringContaining('EADDRINUSE') });
    await blocker.stop();
  });
});

describe('jsonLog', () => {
  it('writes one object per line, time, level and msg first; a field cannot hide them', () => {
    const out: string[] = [];
    jsonLog({ write: (l) => out.push(l), now: () => new Date(0) })('warn', 'lease lost', { msg: 'spoof', level: 'x', holder: 'b' });
    expect(out).toEqual(['{"time":"1970-01-01T00:00:00.000Z","level":"warn","msg":"lease lost","holder":"b"}\n']);
  });
});
