import { useEffect, useState } from 'react';
import type { ServiceView } from '../../api/contract/index.js';
import { client } from '../api.js';
import { useConsole } from '../console-context.js';
import { Link } from '../components/link.js';
import { PhaseBadge } from '../components/phase-badge.js';
import { splitOf, WeightBar } from '../components/weight-bar.js';
import { pathOf } from '../router.js';

/** Every service and release at a glance, kept current by the live stream. */
export function OverviewPage() {
  const { feed, fail } = useConsole();
  const [views, setViews] = useState<ServiceView[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);

  useEffect(() => {
    let live = true;
    client.list().then(
      (r) => { if (live) setViews(r.services); },
      (err: unknown) => { if (live) setError(fail(err)); },
    );
    const stop = feed.subscribe((m) => {
      if (m.type !== 'status') return;
      setViews((old) => {
        if (!old) return old;
        const i = old.findIndex((v) => v.name === m.data.name);
        if (i < 0) return [...old, m.data].sort((a, b) => a.name.localeCompare(b.name));
        if ((old[i]!.version ?? 0) > (m.data.version ?? 0)) return old;
        const next = old.slice();
        next[i] = m.data;
        return next;
      });
    });
    return () => { live = false; stop(); };
  }, [feed, fail]);

  const attention = views?.filter((v) => v.phase === 'Paused' || v.phase === 'Degraded').length ?? 0;
  return (
    <>
      <div className="page-head">
        <h1>Rollouts</h1>
        {views && <p className="muted">{views.length} {views.length === 1 ? 'service' : 'services and releases'}{attention > 0 ? ` · ${attention} waiting for attention` : ''}</p>}
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {!views && !error && <p className="muted" aria-busy="true">Loading…</p>}
      {views && views.length === 0 && <p className="empty">Nothing is running yet. Apply an App file with <code>graylane apply</code>.</p>}
      {views && views.length > 0 && (
        <ul className="rollout-list" aria-label="Rollouts">
          {views.map((v) => <RolloutCard key={v.name} view={v} />)}
        </ul>
      )}
    </>
  );
}

function RolloutCard({ view }: { view: ServiceView }) {
  const ready = view.revisions.reduce((n, r) => n + r.ready, 0);
  const total = view.revisions.reduce((n, r) => n + r.total, 0);
  return (
    <li className={`card rollout-card phase-edge-${view.phase.toLowerCase()}`}>
      <div className="card-top">
        <Link to={pathOf(view.name, view.kind)} className="card-name">{view.name}</Link>
        {view.kind === 'release' && <span className="tag">release</span>}
        <PhaseBadge phase={view.phase} aborted={view.aborted} />
      </div>
      <div className="card-facts">
        <span>{view.strategy === 'blueGreen' ? 'blue-green' : view.strategy}</span>
        {view.steps > 0 && <span>step {view.step}/{view.steps}</span>}
        <span>ready {ready}/{total}</span>
        {view.members && <span>{view.members.length} members</span>}
      </div>
      <WeightBar revisions={splitOf(view)} />
      <p className="card-message">{view.message}</p>
    </li>
  );
}
