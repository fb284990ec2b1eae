import { describe, expect, it } from 'vitest';
import { ISTIO_REVISION_LABEL, foreignReason, replicaSetBody } from './replica-set-body.js';

const owner = { apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', name: 'web', uid: 'u1' };
const template = { podTemplate: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web:1' }] } }, selector: { app: 'web' }, owner, revisionNumber: 1 };

describe('the ReplicaSet body and Istio\'s canonical revision', () => {
  it('labels the pods (not the selector) with the revision as Istio\'s canonical revision', () => {
    const rs = replicaSetBody({ namespace: 'shop', service: 'web', revision: 'abc', template, replicas: 1 });
    expect(rs.spec?.template?.metadata?.labels?.[ISTIO_REVISION_LABEL]).toBe('abc');
    expect(rs.spec?.selector.matchLabels?.[ISTIO_REVISION_LABEL]).toBeUndefined();
  });

  it('a ReplicaSet written before the label existed is still this revision\'s (kept, not refused as foreign)', () => {
    const wanted = replicaSetBody({ namespace: 'shop', service: 'web', revision: 'abc', template, replicas: 1 });
    const { [ISTIO_REVISION_LABEL]: _gone, ...older } = wanted.spec!.template!.metadata!.labels!;
    const existing = { ...wanted, spec: { ...wanted.spec!, template: { ...wanted.spec!.template, metadata: { labels: older } } } };
    expect(foreignReason(existing, wanted, owner)).toBeUndefined();
    const other = { ...existing, spec: { ...existing.spec, template: { ...existing.spec.template, spec: { containers: [{ name: 'web', image: 'web:9' }] } } } };
    expect(foreignReason(other, wanted, owner)).toMatch(/runs another pod template than revision abc/);
  });
});
