import type { ServiceView } from '../../api/contract/index.js';
import type { PlanView } from '../../api/contract/console.js';
import { formatDuration, formatEta } from '../format.js';

/** Where the rollout is going: the plan's steps (done, current, to come), the time left and the worst-case rollback. */
export function StepPipeline(props: { view: ServiceView; plan: PlanView | undefined }) {
  const { view, plan } = props;
  if (!plan) return <p className="muted" aria-busy="true">Loading the plan…</p>;
  const steps = plan.rows.filter((r) => r.step !== null);
  return (
    <div className="pipeline">
      <ol className="steps" aria-label="Steps">
        {steps.map((r) => {
          const state = view.done || (r.step ?? 0) < view.step ? 'done' : r.step === view.step && !view.terminal ? 'current' : r.step === view.step ? 'stopped' : 'todo';
          return (
            <li key={r.step} className={`step step-${state}`} aria-current={state === 'current' || state === 'stopped' ? 'step' : undefined}>
              <span className="step-dot" aria-hidden="true">{state === 'done' ? '✓' : r.step}</span>
              <span className="step-body">
                <span className="step-desc">{r.description}</span>
                <span className="step-meta">canary {r.canaryWeight}%{r.latestFinishMs !== null && r.latestFinishMs > 0 ? ` · done by +${formatDuration(r.latestFinishMs)}` : ''}</span>
              </span>
            </li>
          );
        })}
      </ol>
      <p className="plan-facts">
        <span className="eta">{etaOf(view, plan)}</span>
        <span>worst-case rollback {plan.worstCaseRollbackMs === null ? 'waits for a person' : formatDuration(plan.worstCaseRollbackMs)}</span>
      </p>
    </div>
  );
}

function etaOf(view: ServiceView, plan: PlanView): string {
  if (view.done) return 'done';
  if (view.aborted) return 'aborted: stable serves everything';
  if (plan.remaining) return formatEta(plan.remaining.earliestMs, plan.remaining.latestMs);
  return view.step > 0 ? formatEta(plan.earliestFinishMs, plan.latestFinishMs) : 'nothing in progress';
}
