import { describe, expect, it } from 'vitest';
import type { Release, RolloutSpec } from '../../documents/schema.js';
import { initialStatus } from '../context.js';
import type { RolloutStatus } from '../types.js';
import { abortGraceMs, memberSpec, releasePageWeight, type PageWeightMember } from './releases.js';

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

/** A member on `stable`, rolling to `canary` at `weight` (no canary when absent), asking for `desired` (its canary, else stable). */
const member = (stable: string, canary?: string, weight = 0, more: { abort?: boolean; desired?: string } = {}): PageWeightMember => ({
  status: { ...initialStatus(0), stableRevision: stable, canaryRevision: canary ?? stable, weights: { canary: weight, stable: 100 - weight }, abort: more.abort ?? false } satisfies RolloutStatus,
  desiredRevision: more.desired ?? canary ?? stable,
});

describe('the share of page loads a release in progress sends to its canary', () => {
  it.each([
    ['both members at 30', [member('w1', 'w2', 30), member('a1', 'a2', 30)], 30],
    ['the lowest member holds it', [member('w1', 'w2', 60), member('a1', 'a2', 30)], 30],
    ['a member whose canary is not ready yet holds it at 0', [member('w1', 'w2', 30), member('a1', 'a2', 0)], 0],
    ['a member applied but not yet taken up by its engine holds it at 0', [member('w1', 'w2', 30), member('a1', undefined, 0, { desired: 'a2' })], 0],
    ['a new member not reconciled yet holds it at 0', [member('w1', 'w2', 30), { status: undefined, desiredRevision: 'a1' }], 0],
    ['a member this release does not change holds nothing', [member('w1', 'w2', 30), member('a1')], 30],
    ['a member done holds nothing', [member('w2'), member('a1', 'a2', 60)], 60],
    ['every member done: all page loads on the new version until the promotion lands', [member('w2'), member('a2')], 100],
    ['a member left aborted by an earlier attempt holds nothing', [member('w1', 'w2', 30), member('a1', 'a2', 0, { abort: true })], 30],
  ] as const)('%s', (_what, members, weight) => {
    expect(releasePageWeight(members)).toBe(weight);
  });
});
