// The rollout verbs against a Kubernetes cluster (the fake API server): each verb's effect on the
// stored Rollout, and its refusals with the daemon's exit codes and words.
import { afterEach, describe, expect, it } from 'vitest';
import type { RolloutStatus } from '../../src/engine/index.js';
import { POD_TEMPLATE_HASH_LABEL } from '../../src/kube/names.js';
import type { RolloutObject } from '../../src/state/kubernetes/kubernetes-state.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';
import { healthyOn, NAMESPACE, pausedAtStep2, racingProxy, startTestCluster, type TestCluster } from './cluster-fixture.js';

/** The engine's memory in a stored Rollout. */
const engineOf = (rollout: RolloutObject) => rollout.status?.graylane?.engine as RolloutStatus | undefined;

let cluster: TestCluster | undefined;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await cluster?.close();
  cluster = undefined;
});

async function start(options: Parameters<typeof startTestCluster>[0] = {}): Promise<TestCluster> {
  cluster = await startTestCluster(options);
  return cluster;
}

describe('operations on a Rollout in a cluster', () => {
  it('promote moves past the pause step: step 3, pause conditions cleared, version bumped, an event posted', async () => {
    const c = await start();
    const r = await c.run(['promote', 'web', '--json']);
    expect(r).toMatchObject({ code: 0, err: '' });
    const stored = await c.stored();
    expect(engineOf(stored)).toMatchObject({ currentStepIndex: 2, pauseConditions: [], controllerPause: false, phase: 'Progressing' });
    expect(stored.status?.graylane?.version).toBe(2);
    // Argo's fields are projected beside the engine's memory, for kubectl and dashboards.
    expect(stored.status).toMatchObject({ currentStepIndex: 2, pauseConditions: [] });
    expect(JSON.parse(r.out)).toMatchObject({ name: 'web', namespace: NAMESPACE, step: 3, steps: 4, version: 2 });
    const events = c.server.cluster.list({ type: c.server.cluster.type('', 'v1', 'events'), namespace: NAMESPACE }).items;
    expect(events.map((e) => (e as { reason?: string }).reason)).toContain('RolloutPromoted');
  });

  it('promote --full sets promoteFull', async () => {
    const c = await start();
    expect((await c.run(['promote', 'web', '--full'])).code).toBe(0);
    expect(engineOf(await c.stored())).toMatchObject({ promoteFull: true, pauseConditions: [] });
  });

  it('pause adds a UserPause, resume takes it away', async () => {
    const c = await start({ status: { ...pausedAtStep2(), phase: 'Progressing', pauseConditions: [], controllerPause: false } });
    expect((await c.run(['pause', 'web'])).code).toBe(0);
    expect(engineOf(await c.stored())?.pauseConditions).toEqual([expect.objectContaining({ reason: 'UserPause' })]);
    expect((await c.stored()).status?.phase).toBe('Paused');
    const resumed = await c.run(['resume', 'web']);
    expect(resumed.code).toBe(0);
    expect(engineOf(await c.stored())?.pauseConditions).toEqual([]);
  });

  it('abort sets status.abort and phase Degraded; retry starts again from step 1', async () => {
    const c = await start();
    const aborted = await c.run(['abort', 'web']);
    expect(aborted.code).toBe(0);
    expect(aborted.out).toMatch(/^web \(canary\)\s+Degraded/);
    expect((await c.stored()).status).toMatchObject({ abort: true, phase: 'Degraded' });
    expect((await c.run(['retry', 'web'])).code).toBe(0);
    expect(engineOf(await c.stored())).toMatchObject({ abort: false, currentStepIndex: 0, attempt: 1 });
  });

  it('set weight stores the manual weight', async () => {
    const c = await start();
    expect((await c.run(['set', 'weight', 'web', '35'])).code).toBe(0);
    expect(engineOf(await c.stored())?.manualWeight).toBe(35);
  });

  it('undo puts the stable revision\'s pod template back into spec.template, without the hash label', async () => {
    const c = await start();
    const r = await c.run(['undo', 'web']);
    expect(r.code).toBe(0);
    const template = (await c.stored()).spec.template as { metadata: { labels: Record<string, string> }; spec: { containers: Array<{ image: string }> } };
    expect(template.spec.containers[0]!.image).toBe('web:1');
    expect(template.metadata.labels).toEqual({ app: 'web' });
    expect(template.metadata.labels[POD_TEMPLATE_HASH_LABEL]).toBeUndefined();
  });

  it('undo --to-revision N copies that revision; an unknown one is the daemon\'s not-found (exit 2)', async () => {
    const c = await start({ status: healthyOn('aaa111') });
    expect((await c.run(['undo', 'web', '--to-revision', '2'])).code).toBe(0);
    expect(((await c.stored()).spec.template as { spec: { containers: Array<{ image: string }> } }).spec.containers[0]!.image).toBe('web:2');
    const missing = await c.run(['undo', 'web', '--to-revision', '7']);
    expect(missing).toMatchObject({ code: 2, err: 'error: web has no revision #7; see `graylane history web`\n' });
  });

  it('undo of the revision in force, or with nothing earlier, is refused with a sentence', async () => {
    const c = await start({ status: healthyOn('bbb222') });
    expect(await c.run(['undo', 'web', '--to-revision', '2'])).toMatchObject({ code: 2, err: 'error: web already runs revision #2\n' });
    await c.commit(healthyOn('aaa111'));
    expect(await c.run(['undo', 'web'])).toMatchObject({ code: 2, err: 'error: web has no earlier revision to go back to\n' });
  });

  it('undo of a workloadRef Rollout is refused, naming the workload to roll back', async () => {
    const spec = { replicas: 2, strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } }, workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web-deploy' } };
    const c = await start({ spec });
    const r = await c.run(['undo', 'web']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('web takes its pod template from Deployment web-deploy (workloadRef)');
    expect(r.err).toContain('kubectl rollout undo deployment/web-deploy');
  });

  it('restart sets spec.restartAt to now', async () => {
    const c = await start();
    const before = Date.now();
    expect((await c.run(['restart', 'web'])).code).toBe(0);
    const at = Date.parse((await c.stored()).spec.restartAt!);
    expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(at).toBeLessThanOrEqual(Date.now());
  });

  it('an operation that makes no sense is the engine\'s sentence, exit 2, and nothing is written', async () => {
    const c = await start({ status: healthyOn('bbb222') });
    const r = await c.run(['promote', 'web']);
    expect(r).toMatchObject({ code: 2, err: 'error: nothing to promote: no rollout in progress (revision bbb222 is stable)\n' });
    expect((await c.stored()).status?.graylane?.version).toBe(1);
  });

  it('a Rollout the controller has not acted on yet is refused with a sentence', async () => {
    const c = await start({ status: undefined });
    const r = await c.run(['pause', 'web']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^error: web has no status from the graylane controller yet: nothing to pause/);
  });
});

