import type { RevisionLiveView } from '../../api/contract/index.js';
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
