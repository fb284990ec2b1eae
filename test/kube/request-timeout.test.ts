/**
 * Requests to the API server end at their timeout: one without an answer is cut (and, on a
 * keep-alive connection, the next request gets a working one), one answered in time is not,
 * a caller's own signal is left alone, and watches, which stay open by design, are not cut.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CoreV1Api, HttpMethod, KubeConfig, RequestContext, type V1ConfigMap } from '@kubernetes/client-node';
import { clusterFailure, ClusterUnreachableError } from '../../src/cli/cluster/cluster-errors.js';
import { Informer } from '../../src/kube/informer.js';
import { shareKeepAliveAgents } from '../../src/kube/keep-alive-agents.js';
import { isRequestTimeout, limitRequestTime, requestFailureMessage, requestTimeoutOf } from '../../src/kube/request-timeout.js';
import { FakeApiServer } from '../fixtures/kube/fake-api-server.js';
import { kubeConfigFor } from '../fixtures/kube/kubeconfig.js';

let server: Server | undefined;
let fake: FakeApiServer | undefined;
let informer: Informer | undefined;
afterEach(async () => {
  await informer?.stop();
  informer = undefined;
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  await fake?.close();
  fake = undefined;
});

const list = (res: ServerResponse): void => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ apiVersion: 'v1', kind: 'NamespaceList', metadata: {}, items: [] }));
};

/** A stand-in API server whose `n`-th request (from 1) gets what `answer` says; it counts connections. */
async function standIn(answer: (n: number, res: ServerResponse) => void): Promise<{ kc: KubeConfig; connections: () => number }> {
  let requests = 0;
  let connections = 0;
  server = createServer((_req, res) => answer((requests += 1), res));
  server.on('connection', () => (connections += 1));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x',
  });
  return { kc, connections: () => connections };
}

/** How long `work` took to settle, and its error if it failed. */
async function timed(work: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  try {
    await work;
    return { ms: performance.now() - started, error: undefined };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

describe('the request timeout', () => {
  it('cuts a request the API server never answers, and says so in a sentence', async () => {
    const { kc } = await standIn(() => undefined);
    limitRequestTime(kc, { requestTimeoutMs: 300 });
    const { ms, error } = await timed(kc.makeApiClient(CoreV1Api).listNamespace());
    expect(isRequestTimeout(error)).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(10_000);
    expect(requestFailureMessage(error, requestTimeoutOf(kc))).toBe('the Kubernetes API server did not answer within 0.3 s');
    // As an adapter wraps it.
    const wrapped = new Error(`the status of rollout default/demo was not written: ${(error as Error).message}`, { cause: error });
    expect(requestFailureMessage(wrapped, 300)).toBe('the status of rollout default/demo was not written: the Kubernetes API server did not answer within 0.3 s');
    expect(requestFailureMessage(new Error('HTTP 500: etcd is slow'), 300)).toBe('HTTP 500: etcd is slow');
  });

  it('the CLI names the server, the context and what it asked when the cluster does not answer', async () => {
    const { kc } = await standIn(() => undefined);
    limitRequestTime(kc, { requestTimeoutMs: 300 });
    const { error } = await timed(kc.makeApiClient(CoreV1Api).listNamespace());
    const server = kc.getCurrentCluster()!.server;
    const failure = clusterFailure(error, { kubeConfig: kc, namespace: 'default', context: 'x', server }, 'listing rollouts');
    expect(failure).toBeInstanceOf(ClusterUnreachableError);
    expect(failure.message).toBe(`the Kubernetes API server at ${server} (context x) did not answer listing rollouts within 0.3 s`);
  });

  it('leaves alone a request answered in time, however slowly', async () => {
    const { kc } = await standIn((_n, res) => setTimeout(() => list(res), 400));
    limitRequestTime(kc, { requestTimeoutMs: 5_000 });
    expect((await kc.makeApiClient(CoreV1Api).listNamespace()).items).toEqual([]);
  });

  it('on a keep-alive connection, a hung request is cut with its socket: the next one opens a new connection and is answered', async () => {
    // The first request is answered, the second hangs on the same connection (what a silently dropped one looks like).
    const { kc, connections } = await standIn((n, res) => (n === 2 ? undefined : list(res)));
    shareKeepAliveAgents(kc);
    limitRequestTime(kc, { requestTimeoutMs: 300 });
    const core = kc.makeApiClient(CoreV1Api);
    await core.listNamespace();
    expect(connections()).toBe(1);
    expect(isRequestTimeout((await timed(core.listNamespace())).error)).toBe(true);
    expect((await core.listNamespace()).items).toEqual([]);
    expect(connections()).toBe(2);
  });

  it('keeps the signal a caller gave its request; the last call sets the timeout', async () => {
    const kc = limitRequestTime(limitRequestTime(new KubeConfig(), { requestTimeoutMs: 300 }), { requestTimeoutMs: 2_000 });
    expect(requestTimeoutOf(kc)).toBe(2_000);
    kc.loadFromOptions({ clusters: [{ name: 'c', server: 'http://127.0.0.1:1', skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const own = new AbortController().signal;
    const mine = new RequestContext('http://127.0.0.1:1/api/v1/namespaces', HttpMethod.GET);
    mine.setSignal(own);
    await kc.applySecurityAuthentication(mine);
    expect(mine.getSignal()).toBe(own);
    const theirs = new RequestContext('http://127.0.0.1:1/api/v1/namespaces', HttpMethod.GET);
    await kc.applySecurityAuthentication(theirs);
    expect(theirs.getSignal()).toBeInstanceOf(AbortSignal);
  });

  it('does not cut a watch: an informer whose watch stays open far past the timeout still hears every change', async () => {
    fake = await FakeApiServer.start({ namespaces: ['default'] });
    const kc = limitRequestTime(kubeConfigFor({ server: fake }), { requestTimeoutMs: 300 });
    const configMaps = new Informer<V1ConfigMap>({ kubeConfig: kc, apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespace: 'default' });
    informer = configMaps;
    await configMaps.start();
    await new Promise((r) => setTimeout(r, 1_200));
    await kubeConfigFor({ server: fake }).makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'late' }, data: { a: '1' } } });
    for (let i = 0; i < 100 && configMaps.get('default', 'late') === undefined; i += 1) await new Promise((r) => setTimeout(r, 20));
    expect(configMaps.get('default', 'late')?.data).toEqual({ a: '1' });
    expect(configMaps.figures().watchRestarts).toBe(0);
  });
});
