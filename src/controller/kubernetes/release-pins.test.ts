import { describe, expect, it } from 'vitest';
import { matchesQuery, type ObjectCache } from '../../kube/object-cache.js';
import type { ReleaseObject } from '../../state/kubernetes/kubernetes-release-state.js';
import { initialStatus } from '../../engine/context.js';
import type { RolloutStatus, TrafficInForce } from '../../engine/index.js';
import { releasePinOf, releaseTrafficOf } from './release-pins.js';

const cache = (objects: ReleaseObject[]): ObjectCache<ReleaseObject> => ({
  get: (namespace, name) => objects.find((o) => o.metadata?.namespace === namespace && o.metadata.name === name),
  list: (query) => objects.filter((o) => matchesQuery(o, query)),
  onChange: () => () => undefined,
  synced: () => true,
});

const NOW = 1_000_000;
const release = (over: { name?: string; pinning?: Record<string, unknown> | undefined; phase?: string; members?: string[]; abortGraceUntilMs?: number; skewUntilMs?: number } = {}): ReleaseObject => ({
  apiVersion: 'graylane.dev/v1alpha1', kind: 'Release', metadata: { namespace: 'shop-ns', name: over.name ?? 'shop' },
  spec: { services: ['web', 'api'], ...(over.pinning === undefined ? {} : { pinning: over.pinning }), strategy: { canary: { steps: [{ setWeight: 50 }] } } },
  status: { graylane: { version: 3, state: { name: 'shop', generation: 'g7', phase: over.phase ?? 'progressing', stepIndex: 0, members: (over.members ?? ['web', 'api']).map((service) => ({ service, from: 'a', to: 'b' })), secret: 's', message: '', ...(over.abortGraceUntilMs === undefined ? {} : { abortGraceUntilMs: over.abortGraceUntilMs }), ...(over.skewUntilMs === undefined ? {} : { skewUntilMs: over.skewUntilMs }) } } },
});

describe('releasePinOf', () => {
  it('a member of a progressing attempt with pinning carries the release\'s names, defaults filled in', () => {
    expect(releasePinOf(cache([release({ pinning: {} })]), 'shop-ns', 'api', NOW)).toEqual({
      release: 'shop', generation: 'g7', cookie: 'graylane-release', header: 'x-graylane-release', allowForceHeader: false, phase: 'progressing',
    });
    expect(releasePinOf(cache([release({ pinning: { cookie: 'v', header: 'x-v', allowForceHeader: true } })]), 'shop-ns', 'web', NOW)).toMatchObject({ cookie: 'v', header: 'x-v', allowForceHeader: true });
  });

  it('no pins without pinning, outside progress, for a member the attempt leaves alone, in another namespace, or when two Releases name the service', () => {
    expect(releasePinOf(cache([release()]), 'shop-ns', 'web', NOW)).toBeUndefined();
    expect(releasePinOf(cache([release({ pinning: {}, phase: 'promoted' })]), 'shop-ns', 'web', NOW)).toBeUndefined();
    expect(releasePinOf(cache([release({ pinning: {}, phase: 'aborted' })]), 'shop-ns', 'web', NOW)).toBeUndefined();
    expect(releasePinOf(cache([release({ pinning: {}, members: ['api'] })]), 'shop-ns', 'web', NOW)).toBeUndefined();
    expect(releasePinOf(cache([release({ pinning: {} })]), 'other', 'web', NOW)).toBeUndefined();
    expect(releasePinOf(cache([release({ pinning: {} }), release({ name: 'shop2', pinning: {} })]), 'shop-ns', 'web', NOW)).toBeUndefined();
  });

  it('after an abort the canary\'s pins stay through the grace (phase aborted), then go', () => {
    const aborted = cache([release({ pinning: {}, phase: 'aborted', abortGraceUntilMs: NOW + 5_000 })]);
    expect(releasePinOf(aborted, 'shop-ns', 'web', NOW + 4_999)).toMatchObject({ phase: 'aborted', generation: 'g7' });
    expect(releasePinOf(aborted, 'shop-ns', 'web', NOW + 5_000)).toBeUndefined();
  });

  it('after promotion the stable pins stay through the skew window (phase promoted), then go', () => {
    const promoted = cache([release({ pinning: {}, phase: 'promoted', skewUntilMs: NOW + 60_000 })]);
    expect(releasePinOf(promoted, 'shop-ns', 'api', NOW + 59_999)).toMatchObject({ phase: 'promoted', generation: 'g7' });
    expect(releasePinOf(promoted, 'shop-ns', 'api', NOW + 60_000)).toBeUndefined();
  });
});

describe('releaseTrafficOf', () => {
  const own: TrafficInForce = { stableRevision: 'a', canaryRevision: 'b', canaryWeight: 50, headerRoutes: [], mirrorRoutes: [] };
  const at = (weight: number): RolloutStatus => ({ ...initialStatus(0), stableRevision: 'a', canaryRevision: 'b', weights: { canary: weight, stable: 100 - weight } });
  const carried = (object: ReleaseObject, weights: Record<string, number>) =>
    releaseTrafficOf({ releases: cache([object]), namespace: 'shop-ns', service: 'web', traffic: own, statusOf: (s) => at(weights[s] ?? 0), nowMs: NOW });

  it('while pins are handed out, a member sends nobody to its canary before every member\'s canary serves', () => {
    expect(carried(release({ pinning: {} }), { web: 50, api: 0 }).canaryWeight).toBe(0);
    expect(carried(release({ pinning: {} }), { web: 50, api: 50 }).canaryWeight).toBe(50);
  });

  it('without pins in force (no pinning, in the abort grace, promoted past the skew window) a member carries its own decision', () => {
    expect(carried(release(), { web: 50, api: 0 })).toBe(own);
    expect(carried(release({ pinning: {}, phase: 'aborted', abortGraceUntilMs: NOW + 5_000 }), { web: 50, api: 0 })).toBe(own);
    expect(carried(release({ pinning: {}, phase: 'promoted', skewUntilMs: NOW }), { web: 50, api: 0 })).toBe(own);
  });

  it('promoted, in the skew window: a member done keeps its old revision for the stable pins and sends every other client to its new one', () => {
    const done: TrafficInForce = { stableRevision: 'b', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] };
    const doneStatus: RolloutStatus = { ...initialStatus(0), stableRevision: 'b', canaryRevision: 'b', weights: { canary: 0, stable: 100 }, scaleDownDeadlines: [{ revision: 'a', atMs: NOW + 120_000 }] };
    const routed = releaseTrafficOf({ releases: cache([release({ pinning: {}, phase: 'promoted', skewUntilMs: NOW + 60_000 })]), namespace: 'shop-ns', service: 'web', traffic: done, statusOf: () => doneStatus, nowMs: NOW });
    expect(routed).toEqual({ ...done, stableRevision: 'a', canaryRevision: 'b', canaryWeight: 100 });
  });
});
