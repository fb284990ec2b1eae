import { describe, expect, it } from 'vitest';
import { planRollout } from '../engine/index.js';
import type { RolloutSpec } from '../documents/schema.js';
import { planViewOf } from './plan-view.js';

const spec = (steps: unknown[]): RolloutSpec => ({
  replicas: 2,
  strategy: { canary: { steps, trafficRouting: { graylane: {} } } },
} as unknown as RolloutSpec);

const timed = planRollout({ spec: spec([{ setWeight: 20 }, { pause: { duration: '60s' } }, { setWeight: 50 }, { pause: { duration: '30s' } }]) });
const manual = planRollout({ spec: spec([{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }]) });

describe('planViewOf', () => {
  it.each([
    // plan, step, terminal, remaining earliest, remaining latest
    [timed, 0, false, undefined, undefined],
    [timed, 1, false, 90_000, 90_000],
    [timed, 2, false, 90_000, 90_000],
    [timed, 3, false, 30_000, 30_000],
    [timed, 4, false, 30_000, 30_000],
    [timed, 3, true, undefined, undefined],
    [manual, 2, false, 0, null],
    [manual, 3, false, 0, null],
  ] as const)('step %#: remaining from the start of the current step', (plan, step, terminal, earliest, latest) => {
    const view = planViewOf(plan, { step, terminal });
    if (earliest === undefined) expect(view.remaining).toBeUndefined();
    else expect(view.remaining).toEqual({ earliestMs: earliest, latestMs: latest });
  });

  it('says "a person decides" as null, never Infinity, so the view survives JSON', () => {
    const view = planViewOf(manual, { step: 1, terminal: false });
    expect(view.rows.find((r) => r.step === 2)?.latestFinishMs).toBeNull();
    expect(JSON.parse(JSON.stringify(view))).toEqual(view);
  });
});
