import { useCallback, useEffect, useState } from 'react';
import type { Operation, ServiceView } from '../../api/contract/index.js';
import { client } from '../api.js';
import { ActionBar } from '../components/action-bar.js';
import { AnalysisSection } from '../components/analysis-section.js';
import { EventsSection } from '../components/events-section.js';
import { HeaderRouteEditor } from '../components/header-route-editor.js';
import { HistorySection } from '../components/history-section.js';
import { Link } from '../components/link.js';
import { MetricChart } from '../components/metric-chart.js';
import { MirrorEditor } from '../components/mirror-editor.js';
import { PhaseBadge, stateLine } from '../components/phase-badge.js';
import { RevisionsTable } from '../components/revisions-table.js';
import { StepPipeline } from '../components/step-pipeline.js';
import { WeightBar } from '../components/weight-bar.js';
import { WeightSlider } from '../components/weight-slider.js';
import { formatLatency, formatRate, formatRps } from '../format.js';
import { setHeaderRoute, setMirrorRoute } from '../route-operations.js';
import { useOperation } from '../use-operation.js';
import { useServiceData } from '../use-service-data.js';

/** A service's rollout: where it is, where it goes, its figures, and what a person can do. */
export function RolloutPage(props: { name: string }) {
  const data = useServiceData(props.name, { withPlan: true });
  const { view } = data;
  const op = useOperation(data.adopt);
  const nowMs = useNow(5_000);

  if (!view) return <PageLoading name={props.name} loadError={data.loadError} />;
  const run = (o: Operation) => void op.run(() => client.operate(view.name, o, { expectedVersion: view.version }));
  const canary = view.revisions.find((r) => r.role === 'canary');
  const inProgress = view.step > 0 && !view.terminal;
  return (
    <>
      <Crumbs />
      <RolloutHead view={view} />
      <ActionBar view={view} busy={op.busy} onRun={run} />
      {op.error && <p className="error" role="alert">{op.error}</p>}
      <Banners view={view} />
      <div className="grid-2">
        <section className="card" aria-labelledby="plan-title">
          <h2 id="plan-title">Plan</h2>
          <StepPipeline view={view} plan={data.plan} />
        </section>
        <section className="card" aria-labelledby="traffic-title">
          <h2 id="traffic-title">Traffic</h2>
          <WeightBar revisions={view.revisions} />
          {view.strategy === 'canary' && canary && inProgress && (
            <WeightSlider weight={canary.weight} revisions={view.revisions} busy={op.busy} onSet={(percent) => run({ type: 'setWeight', percent })} />
          )}
        </section>
      </div>
      <section className="section" aria-labelledby="revisions-title">
        <h2 id="revisions-title">Revisions</h2>
        <RevisionsTable revisions={view.revisions} />
      </section>
      <Charts data={data} />
      {view.strategy === 'canary' && canary && inProgress && (
        <section className="section" aria-labelledby="routes-title">
          <h2 id="routes-title">Routes</h2>
          <div className="grid-2">
            <HeaderRouteEditor routes={view.routes ?? []} busy={op.busy} onSet={(r) => void op.run(() => setHeaderRoute(client, view.name, r, view.version))} />
            <MirrorEditor routes={view.routes ?? []} busy={op.busy} onSet={(r) => void op.run(() => setMirrorRoute(client, view.name, r, view.version))} />
          </div>
        </section>
      )}
      <AnalysisSection guard={view.guard} runs={data.runs} />
      <div className="grid-2 align-start">
        <EventsSection events={data.events} />
        <HistorySection name={view.name} revisions={data.history} nowMs={nowMs} busy={op.busy} onUndo={(n) => run({ type: 'undo', toRevision: n })} />
      </div>
    </>
  );
}

/** The back link to the overview. */
/** A rollout's or release's page before its view arrived: its name, and the error if the read failed. */
export function PageLoading(props: { name: string; loadError: string | undefined }) {
  return (
    <>
      <Crumbs />
      <h1>{props.name}</h1>
      {props.loadError ? <p className="error" role="alert">{props.loadError}</p> : <p className="muted" aria-busy="true">Loading…</p>}
    </>
  );
}

export function Crumbs() {
  return <nav aria-label="Breadcrumb" className="crumbs"><Link to="/">Rollouts</Link> <span aria-hidden="true">/</span></nav>;
}

/** The name, the live state line and the one-sentence message. */
export function RolloutHead(props: { view: ServiceView }) {
  const { view } = props;
  return (
    <div className="page-head rollout-head">
      <div className="title-row">
        <h1>{view.name}</h1>
        <PhaseBadge phase={view.phase} aborted={view.aborted} />
        <span className="tag">{view.strategy === 'blueGreen' ? 'blue-green' : view.strategy}</span>
      </div>
      <p role="status" aria-label="Rollout state" className="state-line">{stateLine(view)}</p>
      <p className="muted">{view.message}</p>
    </div>
  );
}

/** What needs a person's attention: pause reasons, an abort, a state that cannot be written. */
export function Banners(props: { view: ServiceView }) {
  const { view } = props;
  return (
    <>
      {view.stateWrites && <p className="banner banner-bad">{view.stateWrites.message}</p>}
      {view.aborted && <p className="banner banner-bad">Aborted: all traffic is on the stable revision. Retry starts the rollout again from step 1.</p>}
      {view.pauseReasons.length > 0 && <p className="banner banner-wait">Paused: {view.pauseReasons.join('; ')}. Promote continues, Abort goes back to stable.</p>}
    </>
  );
}

/** The three charts of the live figures. */
export function Charts(props: { data: { series: Parameters<typeof MetricChart>[0]['series'] }; colourBy?: 'role' | 'index' }) {
  return (
    <section className="section" aria-labelledby="figures-title">
      <h2 id="figures-title">Figures</h2>
      <div className="grid-3">
        <MetricChart title="Requests per second" metric="requestsPerSecond" series={props.data.series} colourBy={props.colourBy} format={(v) => `${formatRps(v ?? 0)} req/s`} />
        <MetricChart title="Error rate" metric="errorRate" series={props.data.series} colourBy={props.colourBy} format={(v) => formatRate(v ?? 0)} />
        <MetricChart title="p99 latency (ms)" metric="p99Ms" series={props.data.series} colourBy={props.colourBy} format={formatLatency} />
      </div>
    </section>
  );
}

/** The time now, refreshed every `everyMs` (for "3m ago"). */
function useNow(everyMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  const tick = useCallback(() => setNow(Date.now()), []);
  useEffect(() => {
    const t = setInterval(tick, everyMs);
    return () => clearInterval(t);
  }, [tick, everyMs]);
  return now;
}
