import { describe, expect, it } from 'vitest';
import type { Release, RolloutSpec } from '../../documents/schema.js';
import { abortGraceMs, memberSpec } from './releases.js';

const own: RolloutSpec = { replicas: 2, strategy: { canary: {} } };
const release = (canary: Partial<NonNullable<Release['strategy']['canary']>>, pinning: Release['pinning'] = undefined): Release => ({
  name: 'shop', services: ['web', 'api'], strategy: { canary: { steps: [{ setWeight: 30 }, { pause: {} }], ...canary } }, ...(pinning ? { pinning } : {}),
});

describe('a release’s abort grace', () => {
  it('is 5 s unless pinning.abortGrace says otherwise', () => {
    expect(abortGraceMs(release({}))).toBe(5000);
    expect(abortGraceMs(release({}, { abortGrace: '1500ms' }))).toBe(1500);
    expect(abortGraceMs(release({}, { abortGrace: 0 }))).toBe(0);
  });

  it.each([
    ['the default delay (30 s) covers the default grace', {}, undefined, undefined],
    ['a shorter delay is raised to the grace', { abortScaleDownDelaySeconds: 2 }, undefined, 5],
    ['a grace longer than the default delay raises it', {}, { abortGrace: '45s' }, 45],
    ['a grace in ms rounds up to whole seconds', { abortScaleDownDelaySeconds: 1 }, { abortGrace: '1500ms' }, 2],
    ['a longer delay is kept', { abortScaleDownDelaySeconds: 90 }, { abortGrace: '45s' }, 90],
    ['0 (keep the canary for good) is kept', { abortScaleDownDelaySeconds: 0 }, { abortGrace: '45s' }, 0],
  ] as const)('keeps an aborted member canary up through it: %s', (_what, canary, pinning, delay) => {
    expect(memberSpec(release(canary, pinning), own).strategy.canary?.abortScaleDownDelaySeconds).toBe(delay);
  });
});
