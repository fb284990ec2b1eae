/**
 * The impure half of an analysis run: it asks providers for measurements when the pure judge
 * says they are due, records each one (`onMeasurement`), sleeps until the next is due, and
 * returns when the run completes or is stopped. Time comes from an injectable {@link Scheduler},
 * so tests can run hours of analysis on a fake clock.
 *
 * Metrics are measured independently: a slow provider holds up only its own metric. A provider
 * that throws (unreachable, timeout, bad answer) produces an Error measurement, which the judge
 * counts toward consecutiveErrorLimit — never a pass. Aborting the signal stops the run the way
 * Argo's `terminate` does: in-flight measurements are abandoned (not recorded), open-ended
 * metrics count as Successful, and the judgement is returned with `stopped: true`.
 */
import { assessMeasurement } from './judge/measurement.js';
import { isCompleted, judgeRun, type RunJudgement } from './judge/run.js';
import type { Measurement, ResolvedMetric, ResolvedTemplate } from './judge/types.js';

/** The clock and the sleeping the runner uses. */
export interface Scheduler {
  /** The current time in ms since the epoch. */
  now(): number;
  /** Resolves after `ms`, or early (without rejecting) when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** Real time. */
export const realScheduler: Scheduler = {
  now: () => Date.now(),
  sleep: (ms, signal) => new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, Math.min(Math.max(0, ms), 2 ** 31 - 1));
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  }),
};

/** The provider side as the runner sees it; the metric provider registry fits this shape. */
export interface RunnerProviders {
  /** The provider for a metric's provider type; may throw for an unknown type (an Error measurement). */
  get(type: string): {
    measure(request: {
      metric: ResolvedMetric;
      args: Readonly<Record<string, string>>;
      signal: AbortSignal;
      now: number;
      context?: RunContext;
    }): Promise<{ value: unknown; phase?: 'Failed'; message?: string; metadata?: Record<string, string>; noData?: string }>;
  };
}

/** Who the run is about, passed to providers (the builtin one needs it). */
export interface RunContext {
  /** The service being rolled out. */
  service?: string;
  /** The canary revision. */
  canaryRevision?: string;
  /** The stable revision. */
  stableRevision?: string;
  /** The namespace the run belongs to (Kubernetes), for providers that create objects there. */
  namespace?: string;
  /** The AnalysisRun object the run is (Kubernetes): what objects a provider creates are owned by. */
  owner?: { apiVersion: string; kind: string; name: string; uid: string };
}

/** A stored measurement plus what the provider added. */
export type RecordedMeasurement = Measurement & { metadata?: Record<string, string> };

/** What {@link runAnalysis} needs. */
export interface RunAnalysisOptions {
  /** The resolved template. */
  template: ResolvedTemplate;
  /** Where measurements come from. */
  providers: RunnerProviders;
  /** Stops the run (Argo's terminate). */
  signal?: AbortSignal;
  /** Clock and sleep; real time by default. */
  scheduler?: Scheduler;
  /** Passed to providers. */
  context?: RunContext;
  /** When the run started; default now. Give it with `measurements` to resume after a restart. */
  startedAtMs?: number;
  /** Measurements already stored (resume). */
  measurements?: readonly Measurement[];
  /** Called with each finished measurement before the run goes on; a rejection stops the run with that error. */
  onMeasurement?(measurement: RecordedMeasurement, judgement: RunJudgement): void | Promise<void>;
  /** Called when the run's phase changes. */
  onPhase?(judgement: RunJudgement): void;
}

/** The final judgement, and whether the run was stopped rather than finishing by itself. */
export type RunOutcome = RunJudgement & { stopped: boolean; measurements: RecordedMeasurement[] };

/** Runs a template to completion (or until stopped). */
export async function runAnalysis(options: RunAnalysisOptions): Promise<RunOutcome> {
  const scheduler = options.scheduler ?? realScheduler;
  const stop = options.signal ?? new AbortController().signal;
  const startedAtMs = options.startedAtMs ?? scheduler.now();
  const finished: RecordedMeasurement[] = options.measurements ? [...options.measurements] : [];
  const inFlight = new Map<string, { promise: Promise<void>; controller: AbortController; startedAtMs: number }>();
  let lastPhase: string | undefined;
  let failure: Error | undefined;

  const judge = (terminate: boolean): RunJudgement => {
    const running: Measurement[] = [...inFlight].map(([metricName, f]) => ({ metricName, phase: 'Running', startedAtMs: f.startedAtMs }));
    return judgeRun({ template: options.template, measurements: [...finished, ...running], startedAtMs, nowMs: scheduler.now(), terminate });
  };
  const report = (j: RunJudgement) => {
    if (j.phase !== lastPhase) {
      lastPhase = j.phase;
      options.onPhase?.(j);
    }
  };

  const start = (metric: ResolvedMetric) => {
    const controller = new AbortController();
    const begun = scheduler.now();
    const promise = (async () => {
      // Yield first so the in-flight entry below exists before this can finish and remove it.
      await Promise.resolve();
      let m: RecordedMeasurement;
      try {
        const provider = options.providers.get(metric.providerType);
        const r = await provider.measure({
          metric, args: options.template.args, signal: controller.signal, now: begun,
          ...(options.context ? { context: options.context } : {}),
        });
        const verdict = r.phase === 'Failed' ? { phase: 'Failed' as const, ...(r.message ? { message: r.message } : {}) } : assessMeasurement(metric, r.value, { noData: r.noData });
        m = { metricName: metric.name, startedAtMs: begun, finishedAtMs: scheduler.now(), value: r.value, ...verdict };
        if (r.metadata) m.metadata = r.metadata;
      } catch (err) {
        m = { metricName: metric.name, phase: 'Error', message: err instanceof Error ? err.message : String(err), startedAtMs: begun, finishedAtMs: scheduler.now() };
      }
      if (controller.signal.aborted) return;
      inFlight.delete(metric.name);
      finished.push(m);
      try {
        await options.onMeasurement?.(m, judge(false));
      } catch (err) {
        failure ??= err instanceof Error ? err : new Error(String(err));
      }
    })();
    inFlight.set(metric.name, { promise, controller, startedAtMs: begun });
  };

  // One promise for "stopped", shared by every wait, so no listener piles up per iteration.
  let onStop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => { onStop = resolve; });
  if (stop.aborted) onStop();
  else stop.addEventListener('abort', onStop, { once: true });
  try {
    for (;;) {
      if (failure) throw failure;
      if (stop.aborted) break;
      const j = judge(false);
      report(j);
      if (isCompleted(j.phase)) return { ...j, stopped: false, measurements: finished };
      for (const name of j.due) {
        if (inFlight.has(name)) continue;
        start(options.template.metrics.find((m) => m.name === name)!);
      }
      const waits: Array<Promise<unknown>> = [...inFlight.values()].map((f) => f.promise);
      const j2 = j.due.length ? judge(false) : j;
      if (j2.nextWakeAtMs !== undefined) waits.push(scheduler.sleep(j2.nextWakeAtMs - scheduler.now(), stop));
      if (waits.length === 0) return { ...j2, stopped: false, measurements: finished };
      waits.push(stopped);
      await Promise.race(waits);
    }
  } finally {
    stop.removeEventListener('abort', onStop);
  }
  for (const f of inFlight.values()) f.controller.abort();
  inFlight.clear();
  const j = judge(true);
  report(j);
  return { ...j, stopped: true, measurements: finished };
}
