/** A new revision that crash-loops fails its rollout at once, with the crash as the reason, and stops. */
import { describe, expect, it } from 'vitest';
import { Sim } from '../../test/fixtures/engine/simulated-world.js';
import type { RolloutSpec } from '../documents/schema.js';
import { CRASH_LOOP_RESTARTS } from './context.js';
import { reconcile } from './reconcile.js';
import type { Observed } from './types.js';

const canary: RolloutSpec = { replicas: 2, strategy: { canary: { trafficRouting: {}, steps: [{ setWeight: 50 }, { pause: {} }] } } };
const blueGreen: RolloutSpec = { replicas: 2, strategy: { blueGreen: { autoPromotionEnabled: false } } };
const rolling: RolloutSpec = { replicas: 2, strategy: { canary: {} } };

/** v2 being rolled out over a healthy v1; v2's instances never become ready. */
function v2Starting(spec: RolloutSpec): Sim {
  const sim = new Sim(spec, 'v1');
  sim.until((s) => s.status?.phase === 'Healthy');
  sim.broken.add('v2');
  sim.desiredRevision = 'v2';
  return sim.until((s) => s.replicasOf('v2') > 0);
}

/** What the controller reports once v2's instance restarted `restarts` times without becoming ready. */
function crashing(sim: Sim, restarts: number): Observed {
  const observed = sim.observed();
  return {
    ...observed,
    revisions: observed.revisions.map((r) => (r.name === 'v2' ? { ...r, restartsSinceReady: restarts, lastError: 'process exited with code 2 before becoming ready; last output: | fatal: configuration missing' } : r)),
  };
}

describe('a crash-looping new revision', () => {
  it.each([['canary behind the router', canary], ['blue-green preview', blueGreen], ['rolling update', rolling]])('%s: aborted at once with the crash as the reason, its instances scaled to 0, traffic on stable', (_name, spec) => {
    const sim = v2Starting(spec);
    const r = reconcile({ spec, status: sim.status, observed: crashing(sim, CRASH_LOOP_RESTARTS), now: sim.now + 1_000, desiredRevision: 'v2' });
    expect(r.status).toMatchObject({ phase: 'Degraded', abort: true, reason: 'CrashLoopBackOff' });
    expect(r.status.message).toBe('revision v2 crash-loops: an instance restarted 3 times without becoming ready; last: process exited with code 2 before becoming ready; last output: | fatal: configuration missing');
    expect(r.actions).toContainEqual({ type: 'scale', revision: 'v2', replicas: 0 });
    expect(r.actions.filter((a) => a.type === 'event').map((a) => a.reason)).toEqual(['CrashLoopBackOff', 'RolloutAborted']);
    const traffic = r.actions.find((a) => a.type === 'setTraffic');
    expect(traffic).toMatchObject({ canaryWeight: 0 });
    // The next pass keeps it down: no instance kept warm to crash on.
    const next = reconcile({ spec, status: r.status, observed: { ...sim.observed(), revisions: sim.observed().revisions.map((x) => (x.name === 'v2' ? { ...x, replicas: 0, readyReplicas: 0 } : x)) }, now: sim.now + 2_000, desiredRevision: 'v2' });
    expect(next.status).toMatchObject({ phase: 'Degraded', reason: 'CrashLoopBackOff' });
    expect(next.actions.filter((a) => a.type === 'scale' && a.revision === 'v2' && a.replicas > 0)).toEqual([]);
  });

  it('fewer restarts than the limit: still progressing, nothing aborted', () => {
    const sim = v2Starting(canary);
    const r = reconcile({ spec: canary, status: sim.status, observed: crashing(sim, CRASH_LOOP_RESTARTS - 1), now: sim.now + 1_000, desiredRevision: 'v2' });
    expect(r.status).toMatchObject({ phase: 'Progressing', abort: false });
  });

  it('a crash-looping stable revision has nothing to go back to: not aborted by this rule', () => {
    const sim = new Sim(canary, 'v1');
    sim.until((s) => s.status?.phase === 'Healthy');
    const observed = sim.observed();
    const r = reconcile({ spec: canary, status: sim.status, observed: { ...observed, revisions: observed.revisions.map((x) => ({ ...x, restartsSinceReady: 5 })) }, now: sim.now + 1_000, desiredRevision: 'v1' });
    expect(r.status.abort).toBe(false);
  });
});
