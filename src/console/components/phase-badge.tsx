import type { ServiceView } from '../../api/contract/index.js';

/** A rollout's phase as a coloured word (the colour repeats the word; it never replaces it). */
export function PhaseBadge(props: { phase: ServiceView['phase']; aborted?: boolean }) {
  const label = props.aborted && props.phase === 'Degraded' ? 'Aborted' : props.phase;
  return <span className={`badge phase-${props.phase.toLowerCase()}`}>{label}</span>;
}

/** `Paused · step 2/4`, or the phase alone when no step is in progress. */
export function stateLine(view: Pick<ServiceView, 'phase' | 'step' | 'steps'>): string {
  return view.steps > 0 && view.step > 0 ? `${view.phase} · step ${view.step}/${view.steps}` : view.phase;
}
