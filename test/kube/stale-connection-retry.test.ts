import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CoreV1Api, createConfiguration, HttpMethod, KubeConfig, KubernetesObjectApi, RequestContext, ResponseContext, ServerConfiguration, type HttpLibrary } from '@kubernetes/client-node';
import { shareKeepAliveAgents } from '../../src/kube/keep-alive-agents.js';
import { isStaleConnection, retryStaleConnections, staleConnectionRetryLibrary, type StaleConnectionRetried } from '../../src/kube/stale-connection-retry.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/**
 * An API server stand-in that closes a kept connection just as a request arrives on it, the
 * instant a server's idle timer and the client's next request meet: `resetWhen` picks which
 * request, counted per connection, is cut. It records every request it received.
 */
async function closingServer(resetWhen: (request: IncomingMessage, nthOnConnection: number) => boolean): Promise<{ url: string; connections: () => number; received: string[] }> {
  let connections = 0;
  const received: string[] = [];
  const perConnection = new Map<Socket, number>();
  server = createServer((req, res) => {
    const n = (perConnection.get(req.socket) ?? 0) + 1;
    perConnection.set(req.socket, n);
    received.push(`${req.method} ${req.url}`);
    if (resetWhen(req, n)) {
      req.socket.destroy();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.method === 'POST'
      ? { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'made' } }
      : req.url === '/api/v1'
        ? { kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['list'] }] }
        : { apiVersion: 'v1', kind: 'NamespaceList', metadata: {}, items: [] }));
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections, received };
}

