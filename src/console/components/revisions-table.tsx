import type { RevisionLiveView } from '../../api/contract/index.js';
import { noReadyInstanceSentence } from '../../view/no-ready-instance.js';
import { formatLatency, formatPercent, formatRate, formatRps } from '../format.js';

/**
 * Each revision's part and live figures, one row each (scrolls sideways on its own on a phone),
 * then, for a revision with no ready instance, where its requests went instead.
 */
export function RevisionsTable(props: { revisions: readonly RevisionLiveView[]; showMember?: boolean }) {
  const notes = props.revisions.flatMap((r) => {
    const sentence = noReadyInstanceSentence(r);
    return sentence ? [{ key: `${r.member ?? ''}/${r.name}`, sentence: r.member ? `${r.member} ${sentence}` : sentence }] : [];
  });
  return (
    <>
    <div className="table-wrap">
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Revision</th>
            {props.showMember && <th scope="col">Member</th>}
            <th scope="col">Role</th>
            <th scope="col" className="num">Weight</th>
            <th scope="col" className="num">Ready</th>
            <th scope="col" className="num">Req/s</th>
            <th scope="col" className="num">Errors</th>
            <th scope="col" className="num">p99</th>
          </tr>
        </thead>
        <tbody>
          {props.revisions.map((r) => (
            <tr key={`${r.member ?? ''}/${r.name}`}>
              <th scope="row"><span className="rev-no">#{r.number}</span> <code>{r.name}</code></th>
              {props.showMember && <td>{r.member ?? ''}</td>}
              <td><span className={`role role-${r.role}`}>{r.role}</span></td>
              <td className="num">{formatPercent(r.weight)}</td>
              <td className={`num ${r.ready < r.total ? 'warn' : ''}`}>{r.ready}/{r.total}</td>
              <td className="num">{formatRps(r.requestsPerSecond)}</td>
              <td className={`num ${r.errorRate >= 0.01 ? 'bad' : ''}`}>{formatRate(r.errorRate)}</td>
              <td className="num">{formatLatency(r.p99Ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
    {notes.length > 0 && (
      <ul className="revision-notes" aria-label="Revisions without a ready instance">
        {notes.map((n) => <li key={n.key} className="warn">{n.sentence}</li>)}
      </ul>
    )}
    </>
  );
}
