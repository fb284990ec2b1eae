import { afterEach, describe, expect, it } from 'vitest';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import { FakeApiServer } from '../fixtures/kube/fake-api-server.js';
import { kubeConfigFor } from '../fixtures/kube/kubeconfig.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';

let server: FakeApiServer;
afterEach(async () => server.close());

describe('fake API server: injected faults', () => {
  it('answers the armed number of matching requests with a 500 Status, then serves them again', async () => {
    server = await FakeApiServer.start();
    server.injectFault({ status: 500, times: 2, pathIncludes: '/configmaps' });
    const core = kubeConfigFor({ server }).makeApiClient(CoreV1Api);
    // Other resources are untouched by a rule for configmaps.
    await expect(core.listNamespace()).resolves.toBeDefined();
    for (let i = 0; i < 2; i += 1) {
      const error = await core.listNamespacedConfigMap({ namespace: 'default' }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ApiException);
      expect((error as ApiException<unknown>).code).toBe(500);
    }
    await expect(core.listNamespacedConfigMap({ namespace: 'default' })).resolves.toMatchObject({ items: [] });
  });

  it('sends 429 TooManyRequests with Retry-After, and can target watches only', async () => {
    server = await FakeApiServer.start();
    server.injectFault({ status: 429, watch: true, retryAfterSeconds: 3 });
    expect((await rawRequest({ server, path: '/api/v1/namespaces/default/configmaps' })).status).toBe(200);
    const response = await fetch(`${server.url}/api/v1/namespaces/default/configmaps?watch=true`);
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('3');
    expect(await response.json()).toMatchObject({ kind: 'Status', reason: 'TooManyRequests', code: 429 });
  });

  it('matches on method: a rule for POST leaves reads alone', async () => {
    server = await FakeApiServer.start();
    server.injectFault({ status: 503, method: 'POST' });
    expect((await rawRequest({ server, path: '/api/v1/namespaces/default/configmaps' })).status).toBe(200);
    const refused = await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/configmaps', body: { metadata: { name: 'a' } } });
    expect(refused).toMatchObject({ status: 503, body: { reason: 'ServiceUnavailable', code: 503 } });
    expect((await rawRequest({ server, path: '/api/v1/namespaces/default/configmaps' })).body.items).toEqual([]);
    expect((await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/configmaps', body: { metadata: { name: 'a' } } })).status).toBe(201);
  });
});