function configFor(serverUrl: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: serverUrl, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

describe('sharing kept connections, a request met by a reset', () => {
  it('a GET on a connection the server closes as it arrives is sent again on a new one and answered', async () => {
    const api = await closingServer((_req, n) => n === 2);
    const retried: StaleConnectionRetried[] = [];
    const core = retryStaleConnections(shareKeepAliveAgents(configFor(api.url)), { onRetry: (r) => retried.push(r) }).makeApiClient(CoreV1Api);
    await core.listNamespace();
    await expect(core.listNamespace()).resolves.toMatchObject({ kind: 'NamespaceList' });
    expect(api.received).toEqual(['GET /api/v1/namespaces', 'GET /api/v1/namespaces', 'GET /api/v1/namespaces']);
    expect(api.connections()).toBe(2);
    expect(retried).toMatchObject([{ method: 'GET', url: `${api.url}/api/v1/namespaces` }]);
  });

  it('the same reset without the retry is the failure users saw: "ECONNRESET" from a healthy server', async () => {
    const api = await closingServer((_req, n) => n === 2);
    const kc = shareKeepAliveAgents(configFor(api.url));
    // The shared connections with client-node's own library, as makeApiClient builds a client without graylane.
    const bare = new CoreV1Api(createConfiguration({ baseServer: new ServerConfiguration(api.url, {}), authMethods: { default: kc } }));
    await bare.listNamespace();
    await expect(bare.listNamespace()).rejects.toThrow(/ECONNRESET|socket hang up/);
  });

  it('a POST is not sent twice: the reset reaches the caller and the server saw it once', async () => {
    const api = await closingServer((req) => req.method === 'POST');
    const core = shareKeepAliveAgents(configFor(api.url)).makeApiClient(CoreV1Api);
    await expect(core.createNamespace({ body: { metadata: { name: 'made' } } })).rejects.toThrow(/ECONNRESET|socket hang up/);
    expect(api.received.filter((r) => r.startsWith('POST'))).toHaveLength(1);
  });

  it('a GET reset on the second try too fails with the reset: one retry, not a loop', async () => {
    const api = await closingServer(() => true);
    const core = shareKeepAliveAgents(configFor(api.url)).makeApiClient(CoreV1Api);
    await expect(core.listNamespace()).rejects.toThrow(/ECONNRESET|socket hang up/);
    expect(api.received).toHaveLength(2);
  });

  it('also covers the clients KubernetesObjectApi builds (the informer\'s)', async () => {
    const api = await closingServer((_req, n) => n === 2);
    const objects = KubernetesObjectApi.makeApiClient(shareKeepAliveAgents(configFor(api.url)));
    await expect(objects.list('v1', 'Namespace')).resolves.toMatchObject({ items: [] });
    expect(api.received).toEqual(['GET /api/v1', 'GET /api/v1/namespaces', 'GET /api/v1/namespaces']);
  });

  it('closes an idle connection before the server does: at its announced keep-alive less a second, else after idleSocketMs', async () => {
    const api = await closingServer(() => false);
    server!.keepAliveTimeout = 3_000;
    for (const [idleSocketMs, expected] of [[30_000, 2_000], [1_000, 1_000]] as const) {
      const kc = shareKeepAliveAgents(configFor(api.url), { idleSocketMs });
      await kc.makeApiClient(CoreV1Api).listNamespace();
      const context = new RequestContext(`${api.url}/api/v1/namespaces`, HttpMethod.GET);
      await kc.applySecurityAuthentication(context);
      const agent = context.getAgent() as unknown as { freeSockets: Record<string, Socket[]> };
      expect(Object.values(agent.freeSockets).flat().map((s) => s.timeout)).toEqual([expected]);
    }
  });

  it('tells the last onRetry named: the controller counts retries of a KubeConfig the loader already wrapped', async () => {
    const api = await closingServer((_req, n) => n === 2);
    const first: string[] = [];
    const last: string[] = [];
    const kc = retryStaleConnections(shareKeepAliveAgents(configFor(api.url)), { onRetry: ({ method }) => first.push(method) });
    retryStaleConnections(kc, { onRetry: ({ method }) => last.push(method) });
    // Naming none keeps the one before.
    retryStaleConnections(kc);
    const core = kc.makeApiClient(CoreV1Api);
    await core.listNamespace();
    await core.listNamespace();
    expect({ first, last }).toEqual({ first: [], last: ['GET'] });
  });

  it('wraps once however often it is asked', () => {
    const kc = configFor('http://127.0.0.1:1');
    retryStaleConnections(kc);
    const once: unknown = Reflect.get(kc, 'makeApiClient');
    retryStaleConnections(kc);
    shareKeepAliveAgents(kc);
    expect(Reflect.get(kc, 'makeApiClient')).toBe(once);
  });
});

describe('staleConnectionRetryLibrary: which failures are tried again', () => {
  const reset = Object.assign(new Error('request failed, reason: socket hang up'), { code: 'ECONNRESET' });
  const pipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  const wrapped = new Error('wrapped', { cause: reset });
  // One row per case: the method, what the first try fails with, whether the request's deadline had passed, how many tries.
  const rows: Array<[HttpMethod, Error, boolean, number]> = [
    [HttpMethod.GET, reset, false, 2],
    [HttpMethod.GET, pipe, false, 2],
    [HttpMethod.GET, wrapped, false, 2],
    [HttpMethod.PUT, reset, false, 2],
    [HttpMethod.DELETE, reset, false, 2],
    [HttpMethod.HEAD, reset, false, 2],
    [HttpMethod.POST, reset, false, 1],
    [HttpMethod.PATCH, reset, false, 1],
    [HttpMethod.GET, refused, false, 1],
    [HttpMethod.GET, reset, true, 1],
  ];
  it.each(rows)('%s failing with %s (deadline passed: %s) is tried %i time(s)', async (method, error, aborted, tries) => {
    let sent = 0;
    const inner: HttpLibrary = {
      send: () => {
        sent += 1;
        return { toPromise: () => (sent === 1 ? Promise.reject(error) : Promise.resolve(new ResponseContext(200, {}, { text: () => Promise.resolve('{}'), binary: () => Promise.resolve(Buffer.from('{}')) }))) } as never;
      },
    };
    const request = new RequestContext('http://api.example/api/v1/namespaces', method);
    const controller = new AbortController();
    if (aborted) controller.abort();
    request.setSignal(controller.signal);
    const answer = staleConnectionRetryLibrary({ httpLibrary: inner }).send(request).toPromise();
    if (tries === 2) await expect(answer).resolves.toMatchObject({ httpStatusCode: 200 });
    else await expect(answer).rejects.toBe(error);
    expect(sent).toBe(tries);
  });

  it('reads the code through causes, and nothing else as a reset', () => {
    expect([reset, pipe, wrapped, refused, new Error('ECONNRESET in words only'), 'ECONNRESET'].map(isStaleConnection)).toEqual([true, true, true, false, false, false]);
  });
});
