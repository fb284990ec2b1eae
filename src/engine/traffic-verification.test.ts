/**
 * The engine waits on traffic verification (`Observed.trafficVerified`), as Argo waits for weight
 * verification: while the decision in force is not on the data plane, no canary step completes
 * and no timed pause runs its clock; a step that changes the weight lets the next step start only
 * once the new weight is verified. Absent, steps go on as they always did.
 */
import { describe, expect, it } from 'vitest';
import type { RolloutSpec } from '../documents/schema.js';
import { reconcile } from './reconcile.js';
import type { EngineResult, RolloutStatus } from './types.js';

const spec: RolloutSpec = {
  replicas: 2,
  strategy: { canary: { trafficRouting: { builtin: {} }, steps: [{ setWeight: 20 }, { pause: { duration: '3s' } }, { setWeight: 60 }, { pause: {} }] } },
};

/** A world where instances are ready at once; `verified(pass)` is what the controller reports at each pass of the rollout. */
function rollout(verified: (pass: number) => boolean | undefined, passes: number): { trace: string[]; last: EngineResult } {
  let status: RolloutStatus | undefined;
  let now = 0;
  const replicas: Record<string, number> = {};
  const pass = (desired: string, trafficVerified: boolean | undefined): EngineResult => {
    const observed = {
      revisions: Object.entries(replicas).map(([name, n]) => ({ name, replicas: n, readyReplicas: n })),
      ...(trafficVerified === undefined ? {} : { trafficVerified }),
    };
    const result = reconcile({ spec, status, observed, now, desiredRevision: desired });
    status = result.status;
    for (const a of result.actions) if (a.type === 'scale') replicas[a.revision] = a.replicas;
    now += 1000;
    return result;
  };
  for (let i = 0; i < 5; i++) pass('v1', undefined);
  const trace: string[] = [];
  let last = pass('v2', verified(0));
  trace.push(`${last.status.currentStepIndex}@${last.status.weights.canary}`);
  for (let i = 1; i < passes; i++) {
    last = pass('v2', verified(i));
    trace.push(`${last.status.currentStepIndex}@${last.status.weights.canary}`);
  }
  return { trace, last };
}

describe('traffic verification holds canary steps', () => {
  // Each trace entry is `step index@canary weight` after one pass, a second apart.
  it.each([
    ['absent (as before): the pause starts with the weight', () => undefined, ['0@0', '1@20', '1@20', '1@20', '2@20', '3@60', '3@60', '3@60', '3@60', '3@60']],
    ['always verified: the pause starts a pass after the new weight', () => true, ['0@0', '1@20', '1@20', '1@20', '1@20', '2@20', '3@60', '3@60', '3@60', '3@60']],
    ['pending for three passes: the step completes once verified', (p: number) => p >= 3, ['0@0', '0@20', '0@20', '1@20', '1@20', '1@20', '2@20', '3@60', '3@60', '3@60']],
    ['pending once the pause runs: its clock waits', (p: number) => p < 4, ['0@0', '1@20', '1@20', '1@20', '1@20', '1@20', '1@20', '1@20', '1@20', '1@20']],
  ] as const)('%s', (_name, verified, expected) => {
    expect(rollout(verified, 10).trace).toEqual(expected);
  });

  it('looks again within a second while held', () => {
    expect(rollout(() => false, 3).last.requeueAfterMs).toBe(1000);
  });
});
