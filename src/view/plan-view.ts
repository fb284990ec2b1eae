/**
 * A rollout's plan as the console shows it: `graylane plan`'s rows with "a person decides" as null
 * (JSON has no Infinity), and the time left from the start of the step the rollout is at. Pure.
 */
import type { RolloutPlan } from '../engine/index.js';
import type { PlanView } from '../api/contract/console.js';

const finite = (ms: number): number | null => (Number.isFinite(ms) ? ms : null);
const minus = (a: number, b: number): number | null => (Number.isFinite(a) && Number.isFinite(b) ? Math.max(0, a - b) : null);

/** Where the rollout is: its 1-based step (0 when none is in progress) and whether it is done or aborted. */
export interface PlanPosition {
  /** 1-based current step of a canary; 0 when nothing is in progress. */
  step: number;
  /** Nothing is left to do: done, or aborted. */
  terminal: boolean;
}

/** The plan in the API's shape, with `remaining` for a rollout in progress. */
export function planViewOf(plan: RolloutPlan, position: PlanPosition): PlanView {
  const view: PlanView = {
    strategy: plan.strategy,
    rows: plan.rows.map((r) => ({
      step: r.stepIndex === undefined ? null : r.stepIndex + 1,
      description: r.description,
      canaryWeight: r.canaryWeight,
      stableWeight: r.stableWeight,
      earliestFinishMs: finite(r.earliestFinishMs),
      latestFinishMs: finite(r.latestFinishMs),
      worstCaseRollbackMs: finite(r.worstCaseRollbackMs),
    })),
    earliestFinishMs: finite(plan.earliestFinishMs),
    latestFinishMs: finite(plan.latestFinishMs),
    worstCaseRollbackMs: finite(plan.worstCaseRollbackMs),
    rollbackNote: plan.rollbackNote,
    notes: plan.notes,
  };
  if (position.terminal || position.step <= 0) return view;
  // The step before the current one is done: what is left is the rest of the plan after it.
  const previous = plan.rows.find((r) => r.stepIndex === position.step - 2);
  const doneEarliest = previous?.earliestFinishMs ?? 0;
  const doneLatest = previous?.latestFinishMs ?? 0;
  view.remaining = { earliestMs: minus(plan.earliestFinishMs, doneEarliest), latestMs: minus(plan.latestFinishMs, doneLatest) };
  return view;
}
