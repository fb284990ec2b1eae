import type { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeApiServer } from '../../../test/fixtures/kube/fake-api-server.js';
import { kubeConfigFor } from '../../../test/fixtures/kube/kubeconfig.js';
import { ListCache } from '../../../test/fixtures/kube/list-cache.js';
import { rawRequest } from '../../../test/fixtures/kube/raw-request.js';
import { customResourceDefinition } from '../../documents/index.js';
import { fullRelease } from '../state-port.case.test.js';
import { StateConflictError } from '../state-port.js';
import { KubernetesReleaseState, type ReleaseObject } from './kubernetes-release-state.js';

const shop = { namespace: 'default', name: 'shop' };
const path = '/apis/graylane.dev/v1alpha1/namespaces/default/releases';

interface Cluster { server: FakeApiServer; kubeConfig: KubeConfig; releases: ListCache<ReleaseObject>; state: KubernetesReleaseState }

async function startCluster(): Promise<Cluster> {
  const server = await FakeApiServer.start();
  await rawRequest({ server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: customResourceDefinition('Release') });
  const created = await rawRequest({ server, method: 'POST', path, body: { apiVersion: 'graylane.dev/v1alpha1', kind: 'Release', metadata: { name: 'shop' }, spec: { services: ['web', 'api'], strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } } } } });
  expect(created.status).toBe(201);
  const kubeConfig = kubeConfigFor({ server });
  const releases = new ListCache<ReleaseObject>({ kubeConfig, apiVersion: 'graylane.dev/v1alpha1', kind: 'Release' });
  await releases.refresh();
  return { server, kubeConfig, releases, state: new KubernetesReleaseState({ kubeConfig, releases }) };
}

async function stored(server: FakeApiServer): Promise<ReleaseObject> {
  return (await rawRequest({ server, path: `${path}/shop` })).body as unknown as ReleaseObject;
}

describe('KubernetesReleaseState', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.server.close();
    cluster = undefined;
  });

  it('a commit shows the phase, the step and the members in the Release status, kubectl columns included', async () => {
    cluster = await startCluster();
    await cluster.state.commitRelease(shop, fullRelease({ phase: 'progressing', stepIndex: 1, members: [{ service: 'web', from: 'a1', to: 'b2' }] }), 0);
    const status = (await stored(cluster.server)).status;
    expect(status).toMatchObject({ phase: 'progressing', currentStepIndex: 1, members: [{ service: 'web', from: 'a1', to: 'b2' }], observedGeneration: 1, graylane: { version: 1 } });
    // A second adapter reading the same object (a restarted controller) gets the same record.
    await cluster.releases.refresh();
    const restarted = new KubernetesReleaseState({ kubeConfig: cluster.kubeConfig, releases: cluster.releases });
    expect(await restarted.loadRelease(shop)).toMatchObject({ version: 1, state: { phase: 'progressing', stepIndex: 1 } });
  });

  it('a rival that committed first (a 409 from the server) is a StateConflictError naming the version now stored', async () => {
    cluster = await startCluster();
    const rival = new KubernetesReleaseState({ kubeConfig: cluster.kubeConfig, releases: cluster.releases });
    await rival.commitRelease(shop, fullRelease(), 0);
    const refused = await cluster.state.commitRelease(shop, fullRelease({ phase: 'aborted' }), 0).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(StateConflictError);
    expect(refused).toMatchObject({ expectedVersion: 0, actualVersion: 1 });
    expect((await stored(cluster.server)).status?.phase).toBe(fullRelease().phase);
    // Decided again on what is there, it lands.
    await expect(cluster.state.commitRelease(shop, fullRelease({ phase: 'aborted' }), 1)).resolves.toMatchObject({ version: 2 });
    expect((await stored(cluster.server)).status?.phase).toBe('aborted');
  });

  it('a Release that is gone, or a status write the server fails, is a typed error and writes nothing', async () => {
    cluster = await startCluster();
    await expect(cluster.state.commitRelease({ namespace: 'default', name: 'other' }, fullRelease(), 0)).rejects.toMatchObject({ code: 'ReleaseNotFound' });
    cluster.server.injectFault({ status: 500, method: 'PUT', pathIncludes: '/releases/shop/status' });
    await expect(cluster.state.commitRelease(shop, fullRelease(), 0)).rejects.toMatchObject({ code: 'StatusWriteFailed', message: expect.stringContaining('release default/shop') });
    expect((await stored(cluster.server)).status?.graylane).toBeUndefined();
  });
});
