import type { MemberView, Operation, ReleaseTrafficView } from '../../api/contract/index.js';
import { client } from '../api.js';
import { ActionBar } from '../components/action-bar.js';
import { AnalysisSection } from '../components/analysis-section.js';
import { EventsSection } from '../components/events-section.js';
import { Link } from '../components/link.js';
import { PhaseBadge, stateLine } from '../components/phase-badge.js';
import { RevisionsTable } from '../components/revisions-table.js';
import { SkewBlock } from '../components/skew-block.js';
import { splitOf, WeightBar } from '../components/weight-bar.js';
import { WeightSlider } from '../components/weight-slider.js';
import { formatDuration, formatPercent } from '../format.js';
import { pathOf } from '../router.js';
import { useOperation } from '../use-operation.js';
import { useServiceData } from '../use-service-data.js';
import { Banners, Charts, Crumbs, PageLoading, RolloutHead } from './rollout-page.js';

/** A release: its members side by side, the clients pinned to each side, and the same controls as a rollout. */
export function ReleasePage(props: { name: string }) {
  const data = useServiceData(props.name, { withPlan: false });
  const { view } = data;
  const op = useOperation(data.adopt);
  if (!view) return <PageLoading name={props.name} loadError={data.loadError} />;
  const run = (o: Operation) => void op.run(() => client.operate(view.name, o, { expectedVersion: view.version }));
  const canaries = view.revisions.filter((r) => r.role === 'canary');
  const weight = view.releaseTraffic?.weight ?? canaries[0]?.weight ?? 0;
  const inProgress = view.step > 0 && !view.terminal;
  return (
    <>
      <Crumbs />
      <RolloutHead view={view} />
      <ActionBar view={view} busy={op.busy} onRun={run} />
      {op.error && <p className="error" role="alert">{op.error}</p>}
      <Banners view={view} />
      <section className="section" aria-labelledby="members-title">
        <h2 id="members-title">Members</h2>
        <ul className="members">
          {(view.members ?? []).map((m) => <MemberCard key={m.name} member={m} />)}
        </ul>
      </section>
      <div className="grid-2">
        <section className="card" aria-labelledby="pinned-title">
          <h2 id="pinned-title">Pinned clients</h2>
          {view.releaseTraffic ? <PinnedClients traffic={view.releaseTraffic} /> : <p className="muted">No release traffic counted yet.</p>}
        </section>
        <section className="card" aria-labelledby="traffic-title">
          <h2 id="traffic-title">Traffic</h2>
          <WeightBar revisions={splitOf(view)} />
          {inProgress && canaries.length > 0 && <WeightSlider weight={weight} revisions={view.revisions} busy={op.busy} onSet={(percent) => run({ type: 'setWeight', percent })} />}
        </section>
      </div>
      <SkewBlock view={view} />
      <section className="section" aria-labelledby="revisions-title">
        <h2 id="revisions-title">Revisions</h2>
        <RevisionsTable revisions={view.revisions} showMember />
      </section>
      <Charts data={data} colourBy="index" />
      <AnalysisSection guard={view.guard} runs={data.runs} />
      <EventsSection events={data.events} />
    </>
  );
}

function MemberCard({ member }: { member: MemberView }) {
  const ready = member.revisions.reduce((n, r) => n + r.ready, 0);
  const total = member.revisions.reduce((n, r) => n + r.total, 0);
  return (
    <li className="card member">
      <div className="card-top">
        <Link to={pathOf(member.name, 'service')} className="card-name">{member.name}</Link>
        <PhaseBadge phase={member.phase} aborted={member.aborted} />
      </div>
      <div className="card-facts"><span>{stateLine(member)}</span><span>ready {ready}/{total}</span></div>
      <WeightBar revisions={member.revisions} />
      <p className="card-message">{member.message}</p>
    </li>
  );
}

const count = (n: number) => n.toLocaleString('en-US');

function PinnedClients({ traffic }: { traffic: ReleaseTrafficView }) {
  const share = (s: { stable: number; canary: number }) => (s.stable + s.canary > 0 ? formatPercent((s.canary / (s.stable + s.canary)) * 100) : '–');
  return (
    <>
      <p className="muted small">Over the last {formatDuration(traffic.windowMs)}; a client stays on the side that served its first page.</p>
      <div className="table-wrap"><table className="table">
        <thead><tr><th scope="col" /><th scope="col" className="num">Stable</th><th scope="col" className="num">Canary</th><th scope="col" className="num">Canary share</th></tr></thead>
        <tbody>
          <tr><th scope="row">Page loads</th><td className="num">{count(traffic.pageLoads.stable)}</td><td className="num">{count(traffic.pageLoads.canary)}</td><td className="num">{share(traffic.pageLoads)}</td></tr>
          <tr><th scope="row">Requests</th><td className="num">{count(traffic.requests.stable)}</td><td className="num">{count(traffic.requests.canary)}</td><td className="num">{share(traffic.requests)}</td></tr>
        </tbody>
      </table></div>
    </>
  );
}
