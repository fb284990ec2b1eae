/**
 * The conformance suite every StatePort adapter runs (SQLite, in-memory, Kubernetes): a function
 * that takes a factory, so each adapter's own test file calls it with a fresh port per test.
 */
import { describe, expect, it } from 'vitest';
import type { RolloutStatus, TrafficInForce } from '../engine/index.js';
import type { ReleaseState } from '../engine/release/releases.js';
import { StateConflictError, type NewEvent, type ObjectKey, type StatePort } from './state-port.js';

/** What a factory hands the suite. */
export interface StatePortHarness {
  /** A fresh port with nothing in it. */
  state: StatePort;
  /** The events recorded with commits of one rollout, oldest first, read by the adapter's own means. */
  recordedEvents(key: ObjectKey): NewEvent[] | Promise<NewEvent[]>;
  /** Releases what the factory opened. */
  close?(): void | Promise<void>;
}

/** A status with every optional field set, so that a round trip that drops one is seen. */
export function fullStatus(overrides: Partial<RolloutStatus> = {}): RolloutStatus {
  return {
    phase: 'Paused', reason: 'CanaryPauseStep', message: 'paused at step 2', stableRevision: 'aaa', canaryRevision: 'bbb',
    currentStepIndex: 2, abort: false, abortedAtMs: 5, promoteFull: false, rollbackWithinWindow: true,
    pauseConditions: [{ reason: 'CanaryPauseStep', startedAtMs: 1000 }], controllerPause: true,
    weights: { canary: 20, stable: 80 },
    headerRoutes: [{ name: 'testers', match: [{ headerName: 'x-tester', headerValue: { exact: '1' } }] }],
    mirrorRoutes: [{ name: 'shadow', percentage: 10, match: [{ path: { prefix: '/api' }, headers: { 'x-a': { regex: 'b.*' } } }] }],
    manualWeight: 25, blueGreen: { switchedAtMs: 900 }, scaleDownDeadlines: [{ revision: 'zzz', atMs: 3000 }],
    progress: { lastProgressMs: 1000, fingerprint: 'bbb:2', deadlineExceeded: false, clockStopped: true },
    analysisRuns: [{ name: 'bbb.0.step.1', kind: 'step', revision: 'bbb', stepIndex: 1, phase: 'Inconclusive', message: 'm', acknowledged: true }],
    attempt: 1, evidence: { attempt: 1, stepIndex: 2, baselineRequests: 40, waitingSinceMs: 1200 },
    evidenceWarning: 'promoted without evidence: the canary served 3 requests',
    ...overrides,
  };
}

/** A traffic decision with every optional field set. */
export function fullTraffic(overrides: Partial<TrafficInForce> = {}): TrafficInForce {
  return {
    stableRevision: 'aaa', canaryRevision: 'bbb', canaryWeight: 20, previewRevision: 'bbb',
    headerRoutes: [{ name: 'testers', match: [{ cookieName: 'beta', cookieValue: { prefix: 'y' } }] }],
    mirrorRoutes: [{ name: 'shadow', percentage: 5, match: [{ method: { exact: 'GET' } }] }],
    ...overrides,
  };
}

/** A release state with every optional field set. */
export function fullRelease(overrides: Partial<ReleaseState> = {}): ReleaseState {
  return {
    name: 'shop', generation: 'g1', phase: 'progressing', stepIndex: 1, gateOpenedAtMs: 50, analysisRun: 'shop.g1.1',
    gatePromoted: true, paused: false, members: [{ service: 'web', from: 'w1', to: 'w2' }, { service: 'api', from: 'a1', to: 'a2' }],
    skewUntilMs: 9000, secret: 's3cret', message: 'at gate 1',
    ...overrides,
  };
}

const key = (name: string, namespace = 'default'): ObjectKey => ({ namespace, name });
const event = (reason: string, atMs = 1): NewEvent => ({ atMs, level: 'info', reason, message: `${reason} happened` });

/** Options of {@link statePortConformance}. */
export interface ConformanceOptions {
  /** The adapter keeps no releases yet: why (the release cases are skipped, naming it). */
  releasesUnsupported?: string | undefined;
}

