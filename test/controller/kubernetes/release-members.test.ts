import { describe, expect, it } from 'vitest';
import type { Release, RolloutSpec } from '../../../src/documents/schema.js';
import { clusterMemberSpec } from '../../../src/controller/kubernetes/release-members.js';

const release: Release = { name: 'shop', services: ['web', 'api'], strategy: { canary: { steps: [{ setWeight: 50 }, { pause: {} }] } } };

function member(trafficRouting: NonNullable<RolloutSpec['strategy']['canary']>['trafficRouting']): RolloutSpec {
  return {
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web:2' }] } },
    strategy: { canary: { stableService: 'web', canaryService: 'web-canary', trafficRouting, steps: [{ setWeight: 10 }] } },
  };
}

describe('a Rollout as a member of a release on a cluster', () => {
  it('runs the release\'s steps with its own routing', () => {
    const result = clusterMemberSpec({ release, own: member({ istio: { virtualService: { name: 'web', routes: ['primary'] } } }), canPin: () => true });
    expect('spec' in result && result.spec.strategy.canary).toMatchObject({ stableService: 'web', canaryService: 'web-canary', trafficRouting: { istio: { virtualService: { name: 'web' } } } });
    expect('spec' in result && result.spec.strategy.canary?.steps?.[0]).toEqual({ setWeight: 50 });
  });

  it.each([[1000], [10]])('refuses a member whose own weight scale is %i: the release\'s weights are percent', (scale) => {
    const result = clusterMemberSpec({ release, own: member({ maxTrafficWeight: scale, istio: { virtualService: { name: 'web', routes: ['primary'] } } }), canPin: () => true });
    expect(result).toEqual({ invalid: expect.stringContaining(`spec.strategy.canary.trafficRouting.maxTrafficWeight: a member of release "shop" moves with the release's weights, which are percent; leave maxTrafficWeight out or set it to 100, not ${scale}`) as string });
  });

  it('takes a member on the percent scale written out', () => {
    expect(clusterMemberSpec({ release, own: member({ maxTrafficWeight: 100, istio: { virtualService: { name: 'web', routes: ['primary'] } } }), canPin: () => true })).toHaveProperty('spec');
  });
});
