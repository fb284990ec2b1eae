/**
 * Header and mirror routes set by hand: what a person sees in the traffic decision after
 * `graylane set header-route` / `set mirror-route`, and every refusal, one row per case.
 */
import { describe, expect, it } from 'vitest';
import { Sim } from '../../test/fixtures/engine/simulated-world.js';
import type { RolloutSpec } from '../documents/schema.js';
import { applyOperation } from './operations.js';
import { OperationError, type RolloutStatus, type RouterAbilities, type UserOperation } from './types.js';

const spec: RolloutSpec = { replicas: 2, strategy: { canary: { trafficRouting: {}, steps: [{ setWeight: 0 }, { pause: {} }, { setWeight: 50 }, { pause: {} }] } } };
const beta = [{ headerName: 'x-beta', headerValue: { exact: '1' } }];
const cookie = [{ cookieName: 'beta', cookieValue: { exact: 'yes' } }];
const mirrorAll = [{ path: { prefix: '/' } }];
const everything: RouterAbilities = { name: 'the built-in router', capabilities: new Set(['weight', 'headerRoute', 'cookieRoute', 'mirror']), managedRoutesRequired: false };
const nginx: RouterAbilities = { name: 'the ingress-nginx provider', capabilities: new Set(['weight', 'headerRoute', 'cookieRoute']), managedRoutesRequired: true };
const selector: RouterAbilities = { name: 'a Service selector', capabilities: new Set(['weight', 'preview']), managedRoutesRequired: true };

function atPause(s: RolloutSpec = spec): Sim {
  const sim = new Sim(s, 'v1');
  sim.until((x) => x.status?.phase === 'Healthy');
  sim.desiredRevision = 'v2';
  return sim.until((x) => x.status?.currentStepIndex === 1 && x.status.phase === 'Paused');
}

function operate(sim: Sim, operation: UserOperation, router?: RouterAbilities, s: RolloutSpec = spec): RolloutStatus {
  const result = applyOperation({ spec: s, status: sim.status!, operation, now: sim.now, router });
  sim.status = result.status;
  sim.apply(result.actions);
  return result.status;
}