/** Runs the StatePort conformance suite against ports made by `open`. */
export function statePortConformance(name: string, open: () => StatePortHarness | Promise<StatePortHarness>, options: ConformanceOptions = {}): void {
  const noReleases = options.releasesUnsupported;
  const releases = noReleases === undefined;
  const releaseCase = (title: string) => (releases ? title : `${title} (skipped: ${noReleases})`);
  describe(`state port conformance: ${name}`, () => {
    async function withPort(fn: (h: StatePortHarness) => Promise<void>): Promise<void> {
      const h = await open();
      try {
        await fn(h);
      } finally {
        await h.close?.();
      }
    }

    it('a record that was never committed loads as undefined', () => withPort(async ({ state }) => {
      expect(await state.load(key('api'))).toBeUndefined();
      if (releases) expect(await state.loadRelease(key('shop'))).toBeUndefined();
    }));

    it('status and traffic come back deep-equal, optional fields included', () => withPort(async ({ state }) => {
      const result = await state.commit(key('api'), { status: fullStatus(), traffic: fullTraffic() }, 0);
      expect(result).toEqual({ version: 1, eventIds: [] });
      expect(await state.load(key('api'))).toEqual({ key: key('api'), status: fullStatus(), traffic: fullTraffic(), version: 1 });
    }));

    it('a commit without traffic keeps the traffic in force; a record never given any has none', () => withPort(async ({ state }) => {
      await state.commit(key('api'), { status: fullStatus(), traffic: fullTraffic() }, 0);
      await state.commit(key('api'), { status: fullStatus({ phase: 'Progressing' }) }, 1);
      expect(await state.load(key('api'))).toMatchObject({ status: { phase: 'Progressing' }, traffic: fullTraffic(), version: 2 });
      await state.commit(key('web'), { status: fullStatus() }, 0);
      expect((await state.load(key('web')))?.traffic).toBeUndefined();
    }));

    it('what load returns is a copy: changing it changes nothing stored', () => withPort(async ({ state }) => {
      await state.commit(key('api'), { status: fullStatus(), traffic: fullTraffic() }, 0);
      const loaded = (await state.load(key('api')))!;
      loaded.status.weights.canary = 99;
      loaded.traffic!.canaryWeight = 99;
      expect(await state.load(key('api'))).toMatchObject({ status: { weights: { canary: 20 } }, traffic: { canaryWeight: 20 } });
    }));

    it('the version goes up by one with every commit', () => withPort(async ({ state }) => {
      const versions: number[] = [];
      for (let v = 0; v < 3; v++) {
        versions.push((await state.commit(key('api'), { status: fullStatus({ currentStepIndex: v }) }, v)).version);
        expect((await state.load(key('api')))?.version).toBe(v + 1);
      }
      expect(versions).toEqual([1, 2, 3]);
    }));

    it('events are recorded with their commit, in order, with increasing ids', () => withPort(async (h) => {
      const first = await h.state.commit(key('api'), { status: fullStatus(), events: [event('StepCompleted', 10), event('Paused', 11)] }, 0);
      const second = await h.state.commit(key('api'), { status: fullStatus(), events: [event('Resumed', 12)] }, 1);
      expect(first.eventIds).toHaveLength(2);
      expect(second.eventIds).toHaveLength(1);
      expect([...first.eventIds, ...second.eventIds]).toEqual([...first.eventIds, ...second.eventIds].sort((a, b) => a - b));
      expect(new Set([...first.eventIds, ...second.eventIds]).size).toBe(3);
      expect(await h.recordedEvents(key('api'))).toEqual([event('StepCompleted', 10), event('Paused', 11), event('Resumed', 12)]);
    }));

    it.each([
      ['behind', 1],
      ['ahead', 5],
    ])('a commit at a version %s of the record is refused with StateConflictError and writes nothing', (_n, stale) => withPort(async (h) => {
      await h.state.commit(key('api'), { status: fullStatus(), traffic: fullTraffic(), events: [event('First')] }, 0);
      await h.state.commit(key('api'), { status: fullStatus({ currentStepIndex: 3 }) }, 1);
      const refused = h.state.commit(key('api'), { status: fullStatus({ phase: 'Degraded' }), traffic: fullTraffic({ canaryWeight: 0 }), events: [event('Lost')] }, stale);
      await expect(refused).rejects.toBeInstanceOf(StateConflictError);
      await expect(refused).rejects.toMatchObject({ code: 'StateConflict', key: key('api'), expectedVersion: stale, actualVersion: 2 });
      await expect(refused).rejects.toThrow(`default/api changed meanwhile (version ${stale} expected, 2 found)`);
      expect(await h.state.load(key('api'))).toEqual({ key: key('api'), status: fullStatus({ currentStepIndex: 3 }), traffic: fullTraffic(), version: 2 });
      expect((await h.recordedEvents(key('api'))).map((e) => e.reason)).toEqual(['First']);
    }));

    it('a commit at version 0 (create) on a record that exists is refused', () => withPort(async ({ state }) => {
      await state.commit(key('api'), { status: fullStatus() }, 0);
      await expect(state.commit(key('api'), { status: fullStatus({ phase: 'Healthy' }) }, 0)).rejects.toMatchObject({ code: 'StateConflict', expectedVersion: 0, actualVersion: 1 });
      expect(await state.load(key('api'))).toMatchObject({ status: { phase: 'Paused' }, version: 1 });
    }));

    it('a commit to a record that does not exist at a version above 0 is refused and creates nothing', () => withPort(async ({ state }) => {
      await expect(state.commit(key('api'), { status: fullStatus() }, 3)).rejects.toMatchObject({ code: 'StateConflict', expectedVersion: 3, actualVersion: 0 });
      expect(await state.load(key('api'))).toBeUndefined();
    }));

    it.skipIf(!releases)(releaseCase('a release state comes back deep-equal and its version goes up by one per commit'), () => withPort(async ({ state }) => {
      expect(await state.commitRelease(key('shop'), fullRelease(), 0)).toEqual({ version: 1, eventIds: [] });
      expect(await state.loadRelease(key('shop'))).toEqual({ key: key('shop'), state: fullRelease(), version: 1 });
      expect((await state.commitRelease(key('shop'), fullRelease({ phase: 'promoted', stepIndex: 2 }), 1)).version).toBe(2);
      expect(await state.loadRelease(key('shop'))).toEqual({ key: key('shop'), state: fullRelease({ phase: 'promoted', stepIndex: 2 }), version: 2 });
    }));

    it.skipIf(!releases)(releaseCase('a release commit at a stale version (or 0 on one that exists) is refused and writes nothing'), () => withPort(async ({ state }) => {
      await state.commitRelease(key('shop'), fullRelease(), 0);
      await state.commitRelease(key('shop'), fullRelease({ stepIndex: 2 }), 1);
      for (const stale of [0, 1, 3]) {
        const refused = state.commitRelease(key('shop'), fullRelease({ phase: 'aborted' }), stale);
        await expect(refused).rejects.toBeInstanceOf(StateConflictError);
        await expect(refused).rejects.toMatchObject({ key: key('shop'), expectedVersion: stale, actualVersion: 2 });
      }
      expect(await state.loadRelease(key('shop'))).toEqual({ key: key('shop'), state: fullRelease({ stepIndex: 2 }), version: 2 });
    }));

    it('the same name in two namespaces is two records, with their own versions and events', () => withPort(async (h) => {
      const a = key('api', 'default');
      const b = key('api', 'team-b');
      await h.state.commit(a, { status: fullStatus({ phase: 'Healthy' }), traffic: fullTraffic({ canaryWeight: 0 }), events: [event('InDefault')] }, 0);
      await h.state.commit(a, { status: fullStatus({ phase: 'Healthy' }) }, 1);
      await h.state.commit(b, { status: fullStatus({ phase: 'Degraded' }), events: [event('InTeamB')] }, 0);
      expect(await h.state.load(a)).toEqual({ key: a, status: fullStatus({ phase: 'Healthy' }), traffic: fullTraffic({ canaryWeight: 0 }), version: 2 });
      expect(await h.state.load(b)).toEqual({ key: b, status: fullStatus({ phase: 'Degraded' }), version: 1 });
      expect((await h.recordedEvents(a)).map((e) => e.reason)).toEqual(['InDefault']);
      expect((await h.recordedEvents(b)).map((e) => e.reason)).toEqual(['InTeamB']);
      if (!releases) return;
      await h.state.commitRelease(key('shop', 'team-b'), fullRelease({ message: 'b' }), 0);
      expect(await h.state.loadRelease(key('shop'))).toBeUndefined();
      expect(await h.state.loadRelease(key('shop', 'team-b'))).toMatchObject({ state: { message: 'b' }, version: 1 });
    }));

    it('a refusal arrives as a rejection, not as a throw of the call', () => withPort(async ({ state }) => {
      await state.commit(key('api'), { status: fullStatus() }, 0);
      let pending: Promise<unknown> | undefined;
      expect(() => { pending = state.commit(key('api'), { status: fullStatus() }, 7); }).not.toThrow();
      await expect(pending).rejects.toBeInstanceOf(StateConflictError);
    }));

    it('of two commits decided on the same version and racing, one lands and the other is refused', () => withPort(async (h) => {
      await h.state.commit(key('api'), { status: fullStatus() }, 0);
      const outcomes = await Promise.allSettled([
        h.state.commit(key('api'), { status: fullStatus({ message: 'one' }), events: [event('One')] }, 1),
        h.state.commit(key('api'), { status: fullStatus({ message: 'two' }), events: [event('Two')] }, 1),
      ]);
      const won = outcomes.findIndex((o) => o.status === 'fulfilled');
      const lost = outcomes.find((o) => o.status === 'rejected');
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(lost?.reason).toBeInstanceOf(StateConflictError);
      const winner = won === 0 ? 'one' : 'two';
      expect(await h.state.load(key('api'))).toMatchObject({ status: { message: winner }, version: 2 });
      expect((await h.recordedEvents(key('api'))).map((e) => e.reason)).toEqual([won === 0 ? 'One' : 'Two']);
    }));

    it('commits awaited one after another each see the one before', () => withPort(async ({ state }) => {
      let version = 0;
      for (const phase of ['Progressing', 'Paused', 'Progressing', 'Healthy'] as const) {
        const before = await state.load(key('api'));
        expect(before?.version ?? 0).toBe(version);
        version = (await state.commit(key('api'), { status: fullStatus({ phase }) }, version)).version;
      }
      expect(await state.load(key('api'))).toMatchObject({ status: { phase: 'Healthy' }, version: 4 });
    }));
  });
}
