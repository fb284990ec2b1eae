import type { RevisionLiveView, ServiceView } from '../../api/contract/index.js';
import { formatWeights } from '../format.js';

/** The traffic split as a stacked bar and the same in words (`stable 80% · canary 20%`). */
export function WeightBar(props: { revisions: readonly Pick<RevisionLiveView, 'role' | 'weight' | 'name'>[] }) {
  const shown = props.revisions.filter((r) => r.weight > 0);
  return (
    <div className="weights">
      <div className="weight-bar" aria-hidden="true">
        {shown.map((r) => <span key={r.name} className={`seg role-${r.role}`} style={{ width: `${r.weight}%` }} />)}
      </div>
      <span className="weight-text">{formatWeights(props.revisions)}</span>
    </div>
  );
}

/**
 * The split to show for a view: its revisions' weights, or for a release the one weight its
 * members share (its revisions list every member's, which would add up to more than 100%).
 */
export function splitOf(view: ServiceView): Pick<RevisionLiveView, 'role' | 'weight' | 'name'>[] {
  if (view.kind !== 'release') return view.revisions;
  const first = view.members?.[0]?.revisions ?? view.revisions;
  const weight = view.releaseTraffic?.weight ?? first.filter((r) => r.role === 'canary').reduce((n, r) => n + r.weight, 0);
  return [{ name: 'stable', role: 'stable', weight: 100 - weight }, { name: 'canary', role: 'canary', weight }];
}
