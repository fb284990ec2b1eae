/**
 * Whether a rollout is over, decided once for everyone: `graylane status --wait`, the API and the
 * console read `done` and `terminal` from the view instead of each guessing from the phase.
 */
import type { RevisionLiveView, ServiceView } from './view-model.js';

/** `done` and `terminal` of a view. */
export interface Outcome {
  /** Finished well: healthy (or completed, old instances still going), every revision with all or none of the traffic. */
  done: boolean;
  /** Nothing moves on without a person: done, or degraded (aborted or failed, traffic on stable). */
  terminal: boolean;
}

/**
 * The outcome of a view from its phase and its revisions' weights. Completed only waits for old
 * instances to go, so it counts as done once no revision holds a share of the traffic.
 */
export function outcomeOf(view: { phase: ServiceView['phase']; revisions: Pick<RevisionLiveView, 'weight'>[] }): Outcome {
  const done = (view.phase === 'Healthy' || view.phase === 'Completed') && view.revisions.every((r) => r.weight === 0 || r.weight === 100);
  return { done, terminal: done || view.phase === 'Degraded' };
}
