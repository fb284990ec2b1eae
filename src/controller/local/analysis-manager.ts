/**
 * Runs the analyses the engine asks for (steps, background, blue-green pre/post promotion, and
 * hooks, whose one-metric template comes with the request) with the metric providers, stores
 * every measurement, and tells the controller when a run's phase changes so the engine can act on
 * it. A hook's command runs with its revision's environment and working directory. Runs still
 * going when the daemon died resume from their stored measurements.
 */
import { runAnalysis, type RecordedMeasurement } from '../../analysis/runner.js';
import { resolveTemplate, AnalysisSpecError } from '../../analysis/judge/template.js';
import type { RunJudgement } from '../../analysis/judge/run.js';
import type { StartAnalysisAction } from '../../engine/index.js';
import { createDefaultProviderRegistry, type CommandProviderOptions, type RevisionStatsSource } from '../../metrics/index.js';
import type { AnalysisTemplate, AnalysisTemplateSpec } from '../../documents/schema.js';
import type { Store } from '../../state/store.js';
import { isWriteFailure } from '../../state/write-guard.js';
import type { AnalysisRunView } from '../view-model.js';

/** What is stored per run, enough to show it and to resume it. */
interface StoredRun {
  request: {
    service: string; name: string; kind: string; revision: string; stableRevision?: string; analysis: StartAnalysisAction['analysis'];
    /** A hook's run: its template, instead of the analysis's templates. */
    hook?: NonNullable<StartAnalysisAction['hook']>;
  };
  measurements: RecordedMeasurement[];
  metrics: AnalysisRunView['metrics'];
  message?: string;
}

/** Options of {@link AnalysisManager}. */
export interface AnalysisManagerOptions {
  /** Where runs are kept. */
  store: Store;
  /** Router figures for the builtin provider. */
  statsSource: RevisionStatsSource;
  /** Analysis templates applied with the App, by name. */
  templates: () => AnalysisTemplate[];
  /** Called when a run's phase changed, so the engine sees it. */
  onPhase: (service: string) => void;
  /** Clock. */
  nowMs: () => number;
  /**
   * Where and with what environment a hook's command runs: the revision's own (its process's
   * working directory and environment). Without it hooks run as analysis commands do.
   */
  hookEnvironment?: (service: string, revision: string, hook: string) => CommandProviderOptions;
}

/** Starts, stops and resumes analysis runs. */
export class AnalysisManager {
  private readonly running = new Map<string, AbortController>();
  private readonly providers;

  constructor(private readonly options: AnalysisManagerOptions) {
    this.providers = createDefaultProviderRegistry({ statsSource: options.statsSource });
  }

  /** Starts a run unless it is already going (idempotent: the engine may ask again). */
  start(service: string, action: StartAnalysisAction, stableRevision: string | undefined): void {
    if (this.running.has(action.name)) return;
    const existing = this.options.store.listAnalysisRuns(service, 200).find((r) => r.id === action.name);
    if (existing && existing.phase !== 'Running') return;
    const request: StoredRun['request'] = {
      service, name: action.name, kind: action.kind, revision: action.revision, ...(stableRevision ? { stableRevision } : {}), analysis: action.analysis,
      ...(action.hook ? { hook: action.hook } : {}),
    };
    this.launch(request, existing ? (existing.run as StoredRun).measurements : [], existing?.startedAtMs ?? this.options.nowMs());
  }

  /** Stops a run (the step ended, the rollout was promoted or aborted). */
  stop(name: string): void {
    this.running.get(name)?.abort();
    this.running.delete(name);
  }

  /** Resumes runs that were Running when the daemon stopped. */
  resumeAll(services: string[]): void {
    for (const service of services) {
      for (const r of this.options.store.listAnalysisRuns(service, 200)) {
        if (r.phase === 'Running' && !this.running.has(r.id)) {
          const stored = r.run as StoredRun;
          this.launch(stored.request, stored.measurements, r.startedAtMs);
        }
      }
    }
  }

  /** Stops every run (daemon shutdown); they stay Running in the store and resume on restart. */
  stopAll(): void {
    for (const c of this.running.values()) c.abort();
    this.running.clear();
  }

