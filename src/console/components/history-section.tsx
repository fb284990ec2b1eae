import { useState } from 'react';
import type { RevisionView } from '../../api/contract/index.js';
import { formatAgo } from '../format.js';
import { ConfirmDialog } from './confirm-dialog.js';

/** The service's revisions, each earlier one with a way back to it (after a confirmation). */
export function HistorySection(props: { name: string; revisions: readonly RevisionView[]; nowMs: number; busy: boolean; onUndo: (toRevision: number) => void }) {
  const [asking, setAsking] = useState<RevisionView | undefined>(undefined);
  return (
    <section className="section" aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      {props.revisions.length === 0 ? <p className="muted">No revisions yet.</p> : (
        <ul className="history">
          {props.revisions.map((r) => {
            const current = r.role === 'stable' || r.role === 'canary' || r.role === 'active' || r.role === 'preview';
            return (
              <li key={r.number}>
                <span className="rev-no">#{r.number}</span>
                <code>{r.name}</code>
                <span className={`role role-${r.role}`}>{r.role}</span>
                <span className="history-summary">{r.summary}</span>
                <span className="muted small">{formatAgo(r.createdAtMs, props.nowMs)}</span>
                {!current && <button type="button" className="btn btn-small" disabled={props.busy} onClick={() => setAsking(r)}>Undo to revision {r.number}</button>}
              </li>
            );
          })}
        </ul>
      )}
      {asking && (
        <ConfirmDialog
          title={`Undo to revision ${asking.number}?`}
          sentence={`${props.name} rolls back to revision ${asking.number} (${asking.name}) through its strategy, as a new rollout.`}
          onCancel={() => setAsking(undefined)}
          onConfirm={() => { setAsking(undefined); props.onUndo(asking.number); }}
        />
      )}
    </section>
  );
}
