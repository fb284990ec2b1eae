/**
 * The traffic provider conformance suite: every provider, set up in front of a data plane with a
 * stable revision `v1` and a canary revision `v2` of one service, must route as decided (weights
 * within a statistical tolerance, header and cookie routes, mirroring, a blue-green preview) and
 * say so through `verify`; refuse what it cannot do, both at validate time (an issue) and at apply
 * time (TrafficCapabilityError); take the service away idempotently; and take an equal decision
 * again without harm. Each provider's own test file calls {@link describeTrafficProviderConformance};
 * a case that cannot apply to a provider is skipped with its reason in the test's name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrafficInForce } from '../engine/index.js';
import type { RolloutSpec } from '../documents/schema.js';
import { TrafficCapabilityError, type TrafficCapability, type TrafficDecision, type TrafficProvider } from './traffic-provider.js';

/** What a provider's test file hands the suite. */
export interface TrafficConformanceSetup {
  /** The provider under test, for service `shop` in namespace `default`. */
  provider: TrafficProvider;
  /** The endpoints of `shop`: instances of `v1` and `v2`, ready. */
  endpoints: TrafficDecision['endpoints'];
  /** Headers a tester sends to reach a blue-green preview (providers with `preview`). */
  previewHeaders: Record<string, string>;
  /**
   * Sends `count` requests to `shop`, one client each (no cookies carried over), and counts the
   * revision that answered each (`none` when nothing routes the service).
   */
  send(request: { count: number; headers?: Record<string, string> }): Promise<Record<string, number>>;
  /** Requests `revision` received so far, mirrored copies included; waits up to 5 s for at least `atLeast`. */
  received(revision: string, atLeast: number): Promise<number>;
  teardown(): Promise<void>;
}

const NONE: TrafficInForce = { stableRevision: 'v1', canaryRevision: 'v2', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] };
const ROUTED: RolloutSpec = { strategy: { canary: { steps: [{ setWeight: 30 }], trafficRouting: { builtin: {}, managedRoutes: [{ name: 'r' }] } } } };
const headerStep: RolloutSpec = { strategy: { canary: { ...ROUTED.strategy.canary, steps: [{ setHeaderRoute: { name: 'r', match: [{ headerName: 'x-canary', headerValue: { exact: 'yes' } }] } }] } } };
const cookieStep: RolloutSpec = { strategy: { canary: { ...ROUTED.strategy.canary, steps: [{ setHeaderRoute: { name: 'r', match: [{ cookieName: 'beta', cookieValue: { exact: 'on' } }] } }] } } };
const mirrorStep: RolloutSpec = { strategy: { canary: { ...ROUTED.strategy.canary, steps: [{ setMirrorRoute: { name: 'r', percentage: 100, match: [{ path: { prefix: '/' } }] } }] } } };
const preview: RolloutSpec = { strategy: { blueGreen: { allowPreviewHeader: true } } };

/** The suite's cases, for {@link TrafficConformanceOptions.skip}. */
export type TrafficConformanceCase =
  | 'weight' | 'weightBounds' | 'pending' | 'idempotent' | 'headerRoute' | 'cookieRoute' | 'mirror' | 'preview' | 'remove' | 'releases';

/** How a provider runs the suite. */
export interface TrafficConformanceOptions {
  /** Cases that do not apply to the provider, each with the reason (shown in the skipped test's name). */
  skip?: Partial<Record<TrafficConformanceCase, string>> | undefined;
  /** Adds the provider's own settings to each spec the suite decides with (e.g. the Services it points). */
  spec?: ((spec: RolloutSpec) => RolloutSpec) | undefined;
}

/** Share (percent) of `counts` that `revision` served. */
function share(counts: Record<string, number>, revision: string): number {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return total === 0 ? 0 : (100 * (counts[revision] ?? 0)) / total;
}

