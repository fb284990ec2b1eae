import type { AnalysisRunView, GuardVerdictView } from '../../api/contract/index.js';
import { formatClock } from '../format.js';

/** The guard's verdict and each analysis run with its measurements. */
export function AnalysisSection(props: { guard: GuardVerdictView | undefined; runs: readonly AnalysisRunView[] }) {
  return (
    <section className="section" aria-labelledby="analysis-title">
      <h2 id="analysis-title">Analysis</h2>
      {props.guard ? (
        <p className={`verdict verdict-${props.guard.verdict.toLowerCase()}`}><strong>Guard: {props.guard.verdict}</strong> · {props.guard.reason}</p>
      ) : <p className="muted">The guard is not judging a canary now.</p>}
      {props.runs.length === 0 && <p className="muted">No analysis runs.</p>}
      {props.runs.map((run) => (
        <details key={run.id} className="run" open={run.phase === 'Running'}>
          <summary><span className="run-name">{run.name}</span> <span className={`badge run-${run.phase.toLowerCase()}`}>{run.phase}</span> <span className="muted">{formatClock(run.startedAtMs)}{run.message ? ` · ${run.message}` : ''}</span></summary>
          {run.metrics.map((m) => (
            <div key={m.name} className="table-wrap">
              <table className="table table-compact">
                <caption>{m.name} · {m.phase}</caption>
                <thead><tr><th scope="col">At</th><th scope="col">Phase</th><th scope="col">Value</th><th scope="col">Message</th></tr></thead>
                <tbody>
                  {m.measurements.map((x) => (
                    <tr key={x.atMs}><td>{formatClock(x.atMs)}</td><td>{x.phase}</td><td><code>{JSON.stringify(x.value)}</code></td><td>{x.message ?? ''}</td></tr>
                  ))}
                </tbody>
              </table>
            </div>
          ))}
        </details>
      ))}
    </section>
  );
}
