/** Which operations a person may ask of a rollout in its state, and which ones ask first. Pure. */
import type { Operation, ServiceView } from '../api/contract/index.js';

/** An action button: its operation and, for the ones hard to take back, the sentence to confirm. */
export interface Action {
  /** The button's name. */
  label: 'Promote' | 'Promote full' | 'Pause' | 'Resume' | 'Abort' | 'Retry' | 'Restart';
  /** What it sends. */
  op: Operation;
  /** The sentence of the confirmation dialog; absent: sent at once. */
  confirm?: string;
  /** How it looks. */
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