/** Runs the conformance suite against one provider. */
export function describeTrafficProviderConformance(name: string, setup: () => Promise<TrafficConformanceSetup>, options: TrafficConformanceOptions = {}): void {
  const withSettings = options.spec ?? ((spec: RolloutSpec) => spec);
  const test = (id: TrafficConformanceCase, title: string, fn: () => Promise<void> | void): void => {
    const reason = options.skip?.[id];
    if (reason === undefined) it(title, fn);
    else it.skip(`${title} (skipped: ${reason})`, fn);
  };
  describe(`traffic provider conformance: ${name}`, () => {
    let s: TrafficConformanceSetup;
    beforeAll(async () => {
      s = await setup();
    }, 60_000);
    afterAll(async () => { await s?.teardown(); }, 30_000);

    const decision = (traffic: Partial<TrafficInForce>, spec: RolloutSpec = ROUTED): TrafficDecision =>
      ({ namespace: 'default', service: 'shop', spec: withSettings(spec), pathPrefix: '/', traffic: { ...NONE, ...traffic }, endpoints: s.endpoints });
    const has = (c: TrafficCapability) => s.provider.capabilities.has(c);
    const expectedVerification = () => (has('verify') ? 'verified' : 'unsupported');

    test('weight', 'applies a weight: the canary serves its share, within a statistical tolerance, and the decision is verified', async () => {
      const d = decision({ canaryWeight: 30 });
      await s.provider.apply(d);
      expect(await s.provider.verify(d)).toBe(expectedVerification());
      // 400 requests at 30 %: a standard deviation of 2.3 points; 10 points is over four of them.
      expect(share(await s.send({ count: 400 }), 'v2')).toBeGreaterThan(20);
      expect(share(await s.send({ count: 400 }), 'v2')).toBeLessThan(40);
    });

    test('weightBounds', 'weight 0 and 100 are all stable and all canary', async () => {
      await s.provider.apply(decision({ canaryWeight: 0 }));
      expect(await s.send({ count: 50 })).toEqual({ v1: 50 });
      await s.provider.apply(decision({ canaryWeight: 100 }));
      expect(await s.send({ count: 50 })).toEqual({ v2: 50 });
    });

    test('pending', 'a decision not applied yet is pending (or unsupported without verify)', async () => {
      await s.provider.apply(decision({ canaryWeight: 10 }));
      expect(await s.provider.verify(decision({ canaryWeight: 20 }))).toBe(has('verify') ? 'pending' : 'unsupported');
    });

    test('idempotent', 'applying an equal decision again changes nothing', async () => {
      const d = decision({ canaryWeight: 100 });
      await s.provider.apply(d);
      await s.provider.apply(structuredClone(d));
      expect(await s.provider.verify(d)).toBe(expectedVerification());
      expect(await s.send({ count: 20 })).toEqual({ v2: 20 });
    });

    test('headerRoute', 'a header route sends matching requests to the canary, if declared; else validate and apply refuse it', async () => {
      const d = decision({ headerRoutes: [{ name: 'r', match: [{ headerName: 'x-canary', headerValue: { exact: 'yes' } }] }] }, headerStep);
      if (!has('headerRoute')) {
        expect(s.provider.validate(withSettings(headerStep)).map((i) => i.path)).toEqual([['strategy', 'canary', 'steps', 0, 'setHeaderRoute']]);
        await expect(s.provider.apply(d)).rejects.toThrow(TrafficCapabilityError);
        return;
      }
      expect(s.provider.validate(withSettings(headerStep))).toEqual([]);
      await s.provider.apply(d);
      expect(await s.send({ count: 20, headers: { 'x-canary': 'yes' } })).toEqual({ v2: 20 });
      expect(await s.send({ count: 20, headers: { 'x-canary': 'no' } })).toEqual({ v1: 20 });
    });

    test('cookieRoute', 'a cookie route sends clients carrying the cookie to the canary, if declared; else validate and apply refuse it', async () => {
      const d = decision({ headerRoutes: [{ name: 'r', match: [{ cookieName: 'beta', cookieValue: { exact: 'on' } }] }] }, cookieStep);
      if (!has('cookieRoute')) {
        expect(s.provider.validate(withSettings(cookieStep)).map((i) => i.path)).toEqual([['strategy', 'canary', 'steps', 0, 'setHeaderRoute']]);
        await expect(s.provider.apply(d)).rejects.toThrow(TrafficCapabilityError);
        return;
      }
      expect(s.provider.validate(withSettings(cookieStep))).toEqual([]);
      await s.provider.apply(d);
      expect(await s.send({ count: 20, headers: { cookie: 'theme=dark; beta=on' } })).toEqual({ v2: 20 });
      expect(await s.send({ count: 20, headers: { cookie: 'beta=off' } })).toEqual({ v1: 20 });
    });

    test('mirror', 'a mirror route copies requests to the canary while stable answers, if declared; else validate and apply refuse it', async () => {
      const d = decision({ mirrorRoutes: [{ name: 'r', percentage: 100, match: [{ path: { prefix: '/' } }] }] }, mirrorStep);
      if (!has('mirror')) {
        expect(s.provider.validate(withSettings(mirrorStep)).map((i) => i.path)).toEqual([['strategy', 'canary', 'steps', 0, 'setMirrorRoute']]);
        await expect(s.provider.apply(d)).rejects.toThrow(TrafficCapabilityError);
        return;
      }
      expect(s.provider.validate(withSettings(mirrorStep))).toEqual([]);
      await s.provider.apply(d);
      const before = await s.received('v2', 0);
      expect(await s.send({ count: 20 })).toEqual({ v1: 20 });
      expect(await s.received('v2', before + 20)).toBe(before + 20);
    });

    test('preview', 'a blue-green preview is reached by its headers before promotion, if declared; else validate and apply refuse it', async () => {
      const d = decision({ canaryRevision: undefined, previewRevision: 'v2' }, preview);
      if (!has('preview')) {
        expect(s.provider.validate(withSettings(preview)).map((i) => i.path)).toEqual([['strategy', 'blueGreen', 'allowPreviewHeader']]);
        await expect(s.provider.apply(d)).rejects.toThrow(TrafficCapabilityError);
        return;
      }
      expect(s.provider.validate(withSettings(preview))).toEqual([]);
      await s.provider.apply(d);
      expect(await s.send({ count: 10, headers: s.previewHeaders })).toEqual({ v2: 10 });
      expect(await s.send({ count: 10 })).toEqual({ v1: 10 });
    });

    test('remove', 'removeManagedRoutes takes the service away, twice without harm', async () => {
      const d = decision({ canaryWeight: 50 });
      await s.provider.apply(d);
      await s.provider.removeManagedRoutes({ namespace: 'default', service: 'shop' });
      await s.provider.removeManagedRoutes({ namespace: 'default', service: 'shop' });
      expect(await s.send({ count: 5 })).toEqual({ none: 5 });
      expect(await s.provider.verify(d)).toBe(has('verify') ? 'pending' : 'unsupported');
      // And it comes back with the next decision.
      await s.provider.apply(decision({ canaryWeight: 0 }));
      expect(await s.send({ count: 5 })).toEqual({ v1: 5 });
    });

    test('releases', 'declares applyReleases only when it declares releasePinning (a cluster provider pins through the decision instead)', () => {
      if (typeof s.provider.applyReleases === 'function') expect(has('releasePinning')).toBe(true);
      if (!has('releasePinning')) expect(typeof s.provider.applyReleases).toBe('undefined');
    });
  });
}
