import { describe, expect, it } from 'vitest';
import type { ServiceView } from '../controller/view-model.js';
import { renderStatus } from './render.js';

const release: ServiceView = {
  name: 'shop', kind: 'release', phase: 'Paused', strategy: 'canary', step: 2, steps: 3, message: 'paused at step 2/3',
  revisions: [], analysis: [], aborted: false, pauseReasons: ['CanaryPauseStep'],
};

describe('status of a release', () => {
  it('shows the share of page loads and requests the canary really served beside the weight set', () => {
    const text = renderStatus({ ...release, releaseTraffic: { weight: 50, windowMs: 30_000, pageLoads: { stable: 310, canary: 290 }, requests: { stable: 930, canary: 870 } } });
    expect(text).toContain('canary served 48.3% of 600 page loads, 48.3% of 1800 requests in the last 30 s (weight 50%)');
  });

  it('says so when the router saw no page loads', () => {
    const text = renderStatus({ ...release, releaseTraffic: { weight: 20, windowMs: 30_000, pageLoads: { stable: 0, canary: 0 }, requests: { stable: 4, canary: 0 } } });
    expect(text).toContain('canary served no page loads, 0.0% of 4 requests in the last 30 s (weight 20%)');
  });
});
