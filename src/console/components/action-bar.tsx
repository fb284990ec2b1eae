import { useState } from 'react';
import type { Operation, ServiceView } from '../../api/contract/index.js';
import { ConfirmDialog } from './confirm-dialog.js';

/** An action button: its operation and, for the ones hard to take back, the sentence to confirm. */
interface Action {
  label: 'Promote' | 'Promote full' | 'Pause' | 'Resume' | 'Abort' | 'Retry' | 'Restart';
  op: Operation;
  confirm?: string;
  tone?: 'primary' | 'danger';
}

/** The operations that make sense for a view now, in the order a person reaches for them. */
export function actionsOf(view: ServiceView): Action[] {
  const kind = view.kind === 'release' ? 'release' : 'rollout';
  const inProgress = view.step > 0 && !view.done && !view.terminal;
  const out: Action[] = [];
  if (inProgress) {
    out.push({ label: 'Promote', op: { type: 'promote' }, tone: 'primary' });
    out.push({ label: 'Promote full', op: { type: 'promote', full: true }, confirm: `Skip every remaining step of ${view.name} and send all traffic to the new revision now.` });
    if (view.phase === 'Paused') out.push({ label: 'Resume', op: { type: 'resume' } });
    else out.push({ label: 'Pause', op: { type: 'pause' } });
  }
  if (inProgress && !view.aborted) {
    out.push({ label: 'Abort', op: { type: 'abort' }, tone: 'danger', confirm: `Abort the ${kind} of ${view.name}: all traffic goes back to the stable revision at once.` });
  }
  if (view.aborted || (view.phase === 'Degraded' && view.step > 0)) out.push({ label: 'Retry', op: { type: 'retry' }, tone: 'primary' });
  if (!inProgress && view.kind === 'service') {
    out.push({ label: 'Restart', op: { type: 'restart' }, confirm: `Restart the instances of ${view.name}'s stable revision one by one; traffic keeps flowing to the ready ones.` });
  }
  return out;
}

/** The action buttons; the hard ones ask first. */
export function ActionBar(props: { view: ServiceView; busy: boolean; onRun: (op: Operation) => void }) {
  const [asking, setAsking] = useState<Action | undefined>(undefined);
  const actions = actionsOf(props.view);
  if (actions.length === 0) return null;
  return (
    <div className="actions" role="group" aria-label="Actions">
      {actions.map((a) => (
        <button
          key={a.label}
          type="button"
          className={`btn ${a.tone === 'primary' ? 'btn-primary' : a.tone === 'danger' ? 'btn-danger' : ''}`}
          disabled={props.busy}
          onClick={() => (a.confirm ? setAsking(a) : props.onRun(a.op))}
        >
          {a.label}
        </button>
      ))}
      {asking && (
        <ConfirmDialogFor action={asking} onCancel={() => setAsking(undefined)} onConfirm={() => { setAsking(undefined); props.onRun(asking.op); }} />
      )}
    </div>
  );
}

function ConfirmDialogFor(props: { action: Action; onConfirm: () => void; onCancel: () => void }) {
  return <ConfirmDialog title={`${props.action.label}?`} sentence={props.action.confirm ?? ''} danger={props.action.tone === 'danger'} onConfirm={props.onConfirm} onCancel={props.onCancel} />;
}
