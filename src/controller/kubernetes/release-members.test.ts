import { describe, expect, it } from 'vitest';
import type { Release, RolloutSpec } from '../../documents/schema.js';
import { nginxPinningIssue } from '../../traffic/nginx/nginx-config.js';
import { clusterMemberSpec } from './release-members.js';

const own: RolloutSpec = { strategy: { canary: { stableService: 'web', canaryService: 'web-canary', trafficRouting: { nginx: { stableIngress: 'web' } }, steps: [{ setWeight: 10 }] } } };
const release = (pinning: Release['pinning']): Release => ({
  name: 'shop', services: ['web'], ...(pinning ? { pinning } : {}),
  strategy: { canary: { steps: [{ setWeight: 20 }, { setHeaderRoute: { name: 'beta', match: [{ headerName: 'x-beta' }] } }, { pause: {} }] } },
});

describe('clusterMemberSpec and ingress-nginx pinning', () => {
  it('a release with pinning whose steps set a header route is refused on an nginx member, with the step named', () => {
    const result = clusterMemberSpec({ release: release({}), own, canPin: () => true, pinningIssue: nginxPinningIssue });
    expect(result).toEqual({ invalid: expect.stringMatching(/^member of release "shop" with spec\.pinning: release "shop" spec\.strategy\.canary\.steps\[1\]\.setHeaderRoute: with pinning, ingress-nginx/) as unknown });
  });

  it('without pinning the same steps run', () => {
    const result = clusterMemberSpec({ release: release(undefined), own, canPin: () => true, pinningIssue: nginxPinningIssue });
    expect('spec' in result && result.spec.strategy.canary?.steps?.length).toBe(3);
  });
});

describe('clusterMemberSpec and a release\'s analysis gate', () => {
  const gated: Release = { name: 'shop', services: ['web'], strategy: { canary: { steps: [{ setWeight: 20 }, { analysis: { templates: [{ templateName: 'check' }] } }] } } };

  it('runs as a gate the release opens (the member pauses there) where the cluster serves AnalysisRuns', () => {
    const result = clusterMemberSpec({ release: gated, own, canPin: () => true, analysisServed: true });
    expect('spec' in result && result.spec.strategy.canary?.steps).toEqual([{ setWeight: 20 }, { pause: {} }]);
  });

  it('is refused with the step named where the cluster serves no AnalysisRun API', () => {
    const result = clusterMemberSpec({ release: gated, own, canPin: () => true, analysisServed: false });
    expect(result).toEqual({ invalid: expect.stringMatching(/^release "shop" spec\.strategy\.canary\.steps\[1\]\.analysis: this cluster serves no AnalysisRun API/) as unknown });
  });
});
