/**
 * Everything a rollout (or release) page shows of one name: its view (live from the stream), its
 * plan, history, analysis runs and events (refetched when the view moves on), and its figures
 * (the series on load, refreshed every 2 s for the charts).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { AnalysisRunView, EventView, RevisionView, ServiceView } from '../api/contract/index.js';
import type { PlanView, SeriesView } from '../api/contract/console.js';
import { client } from './api.js';
import { useConsole } from './console-context.js';

/** How often the charts' figures are refreshed. */
const SERIES_REFRESH_MS = 2_000;
/** Events kept on the page (newest first). */
const MAX_EVENTS = 200;

/** What a page of one name holds. */
export interface ServiceData {
  /** The view; undefined until loaded. */
  view: ServiceView | undefined;
  /** Why it could not be loaded. */
  loadError: string | undefined;
  plan: PlanView | undefined;
  history: RevisionView[];
  runs: AnalysisRunView[];
  /** Newest first. */
  events: EventView[];
  series: SeriesView | undefined;
  /** Takes the view an operation answered with (newer than what the page had). */
  adopt: (view: ServiceView) => void;
}

/** See {@link ServiceData}. */
export function useServiceData(name: string, options: { withPlan: boolean }): ServiceData {
  const { feed, fail } = useConsole();
  const [view, setView] = useState<ServiceView | undefined>(undefined);
  const [loadError, setLoadError] = useState<string | undefined>(undefined);
  const [plan, setPlan] = useState<PlanView | undefined>(undefined);
  const [history, setHistory] = useState<RevisionView[]>([]);
  const [runs, setRuns] = useState<AnalysisRunView[]>([]);
  const [events, setEvents] = useState<EventView[]>([]);
  const [series, setSeries] = useState<SeriesView | undefined>(undefined);
  const failRef = useRef(fail);
  useEffect(() => { failRef.current = fail; }, [fail]);

  const adopt = useCallback((next: ServiceView) => {
    setView((old) => (old && (old.version ?? 0) > (next.version ?? 0) ? old : next));
  }, []);

  useEffect(() => {
    let live = true;
    client.get(name).then(
      (v) => { if (live) adopt(v); },
      (err: unknown) => { if (live) setLoadError(failRef.current(err)); },
    );
    client.events(name).then(
      (r) => { if (live) setEvents((old) => mergeEvents(old, r.events)); },
      () => undefined,
    );
    const stop = feed.subscribe((m) => {
      if (m.type === 'status' && m.data.name === name) adopt(m.data);
      else if (m.type === 'event' && m.data.service === name) setEvents((old) => mergeEvents(old, [m.data]));
    });
    return () => { live = false; stop(); };
  }, [name, feed, adopt]);

  // What follows from the view's position (the plan's remaining time, new revisions, new runs).
  const position = view ? `${view.phase}/${view.step}/${view.revisions.map((r) => r.name).join(',')}/${view.aborted}` : undefined;
  useEffect(() => {
    if (position === undefined) return;
    let live = true;
    const quiet = (err: unknown) => { failRef.current(err); };
    if (options.withPlan) client.plan(name).then((p) => { if (live) setPlan(p); }, quiet);
    client.history(name).then((h) => { if (live) setHistory(h.revisions); }, quiet);
    client.analysis(name).then((a) => { if (live) setRuns(a.runs); }, quiet);
    return () => { live = false; };
  }, [name, position, options.withPlan]);

  useEffect(() => {
    let live = true;
    const load = () => client.series(name).then((s) => { if (live) setSeries(s); }, (err: unknown) => { failRef.current(err); });
    void load();
    const timer = setInterval(() => void load(), SERIES_REFRESH_MS);
    return () => { live = false; clearInterval(timer); };
  }, [name]);

  return { view, loadError, plan, history, runs, events, series, adopt };
}

/** New events merged in by id, newest first. */
function mergeEvents(old: EventView[], added: EventView[]): EventView[] {
  const seen = new Set(old.map((e) => e.id));
  const fresh = added.filter((e) => !seen.has(e.id));
  if (fresh.length === 0) return old;
  return [...old, ...fresh].sort((a, b) => b.id - a.id).slice(0, MAX_EVENTS);
}