  private launch(request: StoredRun['request'], measurements: RecordedMeasurement[], startedAtMs: number): void {
    const { store } = this.options;
    const save = (phase: string, run: StoredRun) => {
      try {
        store.putAnalysisRun({ id: request.name, service: request.service, name: request.name, phase, run, startedAtMs, updatedAtMs: this.options.nowMs() });
      } catch (err) {
        // A failed write is on record with the daemon; the run keeps its measurements and the next save writes them all.
        if (!isWriteFailure(err)) throw err;
      }
    };
    let template;
    try {
      template = resolveTemplate({
        spec: request.hook ? request.hook.template : this.mergedSpec(request.analysis),
        args: (request.analysis.args ?? []).map((a) => ({
          name: a.name,
          value: a.valueFrom?.podTemplateHashValue === 'Stable' ? request.stableRevision : a.valueFrom?.podTemplateHashValue === 'Latest' ? request.revision : a.value,
        })),
        dryRun: (request.analysis.dryRun ?? []).map((d) => d.metricName),
      });
    } catch (err) {
      const message = err instanceof AnalysisSpecError || err instanceof TemplateNotFoundError ? err.message : String(err);
      save('Error', { request, measurements: [], metrics: [], message });
      this.options.onPhase(request.service);
      return;
    }
    let providers;
    try {
      providers = this.providersFor(request);
    } catch (err) {
      save('Error', { request, measurements: [], metrics: [], message: err instanceof Error ? err.message : String(err) });
      this.options.onPhase(request.service);
      return;
    }
    const controller = new AbortController();
    this.running.set(request.name, controller);
    const all = [...measurements];
    const snapshot = (j: RunJudgement): StoredRun => ({
      request,
      measurements: all,
      metrics: j.metrics.map((m) => ({
        name: m.name,
        phase: m.phase,
        measurements: all.filter((x) => x.metricName === m.name).slice(-20).map((x) => ({ atMs: x.finishedAtMs ?? x.startedAtMs, phase: x.phase, value: x.value, ...(x.message ? { message: x.message } : {}) })),
      })),
      ...(j.message ? { message: j.message } : {}),
    });
    save('Running', { request, measurements: all, metrics: [] });
    void runAnalysis({
      template,
      providers,
      signal: controller.signal,
      context: { service: request.service, canaryRevision: request.revision, ...(request.stableRevision ? { stableRevision: request.stableRevision } : {}) },
      startedAtMs,
      measurements,
      onMeasurement: (m, j) => {
        all.push(m);
        save(j.phase, snapshot(j));
      },
      onPhase: (j) => {
        save(j.phase, snapshot(j));
        this.options.onPhase(request.service);
      },
    })
      .then((outcome) => {
        // A stopped run stays as it was (Running) only during shutdown; otherwise its end is stored.
        if (!outcome.stopped || this.running.has(request.name)) save(outcome.phase, snapshot(outcome));
      })
      .catch((err: unknown) => save('Error', { request, measurements: all, metrics: [], message: err instanceof Error ? err.message : String(err) }))
      .finally(() => {
        if (this.running.get(request.name) === controller) this.running.delete(request.name);
        this.options.onPhase(request.service);
      });
  }

  /** A hook's command runs in its revision's directory with its environment; other runs share the default providers. */
  private providersFor(request: StoredRun['request']) {
    if (!request.hook || !this.options.hookEnvironment) return this.providers;
    const command = this.options.hookEnvironment(request.service, request.revision, request.hook.name);
    return createDefaultProviderRegistry({ statsSource: this.options.statsSource, command });
  }

  /** Several templates in one analysis run as one: their metrics and args together. */
  private mergedSpec(analysis: StartAnalysisAction['analysis']): AnalysisTemplateSpec {
    const all = this.options.templates();
    const specs = analysis.templates.map((ref) => {
      const t = all.find((x) => x.metadata.name === ref.templateName);
      if (!t) throw new TemplateNotFoundError(`analysis template "${ref.templateName}" was not applied; add it to the App file (kind: AnalysisTemplate)`);
      return t.spec;
    });
    return {
      args: specs.flatMap((s) => s.args ?? []).filter((a, i, list) => list.findIndex((b) => b.name === a.name) === i),
      metrics: specs.flatMap((s) => s.metrics),
      dryRun: specs.flatMap((s) => s.dryRun ?? []),
    };
  }
}

/** An analysis names a template nobody applied. */
export class TemplateNotFoundError extends Error {
  readonly code = 'TemplateNotFound';
}
