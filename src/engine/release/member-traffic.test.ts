import { describe, expect, it } from 'vitest';
import { initialStatus } from '../context.js';
import type { RolloutStatus, TrafficInForce } from '../types.js';
import type { ReleaseMemberStatus } from './decide.js';
import { attemptCanaryWeight, releaseMemberTraffic } from './member-traffic.js';
import type { ReleaseState } from './releases.js';

/** The attempt web w1→w2, api a1→a2 (or only those named), in `phase`. */
const state = (services: readonly ('web' | 'api')[] = ['web', 'api'], phase: ReleaseState['phase'] = 'progressing'): ReleaseState => ({
  name: 'shop', generation: 'g1', phase, stepIndex: 0, secret: 's', message: '',
  members: services.map((service) => ({ service, from: `${service[0]}1`, to: `${service[0]}2` })),
});

/** `service` on `stable`, rolling to `canary` at `weight` (nothing in progress when absent). */
const at = (service: string, stable: string, canary?: string, weight = 0, abort = false, kept: readonly string[] = []): ReleaseMemberStatus => ({
  service,
  status: {
    ...initialStatus(0), stableRevision: stable, canaryRevision: canary ?? stable, weights: { canary: weight, stable: 100 - weight }, abort,
    scaleDownDeadlines: kept.map((revision) => ({ revision, atMs: 1 })),
  } satisfies RolloutStatus,
});
/** `service` done on `revision`, its old revision `old` kept up for pinned clients. */
const done = (service: string, revision: string, old: string): ReleaseMemberStatus => at(service, revision, undefined, 0, false, [old]);
const none = (service: string): ReleaseMemberStatus => ({ service, status: undefined });

describe('the share of unpinned clients a progressing attempt may send to its members\' canaries (each member routed by its own objects)', () => {
  it.each([
    ['both at 50', state(), [at('web', 'w1', 'w2', 50), at('api', 'a1', 'a2', 50)], 50],
    ['the backend\'s canary not ready yet (weight 0) holds the frontend at 0', state(), [at('web', 'w1', 'w2', 50), at('api', 'a1', 'a2', 0)], 0],
    ['a member of the attempt with no status yet holds it at 0', state(), [at('web', 'w1', 'w2', 50), none('api')], 0],
    ['a member rolling out the attempt has not taken in yet (its routes carry no pins) holds it at 0', state(['web']), [at('web', 'w1', 'w2', 50), at('api', 'a1', 'a2', 50)], 0],
    ['a member the attempt leaves alone holds nothing', state(['web']), [at('web', 'w1', 'w2', 50), at('api', 'a1')], 50],
    ['a member left aborted by an earlier attempt holds nothing', state(['web']), [at('web', 'w1', 'w2', 50), at('api', 'a0', 'a1', 0, true)], 50],
    ['a member of the attempt aborted holds it at 0 (the release aborts all)', state(), [at('web', 'w1', 'w2', 50), at('api', 'a1', 'a2', 0, true)], 0],
    ['a member moved past the attempt\'s revision holds it at 0', state(), [at('web', 'w1', 'w2', 50), at('api', 'a1', 'a3', 50)], 0],
    ['a member done holds nothing', state(), [at('web', 'w2'), at('api', 'a1', 'a2', 50)], 50],
    ['every member done: 100 until the promotion lands', state(), [at('web', 'w2'), at('api', 'a2')], 100],
  ] as const)('%s', (_what, s, members, weight) => {
    expect(attemptCanaryWeight(s, members)).toBe(weight);
  });
});

const traffic = (stableRevision: string, canaryRevision: string | undefined, canaryWeight: number): TrafficInForce => ({
  stableRevision, ...(canaryRevision === undefined ? {} : { canaryRevision }), canaryWeight, headerRoutes: [], mirrorRoutes: [],
});
const split = (t: TrafficInForce): string => `${t.stableRevision}/${t.canaryRevision ?? '-'}@${t.canaryWeight}`;

describe('what a member\'s routes carry while its release hands out pins', () => {
  it.each([
    ['the frontend at 50 with the backend\'s canary not serving: none to its canary', state(), 'web', [at('web', 'w1', 'w2', 50), at('api', 'a1', 'a2', 0)], traffic('w1', 'w2', 50), 'w1/w2@0'],
    ['both at 50: its own decision', state(), 'web', [at('web', 'w1', 'w2', 50), at('api', 'a1', 'a2', 50)], traffic('w1', 'w2', 50), 'w1/w2@50'],
    ['below the release\'s weight: its own, lower, weight', state(), 'api', [at('web', 'w1', 'w2', 50), at('api', 'a1', 'a2', 20)], traffic('a1', 'a2', 20), 'a1/a2@20'],
    ['done before the backend: its old revision for stable pins, new clients by the release\'s weight', state(), 'web', [done('web', 'w2', 'w1'), at('api', 'a1', 'a2', 50)], traffic('w2', undefined, 0), 'w1/w2@50'],
    ['done with every member: the new revision for every unpinned client, the old for stable pins', state(), 'api', [done('web', 'w2', 'w1'), done('api', 'a2', 'a1')], traffic('a2', undefined, 0), 'a1/a2@100'],
    ['done, its old revision scaled down already (the release outlasted its delay): its own decision', state(), 'web', [at('web', 'w2'), at('api', 'a1', 'a2', 50)], traffic('w2', undefined, 0), 'w2/-@0'],
    ['promoted, in the skew window: the old revision for stable pins, every other client on the new', state(['web', 'api'], 'promoted'), 'web', [done('web', 'w2', 'w1'), done('api', 'a2', 'a1')], traffic('w2', undefined, 0), 'w1/w2@100'],
    ['promoted, its old revision scaled down already: its own decision', state(['web', 'api'], 'promoted'), 'web', [at('web', 'w2'), at('api', 'a2')], traffic('w2', undefined, 0), 'w2/-@0'],
    ['promoted, then moved on to a newer revision: its own decision', state(['web', 'api'], 'promoted'), 'web', [at('web', 'w2', 'w3', 10), done('api', 'a2', 'a1')], traffic('w2', 'w3', 10), 'w2/w3@10'],
    ['aborted: its own decision (stable, the canary kept for pins in the grace)', state(['web', 'api'], 'aborted'), 'web', [at('web', 'w1', 'w2', 0, true), at('api', 'a1', 'a2', 0, true)], traffic('w1', 'w2', 0), 'w1/w2@0'],
    ['a member the attempt leaves alone: its own decision', state(['web']), 'api', [at('web', 'w1', 'w2', 50), at('api', 'a1')], traffic('a1', undefined, 0), 'a1/-@0'],
    ['a member moved on to a newer revision: its own decision', state(), 'api', [at('web', 'w1', 'w2', 50), at('api', 'a2', 'a3', 10)], traffic('a2', 'a3', 10), 'a2/a3@10'],
  ] as const)('%s', (_what, s, service, members, own, carried) => {
    expect(split(releaseMemberTraffic({ state: s, service, members, traffic: own }))).toBe(carried);
  });
});
