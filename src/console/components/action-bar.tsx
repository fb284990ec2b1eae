import { useState } from 'react';
import type { Operation, ServiceView } from '../../api/contract/index.js';
import { actionsOf, type Action } from '../actions.js';
import { ConfirmDialog } from './confirm-dialog.js';

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
