/**
 * Releases on the cluster: the real KubernetesController against the fake API server with
 * graylane's Rollout and Release CRDs, the simulated ReplicaSet controller and kubelet. A Release
 * of a frontend and a backend moves both as one: one timeline, one abort.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { customResourceDefinition } from '../../src/documents/index.js';
import { apply, ClusterTestBed, operate, readRollout, runController, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';
import { memberRollout, memberService, newMemberImages, readRelease } from '../fixtures/kube/release-members.js';
import { NOTIFICATIONS_CONFIGMAP, NOTIFICATIONS_KEY } from '../../src/controller/kubernetes/cluster-notifications.js';
import { startReceiver, type ReceiverServer } from '../fixtures/notify/receiver-server.js';

const bed = new ClusterTestBed();
const { log } = bed;
const receivers: ReceiverServer[] = [];
afterEach(async () => {
  await bed.tearDown();
  for (const r of receivers.splice(0)) await r.close();
});

const service = memberService;
const rollout = (name: string, image: string) => memberRollout(name, image);

async function startWithReleases(release: Record<string, unknown>, options: { notifyUrl?: string } = {}): Promise<Cluster> {
  const c = (bed.cluster = await startCluster());
  if (options.notifyUrl !== undefined) {
    const config = 'receivers:\n- name: ops\n  type: webhook\n  urlFrom: {fromEnv: OPS_HOOK}\n  filter: {transitions: [started, aborted]}\n';
    await c.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: NOTIFICATIONS_CONFIGMAP }, data: { [NOTIFICATIONS_KEY]: config } } });
  }
  expect((await rawRequest({ server: c.server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: customResourceDefinition('Release') })).status).toBe(201);
  await apply(c, [service('web-stable', 'web'), service('web-canary', 'web'), service('api-stable', 'api'), service('api-canary', 'api'), rollout('web', 'web:1'), rollout('api', 'api:1')]);
  const created = await rawRequest({ server: c.server, method: 'POST', path: '/apis/graylane.dev/v1alpha1/namespaces/default/releases', body: { apiVersion: 'graylane.dev/v1alpha1', kind: 'Release', metadata: { name: 'shop' }, spec: release } });
  expect(created.status).toBe(201);
  bed.controller = await runController({
    kubeConfig: c.kc, namespace: 'default', log,
    ...(options.notifyUrl === undefined ? {} : { notifications: { configMap: { namespace: 'default', name: NOTIFICATIONS_CONFIGMAP }, secrets: { env: { OPS_HOOK: options.notifyUrl } } } }),
  });
  return c;
}


async function bothHealthy(c: Cluster): Promise<string[]> {
  const hashes: string[] = [];
  for (const name of ['web', 'api']) {
    const r = await until(`${name} Healthy`, () => readRollout(c, 'default', name), (x) => x.status?.phase === 'Healthy' && x.status.availableReplicas === 2);
    hashes.push(r.status!.stableRS!);
  }
  return hashes;
}

const newImages = (c: Cluster): Promise<void> => newMemberImages(c, 'default', ['web', 'api']);

describe('Releases on the cluster', () => {
  it('a Release of a frontend and a backend moves both together: both wait at its gate at its weight, both go on when it opens, and it ends promoted', async () => {
    const c = await startWithReleases({ services: ['web', 'api'], strategy: { canary: { steps: [{ setWeight: 50 }, { pause: { duration: '2s' } }] } } });
    const [web1, api1] = await bothHealthy(c);
    await newImages(c);
    const progressing = await until('the release progressing with both members', () => readRelease(c), (r) => r.status?.phase === 'progressing' && r.status.members?.length === 2);
    expect(progressing.status?.members?.map((m) => [m.service, m.from]).sort()).toEqual([['api', api1], ['web', web1]]);
    // Both at the release's gate (weight 50: one canary pod of two), not at the member's own 10%.
    for (const name of ['web', 'api']) {
      const gated = await until(`${name} at the release gate`, () => readRollout(c, 'default', name), (r) => r.status?.currentStepIndex === 1 && r.status.canary?.weights?.canary.weight === 50);
      expect(gated.status?.stableRS).toBe(name === 'web' ? web1 : api1);
    }
    await until('the release promoted', () => readRelease(c), (r) => r.status?.phase === 'promoted', { timeoutMs: 30_000 });
    for (const name of ['web', 'api']) {
      const done = await until(`${name} on its new revision`, () => readRollout(c, 'default', name), (r) => r.status?.stableRS !== undefined && r.status.stableRS !== (name === 'web' ? web1 : api1) && r.status.phase === 'Healthy', { timeoutMs: 30_000 });
      expect(done.status?.currentPodHash).toBe(done.status?.stableRS);
    }
  }, 90_000);

  it('one abort sends both back: a person aborting the backend aborts the frontend too, traffic on stable for both; the release\'s start and abort are notified', async () => {
    const hook = await startReceiver();
    receivers.push(hook);
    const c = await startWithReleases({ services: ['web', 'api'], strategy: { canary: { steps: [{ setWeight: 50 }, { pause: {} }] } } }, { notifyUrl: `${hook.url}/ops` });
    const [web1, api1] = await bothHealthy(c);
    await newImages(c);
    for (const name of ['web', 'api']) await until(`${name} at the release gate`, () => readRollout(c, 'default', name), (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 1);
    await operate(c, 'default', 'api', { type: 'abort' });
    const aborted = await until('the release aborted', () => readRelease(c), (r) => r.status?.phase === 'aborted');
    expect(aborted.status?.message).toMatch(/api/);
    for (const name of ['web', 'api']) {
      const back = await until(`${name} aborted, traffic on stable`, () => readRollout(c, 'default', name), (r) => r.status?.phase === 'Degraded' && r.status.canary?.weights?.canary.weight === 0);
      expect(back.status?.stableRS).toBe(name === 'web' ? web1 : api1);
    }
    type Body = { transition: string; subject: string; name: string; reason: string };
    const releaseNotes = () => Promise.resolve(hook.received.map((r) => r.body as Body).filter((b) => b.subject === 'release'));
    const notes = await until('the release\'s abort notified', releaseNotes, (n) => n.some((b) => b.transition === 'aborted'));
    expect(notes.map((b) => [b.transition, b.name, b.reason])).toEqual([['started', 'shop', 'ReleaseStarted'], ['aborted', 'shop', 'ReleaseAborted']]);
  }, 90_000);

  it('pinning asked of members the Service selector routes is refused with a sentence (InvalidSpec) on each member', async () => {
    const c = await startWithReleases({ services: ['web', 'api'], pinning: { cookie: 'shop-version' }, strategy: { canary: { steps: [{ setWeight: 50 }] } } });
    for (const name of ['web', 'api']) {
      const refused = await until(`${name} InvalidSpec`, () => readRollout(c, 'default', name), (r) => r.status?.conditions?.some((x) => x.type === 'InvalidSpec') === true);
      expect(refused.status?.conditions?.find((x) => x.type === 'InvalidSpec')?.message).toMatch(/cannot pin clients.*Service selector/);
    }
  }, 60_000);
});