describe('routes set by hand, during a canary', () => {
  it('a header route goes into the next traffic decision and holds across steps', () => {
    const sim = atPause();
    operate(sim, { type: 'setHeaderRoute', name: 'beta', match: beta }, everything);
    expect(sim.events('ManualHeaderRoute')).toEqual(['ManualHeaderRoute: Header route beta set by hand; holds until a step of that name changes it, or the rollout ends']);
    sim.tick();
    expect(sim.traffic?.headerRoutes).toEqual([{ name: 'beta', match: beta }]);
    expect(sim.traffic?.canaryWeight).toBe(0);
    sim.operate({ type: 'promote' });
    sim.until((x) => x.status?.currentStepIndex === 3);
    expect(sim.traffic?.headerRoutes).toEqual([{ name: 'beta', match: beta }]);
  });

  it.each([
    ['a header route of the same name replaces it', { type: 'setHeaderRoute', name: 'beta', match: cookie }, [{ name: 'beta', match: cookie }], []],
    ['a header route of another name joins it', { type: 'setHeaderRoute', name: 'gamma', match: cookie }, [{ name: 'beta', match: beta }, { name: 'gamma', match: cookie }], []],
    ['a header route without a match removes it', { type: 'setHeaderRoute', name: 'beta' }, [], []],
    ['a mirror route defaults to 100%', { type: 'setMirrorRoute', name: 'shadow', match: mirrorAll }, [{ name: 'beta', match: beta }], [{ name: 'shadow', match: mirrorAll, percentage: 100 }]],
    ['a mirror route keeps its percentage', { type: 'setMirrorRoute', name: 'shadow', percentage: 25, match: [{ method: { exact: 'GET' } }] }, [{ name: 'beta', match: beta }], [{ name: 'shadow', match: [{ method: { exact: 'GET' } }], percentage: 25 }]],
  ] as [string, UserOperation, unknown, unknown][])('%s', (_name, operation, headerRoutes, mirrorRoutes) => {
    const sim = atPause();
    operate(sim, { type: 'setHeaderRoute', name: 'beta', match: beta }, everything);
    operate(sim, operation, everything);
    sim.tick();
    expect({ headerRoutes: sim.traffic?.headerRoutes, mirrorRoutes: sim.traffic?.mirrorRoutes }).toEqual({ headerRoutes, mirrorRoutes });
  });

  it('removing a mirror route set by hand takes it out of the decision', () => {
    const sim = atPause();
    operate(sim, { type: 'setMirrorRoute', name: 'shadow', match: mirrorAll }, everything);
    operate(sim, { type: 'setMirrorRoute', name: 'shadow' }, everything);
    sim.tick();
    expect(sim.traffic?.mirrorRoutes).toEqual([]);
    expect(sim.events('ManualMirrorRoute').at(-1)).toBe('ManualMirrorRoute: Mirror route shadow removed by hand; holds until a step of that name changes it, or the rollout ends');
  });

  it.each([
    ['abort', (sim: Sim) => sim.operate({ type: 'abort' })],
    ['the end of the rollout', (sim: Sim) => { sim.operate({ type: 'promoteFull' }); sim.until((x) => x.status?.stableRevision === 'v2'); }],
  ])('%s removes every route set by hand', (_name, end) => {
    const sim = atPause();
    operate(sim, { type: 'setHeaderRoute', name: 'beta', match: beta }, everything);
    operate(sim, { type: 'setMirrorRoute', name: 'shadow', match: mirrorAll }, everything);
    end(sim);
    sim.tick();
    expect({ header: sim.status?.headerRoutes, mirror: sim.status?.mirrorRoutes, h: sim.traffic?.headerRoutes, m: sim.traffic?.mirrorRoutes }).toEqual({ header: [], mirror: [], h: [], m: [] });
  });

  it('a later step of the same name replaces the route set by hand (as a step before it would)', () => {
    const s: RolloutSpec = { replicas: 2, strategy: { canary: { trafficRouting: {}, steps: [{ setWeight: 0 }, { pause: {} }, { setHeaderRoute: { name: 'beta', match: cookie } }, { pause: {} }] } } };
    const sim = atPause(s);
    operate(sim, { type: 'setHeaderRoute', name: 'beta', match: beta }, everything, s);
    sim.operate({ type: 'promote' });
    sim.until((x) => x.status?.currentStepIndex === 3);
    expect(sim.traffic?.headerRoutes).toEqual([{ name: 'beta', match: cookie }]);
  });
});