describe('races', () => {
  it('a conflicting write between read and commit is retried once on fresh data', async () => {
    const c = await start();
    let raced = 0;
    const proxy = await racingProxy({
      cluster: c,
      matches: (req) => req.method === 'PUT' && (req.url ?? '').includes('/status') && raced++ === 0,
      // The controller lands a pass (same memory, next version) first.
      race: () => c.commit(pausedAtStep2()),
    });
    cleanups.push(() => proxy.close());
    const r = await c.run(['promote', 'web'], { kubeconfigPath: proxy.kubeconfigPath });
    expect(r).toMatchObject({ code: 0, err: '' });
    const stored = await c.stored();
    expect(stored.status?.graylane?.version).toBe(3);
    expect(engineOf(stored)?.currentStepIndex).toBe(2);
  });

  it('a second conflict is reported as the daemon\'s 409 (exit 1), nothing of ours written', async () => {
    const c = await start();
    const proxy = await racingProxy({
      cluster: c,
      matches: (req) => req.method === 'PUT' && (req.url ?? '').includes('/status'),
      race: () => c.commit(pausedAtStep2()),
    });
    cleanups.push(() => proxy.close());
    const r = await c.run(['promote', 'web'], { kubeconfigPath: proxy.kubeconfigPath });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: promote not done: web kept changing while it was decided \(version 2, now 3, Paused\)\. Look again with `graylane status web`/);
    expect(engineOf(await c.stored())?.currentStepIndex).toBe(1);
  });

  it('--expected-version that is no longer current is refused without a retry', async () => {
    const c = await start();
    const r = await c.run(['promote', 'web', '--expected-version', '0']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: promote not done: web changed since you looked \(version 0, now 1, Paused\)/);
    expect((await c.stored()).status?.graylane?.version).toBe(1);
  });

  it('a spec write (undo) that conflicts twice is reported as a conflict', async () => {
    const c = await start();
    const proxy = await racingProxy({
      cluster: c,
      matches: (req) => req.method === 'PUT',
      race: () => c.commit(pausedAtStep2()),
    });
    cleanups.push(() => proxy.close());
    const r = await c.run(['undo', 'web'], { kubeconfigPath: proxy.kubeconfigPath });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: undo not done: web kept changing/);
  });
});

describe('writes that fail', () => {
  const deleteRollout = async (c: TestCluster) => {
    const res = await rawRequest({ server: c.server, method: 'DELETE', path: `/apis/graylane.dev/v1alpha1/namespaces/${NAMESPACE}/rollouts/web` });
    if (res.status !== 200) throw new Error(`DELETE: ${res.status}`);
  };

  it('a Rollout deleted between read and write is the daemon\'s not-found (status write and spec write)', async () => {
    for (const args of [['promote', 'web'], ['restart', 'web']]) {
      const c = await start();
      const proxy = await racingProxy({ cluster: c, matches: (req) => req.method === 'PUT', race: () => deleteRollout(c) });
      const r = await c.run(args, { kubeconfigPath: proxy.kubeconfigPath });
      await proxy.close();
      await c.close();
      cluster = undefined;
      expect(r).toMatchObject({ code: 2, err: `error: no service "web" in namespace ${NAMESPACE}; it has no graylane Rollouts\n` });
    }
  });

  it('an error answer to the write is reported with the server\'s words (exit 1)', async () => {
    const c = await start();
    c.server.injectFault({ status: 500, method: 'PUT', pathIncludes: '/status', times: 1 });
    const status = await c.run(['promote', 'web']);
    expect(status.code).toBe(1);
    expect(status.err).toMatch(/^error: the status of rollout team\/web was not written: /);
    c.server.injectFault({ status: 500, method: 'PUT', pathIncludes: '/rollouts/web', times: 1 });
    const spec = await c.run(['restart', 'web']);
    expect(spec).toMatchObject({ code: 1, err: 'error: the cluster answered 500 to writing rollout team/web: Internal error occurred: injected by the test\n' });
    expect((await c.stored()).spec.restartAt).toBeUndefined();
  });
});

