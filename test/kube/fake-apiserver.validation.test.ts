import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiException, CoordinationV1Api, type V1MicroTime } from '@kubernetes/client-node';
import { FakeApiServer } from '../fixtures/kube/fake-api-server.js';
import { kubeConfigFor } from '../fixtures/kube/kubeconfig.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';
import { widgetCrd } from '../fixtures/kube/sample-crd.js';
import { customResourceDefinition } from '../../src/documents/index.js';

let server: FakeApiServer;
beforeEach(async () => {
  server = await FakeApiServer.start();
});
afterEach(async () => server.close());

const leases = '/apis/coordination.k8s.io/v1/namespaces/default/leases';
const widgets = '/apis/example.dev/v1alpha1/namespaces/default/widgets';

describe('fake API server: MicroTime fields', () => {
  it('accepts a Lease renewTime and acquireTime with exactly six fractional digits', async () => {
    const res = await rawRequest({ server, method: 'POST', path: leases, body: { metadata: { name: 'l' }, spec: { holderIdentity: 'a', renewTime: '2026-11-28T10:00:00.123456Z', acquireTime: '2026-11-28T10:00:00.000000+01:00' } } });
    expect(res.status).toBe(201);
    expect(res.body.spec.renewTime).toBe('2026-11-28T10:00:00.123456Z');
  });

  it.each([
    ['milliseconds', '2026-11-28T10:00:00.123Z'],
    ['no fraction', '2026-11-28T10:00:00Z'],
    ['nanoseconds', '2026-11-28T10:00:00.123456789Z'],
    ['not a time', 'yesterday'],
    ['a number', 1764324000],
  ])('refuses a Lease renewTime with %s as the real server’s decoder does (400)', async (_what, renewTime) => {
    const res = await rawRequest({ server, method: 'POST', path: leases, body: { metadata: { name: 'l' }, spec: { renewTime } } });
    expect(res).toMatchObject({ status: 400, body: { kind: 'Status', reason: 'BadRequest', code: 400 } });
    expect(res.body.message).toContain('2006-01-02T15:04:05.000000Z07:00');
  });

  it('refuses a bad acquireTime on update and through a patch', async () => {
    await rawRequest({ server, method: 'POST', path: leases, body: { metadata: { name: 'l' }, spec: { holderIdentity: 'a' } } });
    const patched = await rawRequest({ server, method: 'PATCH', path: `${leases}/l`, body: { spec: { acquireTime: '2026-11-28T10:00:00.1Z' } }, contentType: 'application/merge-patch+json' });
    expect(patched.status).toBe(400);
    const current = (await rawRequest({ server, path: `${leases}/l` })).body;
    const put = await rawRequest({ server, method: 'PUT', path: `${leases}/l`, body: { ...current, spec: { acquireTime: '2026-11-28T10:00:00Z' } } });
    expect(put.status).toBe(400);
  });

  it('refuses a client-node Date as renewTime: it serializes with milliseconds, which the real server refuses too', async () => {
    const coordination = kubeConfigFor({ server }).makeApiClient(CoordinationV1Api);
    const error = await coordination.createNamespacedLease({ namespace: 'default', body: { metadata: { name: 'l' }, spec: { renewTime: new Date() } } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiException);
    expect((error as ApiException<unknown>).code).toBe(400);
    const ok = await coordination.createNamespacedLease({ namespace: 'default', body: { metadata: { name: 'l' }, spec: { renewTime: '2026-11-28T10:00:00.000001Z' as unknown as V1MicroTime } } });
    expect(ok.spec?.renewTime).toBe('2026-11-28T10:00:00.000001Z');
  });

  it('checks events.k8s.io Event eventTime the same way', async () => {
    const event = (eventTime: string): Record<string, unknown> => ({ metadata: { name: `e${eventTime.length}` }, eventTime, reportingController: 'graylane.dev/controller', reportingInstance: 'x', action: 'Promote', reason: 'Promoted', type: 'Normal', regarding: { kind: 'Rollout', name: 'demo' } });
    expect((await rawRequest({ server, method: 'POST', path: '/apis/events.k8s.io/v1/namespaces/default/events', body: event('2026-11-28T10:00:00.123456Z') })).status).toBe(201);
    expect((await rawRequest({ server, method: 'POST', path: '/apis/events.k8s.io/v1/namespaces/default/events', body: event('2026-11-28T10:00:00.123Z') })).status).toBe(400);
  });
});

describe('fake API server: built-in kinds against the official schemas', () => {
  it('refuses a wrong type anywhere in the object with 422 naming the field', async () => {
    const res = await rawRequest({ server, method: 'POST', path: '/apis/apps/v1/namespaces/default/deployments', body: { metadata: { name: 'd' }, spec: { replicas: 'two', selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } } });
    expect(res).toMatchObject({ status: 422, body: { reason: 'Invalid' } });
    expect(res.body.details.causes.map((c: { field: string }) => c.field)).toContain('spec.replicas');
    const pod = await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/pods', body: { metadata: { name: 'p' }, spec: {} } });
    expect(pod.status).toBe(422);
    expect(pod.body.details.causes).toContainEqual(expect.objectContaining({ field: 'spec.containers', reason: 'FieldValueRequired' }));
  });
});

describe('fake API server: custom resources against the CRD schema', () => {
  beforeEach(async () => {
    expect((await rawRequest({ server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: widgetCrd() })).status).toBe(201);
  });

  it('prunes fields the schema does not declare, except under x-kubernetes-preserve-unknown-fields and maps', async () => {
    const res = await rawRequest({ server, method: 'POST', path: widgets, body: {
      metadata: { name: 'w', labels: { keep: 'me' } },
      topLevelJunk: true,
      spec: { size: 1, unknown: 'gone', extra: { anything: { goes: 1 } }, tags: { a: 'b' } },
    } });
    expect(res.status).toBe(201);
    expect(res.body.topLevelJunk).toBeUndefined();
    expect(res.body.spec).toEqual({ size: 1, extra: { anything: { goes: 1 } }, tags: { a: 'b' } });
    expect(res.body.metadata.labels).toEqual({ keep: 'me' });
    const status = await rawRequest({ server, method: 'PATCH', path: `${widgets}/w/status`, body: { status: { phase: 'Ok', undeclared: 1, conditions: [{ type: 'Ready', status: 'True', extra: 'x' }] } }, contentType: 'application/merge-patch+json' });
    expect(status.body.status).toEqual({ phase: 'Ok', conditions: [{ type: 'Ready', status: 'True' }] });
  });

  it('refuses an object the schema refuses with 422 and one cause per error', async () => {
    const bad = await rawRequest({ server, method: 'POST', path: widgets, body: { metadata: { name: 'w' }, spec: { size: 0, color: 'green', tags: { a: 1 } } } });
    expect(bad).toMatchObject({ status: 422, body: { kind: 'Status', reason: 'Invalid', details: { kind: 'Widget', group: 'example.dev', name: 'w' } } });
    expect(bad.body.details.causes.map((c: { field: string }) => c.field).sort()).toEqual(['spec.color', 'spec.size', 'spec.tags.a']);
    const missing = await rawRequest({ server, method: 'POST', path: widgets, body: { metadata: { name: 'w' }, spec: {} } });
    expect(missing.body.details.causes).toEqual([expect.objectContaining({ field: 'spec.size', reason: 'FieldValueRequired' })]);
    const badMeta = await rawRequest({ server, method: 'POST', path: widgets, body: { metadata: { name: 'w', ownerReferences: 'x', labels: { a: 1 } }, spec: { size: 1 } } });
    expect(badMeta.status).toBe(422);
    expect(badMeta.body.details.causes.map((c: { field: string }) => c.field).sort()).toEqual(['metadata.labels.a', 'metadata.ownerReferences']);
    const badName = await rawRequest({ server, method: 'POST', path: widgets, body: { metadata: { name: 'W_1' }, spec: { size: 1 } } });
    expect(badName.body.details.causes).toEqual([expect.objectContaining({ field: 'metadata.name' })]);
    const created = await rawRequest({ server, method: 'POST', path: widgets, body: { metadata: { name: 'w' }, spec: { size: 1 } } });
    const update = await rawRequest({ server, method: 'PUT', path: `${widgets}/w`, body: { ...created.body, spec: { size: 'big' } } });
    expect(update.status).toBe(422);
  });

  it("reads OpenAPI 3.0's boolean exclusive bounds as the real server does (graylane's own Rollout CRD)", async () => {
    expect((await rawRequest({ server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: customResourceDefinition('Rollout') })).status).toBe(201);
    const rollouts = '/apis/graylane.dev/v1alpha1/namespaces/default/rollouts';
    const rollout = (alpha: number) => ({ metadata: { name: `r${String(alpha).replace('.', '')}` }, spec: { selector: { matchLabels: { app: 'a' } }, template: { metadata: { labels: { app: 'a' } } }, strategy: { canary: { guard: { alpha } } } } });
    expect((await rawRequest({ server, method: 'POST', path: rollouts, body: rollout(0.01) })).status).toBe(201);
    for (const alpha of [0, 0.5]) {
      const refused = await rawRequest({ server, method: 'POST', path: rollouts, body: rollout(alpha) });
      expect(refused).toMatchObject({ status: 422, body: { reason: 'Invalid' } });
      expect(refused.body.details.causes).toEqual([expect.objectContaining({ field: 'spec.strategy.canary.guard.alpha' })]);
    }
  });
});