describe('refusals', () => {
  const managed: RolloutSpec = { replicas: 2, strategy: { canary: { trafficRouting: { managedRoutes: [{ name: 'beta' }] }, steps: [{ setWeight: 0 }, { pause: {} }] } } };
  const noRouting: RolloutSpec = { replicas: 2, strategy: { canary: { steps: [{ setWeight: 0 }, { pause: {} }] } } };
  it.each([
    ['an empty name', atPause, { type: 'setHeaderRoute', name: ' ', match: beta }, everything, spec, 'InvalidRoute', 'route name: must not be empty'],
    ['a header match with a name and no value', atPause, { type: 'setHeaderRoute', name: 'beta', match: [{ headerName: 'x-beta' }] }, everything, spec, 'InvalidRoute', 'match[0]: needs headerName and headerValue, or cookieName and cookieValue'],
    ['a match on a header and a cookie at once', atPause, { type: 'setHeaderRoute', name: 'beta', match: [{ ...beta[0], ...cookie[0] }] }, everything, spec, 'InvalidRoute', 'match[0]: needs headerName and headerValue, or cookieName and cookieValue'],
    ['a value with two kinds of match', atPause, { type: 'setHeaderRoute', name: 'beta', match: [{ headerName: 'x', headerValue: { exact: '1', prefix: '1' } }] }, everything, spec, 'InvalidRoute', 'match[0].headerValue: needs exactly one of exact, prefix, regex'],
    ['a regex that is not one', atPause, { type: 'setHeaderRoute', name: 'beta', match: [{ headerName: 'x', headerValue: { regex: '(' } }] }, everything, spec, 'InvalidRoute', 'match[0].headerValue: regex "(" is not a valid regular expression'],
    ['a mirror percentage of 0', atPause, { type: 'setMirrorRoute', name: 'shadow', percentage: 0, match: mirrorAll }, everything, spec, 'InvalidRoute', 'percentage: must be a whole number from 1 to 100, got 0'],
    ['a mirror percentage over 100', atPause, { type: 'setMirrorRoute', name: 'shadow', percentage: 101, match: mirrorAll }, everything, spec, 'InvalidRoute', 'percentage: must be a whole number from 1 to 100, got 101'],
    ['a mirror percentage without a match', atPause, { type: 'setMirrorRoute', name: 'shadow', percentage: 10 }, everything, spec, 'InvalidRoute', 'a mirror route with a percentage needs a match (a path prefix or a method); to remove the route, give neither'],
    ['an empty mirror match', atPause, { type: 'setMirrorRoute', name: 'shadow', match: [{}] }, everything, spec, 'InvalidRoute', 'match[0]: needs a method, a path or headers to match'],
    ['removing a route that is not there', atPause, { type: 'setHeaderRoute', name: 'nope' }, everything, spec, 'NoSuchRoute', 'no header route "nope" is in force (none is)'],
    ['a mirror on a router that cannot mirror', atPause, { type: 'setMirrorRoute', name: 'beta', match: mirrorAll }, nginx, managed, 'RouterCannot', 'setMirrorRoute needs a traffic router that can mirror traffic; the ingress-nginx provider cannot'],
    ['a cookie route on a router that cannot', atPause, { type: 'setHeaderRoute', name: 'beta', match: cookie }, { ...nginx, capabilities: new Set(['headerRoute']) }, managed, 'RouterCannot', 'setHeaderRoute needs a traffic router that can route by cookie; the ingress-nginx provider cannot'],
    ['a name not in managedRoutes', atPause, { type: 'setHeaderRoute', name: 'gamma', match: beta }, everything, managed, 'UnmanagedRoute', 'route "gamma" is not listed in trafficRouting.managedRoutes (listed: beta); add it there first'],
    ['no managedRoutes where the router needs them', atPause, { type: 'setHeaderRoute', name: 'beta', match: beta }, nginx, spec, 'UnmanagedRoute', 'route "beta" is not listed in trafficRouting.managedRoutes (none is listed); add it there first'],
    ['a canary without trafficRouting (a Service selector)', atPause, { type: 'setHeaderRoute', name: 'beta', match: beta }, selector, noRouting, 'NeedsTrafficRouting', 'a header route needs a canary with steps and trafficRouting (a Service selector routes whole revisions, not requests one by one)'],
    ['no rollout in progress', (s: RolloutSpec) => new Sim(s, 'v1').until((x) => x.status?.phase === 'Healthy'), { type: 'setMirrorRoute', name: 'shadow', match: mirrorAll }, everything, spec, 'NotInProgress', 'nothing to mirror: no rollout in progress (revision v1 is stable)'],
    ['an aborted rollout', (s: RolloutSpec) => { const sim = atPause(s); sim.operate({ type: 'abort' }); return sim; }, { type: 'setHeaderRoute', name: 'beta', match: beta }, everything, spec, 'Aborted', 'the rollout is aborted: retry it first'],
  ] as [string, (s: RolloutSpec) => Sim, UserOperation, RouterAbilities, RolloutSpec, string, string][])('%s', (_name, prepare, operation, router, s, code, message) => {
    const sim = prepare(s);
    const before = structuredClone(sim.status);
    let caught: unknown;
    try { operate(sim, operation, router, s); } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(OperationError);
    expect({ code: (caught as OperationError).code, message: (caught as OperationError).message }).toEqual({ code, message });
    expect(sim.status).toEqual(before);
  });

  it('a blue-green rollout has no header routes to set', () => {
    const bg: RolloutSpec = { replicas: 1, strategy: { blueGreen: {} } };
    const sim = new Sim(bg, 'v1').until((x) => x.status?.phase === 'Healthy');
    expect(() => applyOperation({ spec: bg, status: sim.status!, operation: { type: 'setHeaderRoute', name: 'beta', match: beta }, now: sim.now })).toThrow(/needs a canary with steps and trafficRouting/);
  });
});
