/**
 * The core's AnalysisPort on Kubernetes: every run the engine asks for is an AnalysisRun object in
 * the Rollout's namespace (graylane's, or Argo's `argoproj.io` one for Argo's Rollouts), owned by
 * the Rollout, its spec the merged templates with args resolved, measured here by the same runner
 * and metric providers as on the single host, every measurement and phase written to its status.
 *
 * The cluster is the only store. A run is resumed from its stored measurements by the first
 * `list` of its Rollout after a restart or a Lease handover (only the leader's reconciler lists),
 * so no run is lost; and {@link KubernetesAnalysis.stopAll} stops measuring without writing a
 * verdict when this controller stands down, so no run is measured twice over. Ended runs beyond
 * the history limits are deleted as Argo deletes them.
 */
import { ApiException, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { judgeRun, type RunJudgement } from '../../analysis/judge/run.js';
import { resolveTemplate } from '../../analysis/judge/template.js';
import type { Measurement, ResolvedTemplate } from '../../analysis/judge/types.js';
import { realScheduler, runAnalysis, type RecordedMeasurement, type RunnerProviders, type Scheduler } from '../../analysis/runner.js';
import { hookJobTemplate, HookJobError } from '../../documents/hook-job.js';
import type { AnalysisTemplateSpec } from '../../documents/schema.js';
import type { AnalysisRunStatusDoc } from '../../documents/status-schema.js';
import type { ObservedAnalysisRun, StartAnalysisAction } from '../../engine/index.js';
import { FIELD_MANAGER, POD_TEMPLATE_HASH_LABEL } from '../../kube/names.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import { rolloutApiVersion, rolloutGroupVersion, type RolloutFlavour } from '../../kube/rollout-flavour.js';
import type { ObjectKey } from '../../state/state-port.js';
import type { AnalysisPort, EventSink } from '../core/ports.js';
import {
  analysisRunLabels, analysisRunObjectName, analysisRunStatus, DEFAULT_RUN_HISTORY_LIMITS, ENGINE_RUN_ANNOTATION, engineRunName, isFinal,
  observedPhase, ROLLOUT_NAME_LABEL, runsBeyondHistory, runStartedAtMs, storedMeasurements, type AnalysisRunObject, type AnalysisRunSpecDoc,
  type ObservedPhase, type RunHistoryLimits,
} from './analysis-run-object.js';
import type { ControllerLog } from './controller-loop.js';

/** An AnalysisTemplate or ClusterAnalysisTemplate as the cluster stores it. */
export type AnalysisTemplateObject = KubernetesObject & { spec: AnalysisTemplateSpec };

/** Options of {@link KubernetesAnalysis}. */
export interface KubernetesAnalysisOptions {
  /** The cluster. */
  kubeConfig: KubeConfig;
  /** Whose Rollouts (default `graylane`): Argo's get Argo's AnalysisRuns and read Argo's templates. */
  flavour?: RolloutFlavour | undefined;
  /** The AnalysisRuns of the watched namespaces. */
  runs: ObjectCache<AnalysisRunObject>;
  /** The AnalysisTemplates of the watched namespaces. */
  templates: ObjectCache<AnalysisTemplateObject>;
  /** The ClusterAnalysisTemplates (`clusterScope: true`). */
  clusterTemplates: ObjectCache<AnalysisTemplateObject>;
  /** Where a Rollout's uid is read (the runs' owner). */
  rollouts: ObjectCache;
  /** The metric providers runs measure with (the root adds its own, e.g. `job`). */
  providers: RunnerProviders & { types(): string[] };
  /** Events about the Rollout (a run that ended, a run that could not start). */
  events: Pick<EventSink, 'emit'>;
  /** A run of `key` changed phase: the Rollout is reconciled again so the engine sees it. */
  onPhase: (key: ObjectKey) => void;
  /** Failed writes are logged; the next write carries everything. */
  log: ControllerLog;
  /** Clock and sleep of the runs (default real time). */
  scheduler?: Scheduler | undefined;
  /** Ended runs kept per Rollout (Argo's defaults 5 and 5 when absent). */
  historyLimits?: ((key: ObjectKey) => RunHistoryLimits) | undefined;
  /**
   * The pod template of `revision` of `key` (a hook's Job is built from the new revision's); undefined
   * when the Rollout or revision is unknown. Without it, hooks with a bare `command` cannot run.
   */
  podTemplateOf?: ((key: ObjectKey, revision: string) => unknown) | undefined;
}

/** Why a run could not start (written as the run's Error message and posted as an Event). */
export class AnalysisStartError extends Error {
  /** Stable code for callers. */
  readonly code = 'AnalysisStartFailed';
  constructor(message: string) {
    super(message);
    this.name = 'AnalysisStartError';
  }
}

/** A run measured by this controller now. */
interface LiveRun {
  key: ObjectKey;
  controller: AbortController;
  /** Stopped by the engine (a verdict is written), not by this controller standing down. */
  terminated: boolean;
  /** Status writes, one after the other. */
  writes: Promise<void>;
  ended: Promise<void>;
}

/** What this controller last decided of a run, ahead of its cache. */
interface KnownRun { key: ObjectKey; engineName: string; phase: ObservedPhase; message?: string | undefined; atMs: number }

const PLURAL = 'analysisruns';

/** See the file comment. */
export class KubernetesAnalysis implements AnalysisPort {
  private readonly api: CustomObjectsApi;
  private readonly group: string;
  private readonly version: string;
  private readonly scheduler: Scheduler;
  private readonly live = new Map<string, LiveRun>();
  private readonly known = new Map<string, KnownRun>();
  private readonly starting = new Set<string>();
  private readonly deleting = new Set<string>();
  private standingDown = false;

  constructor(private readonly options: KubernetesAnalysisOptions) {
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    ({ group: this.group, version: this.version } = rolloutGroupVersion(options.flavour ?? 'graylane'));
    this.scheduler = options.scheduler ?? realScheduler;
    // A person may end a run as in Argo (`kubectl patch analysisrun … -p '{"spec":{"terminate":true}}'`),
    // or delete it: measuring stops either way; only a terminated one gets a verdict.
    options.runs.onChange(({ type, object }) => {
      const live = this.live.get(object.metadata?.name ?? '');
      if (!live || live.key.namespace !== object.metadata?.namespace) return;
      if (type === 'deleted') live.controller.abort();
      else if (object.spec.terminate === true && !live.terminated) {
        live.terminated = true;
        live.controller.abort();
      }
    });
  }

  /** Creates the AnalysisRun and measures it, unless it exists (then a Running one is resumed). */
  async start(key: ObjectKey, request: { action: StartAnalysisAction; stableRevision?: string | undefined }): Promise<void> {
    const { action } = request;
    const name = analysisRunObjectName(key.name, action.name);
    if (this.live.has(name) || this.known.has(name) || this.starting.has(name)) return;
    const existing = this.options.runs.get(key.namespace, name);
    if (existing) return this.resume(key, existing);
    this.starting.add(name);
    try {
      await this.create(key, name, request);
    } finally {
      this.starting.delete(name);
    }
  }

  /** Ends a run as Argo's `terminate` does: measuring stops, the verdict is what was measured (Successful if nothing failed). */
  async stop(key: ObjectKey, engineName: string): Promise<void> {
    const name = analysisRunObjectName(key.name, engineName);
    const live = this.live.get(name);
    const stored = this.options.runs.get(key.namespace, name);
    if (!live && (!stored || isFinal(stored.status?.phase) || isFinal(this.known.get(name)?.phase))) return;
    await this.patch(key.namespace, name, { spec: { terminate: true } }, false);
    if (live) {
      live.terminated = true;
      live.controller.abort();
      await live.ended;
      return;
    }
    // Not measured here (stopped before this controller resumed it): judged from what is stored.
    const template = this.resolved(stored!);
    if (typeof template === 'string') return this.fail(key, stored!, template);
    const measurements = storedMeasurements(stored!.status);
    const startedAtMs = runStartedAtMs(stored!, this.scheduler.now());
    const judgement = judgeRun({ template, measurements, startedAtMs, nowMs: this.scheduler.now(), terminate: true });
    await this.write(key, name, engineName, judgement, measurements, startedAtMs);
    this.options.onPhase(key);
  }

  /** The Rollout's runs newest first; resumes its Running runs nobody measures and deletes ended ones beyond the history. */
  list(key: ObjectKey): Promise<ObservedAnalysisRun[]> {
    const stored = this.options.runs.list({ namespace: key.namespace, labels: { [ROLLOUT_NAME_LABEL]: key.name } })
      .filter((r) => engineRunName(r) !== undefined)
      // status.startedAt has milliseconds; creationTimestamp only seconds (two steps' runs share one).
      .sort((a, b) => runStartedAtMs(b, 0) - runStartedAtMs(a, 0));
    for (const run of stored) void this.resume(key, run);
    this.cleanUp(key, stored);
    const names = new Set(stored.map((r) => r.metadata!.name!));
    const out: ObservedAnalysisRun[] = stored.map((r) => {
      const known = this.known.get(r.metadata!.name!);
      const phase = known?.phase ?? observedPhase(r);
      const message = known ? known.message : r.status?.message;
      return { name: engineRunName(r)!, phase, ...(message ? { message } : {}) };
    });
    // Written here but not back through the watch yet (or never created: a template was missing).
    const unseen = [...this.known].filter(([n, k]) => !names.has(n) && k.key.namespace === key.namespace && k.key.name === key.name)
      .sort(([, a], [, b]) => b.atMs - a.atMs)
      .map(([, k]) => ({ name: k.engineName, phase: k.phase, ...(k.message ? { message: k.message } : {}) }));
    return Promise.resolve([...unseen, ...out]);
  }

  /**
   * The phase of `key`'s run `engineName` as the engine would observe it (the verdict this
   * controller wrote, else the stored object's); undefined when there is no such run.
   */
  phaseOf(key: ObjectKey, engineName: string): ObservedPhase | undefined {
    const name = analysisRunObjectName(key.name, engineName);
    const known = this.known.get(name);
    if (known && known.key.namespace === key.namespace) return known.phase;
    const stored = this.options.runs.get(key.namespace, name);
    return stored ? observedPhase(stored) : undefined;
  }

  /**
   * Stops measuring every run without writing a verdict (the controller stands down or loses its
   * Lease): they stay Running in the cluster, and the next leader resumes them.
   */
  async stopAll(): Promise<void> {
    this.standingDown = true;
    const live = [...this.live.values()];
    for (const r of live) r.controller.abort();
    await Promise.all(live.map((r) => r.ended));
  }

  /** The Rollout was deleted: its runs stop measuring (the garbage collector deletes them with it). */
  rolloutDeleted(key: ObjectKey): void {
    for (const run of this.live.values()) if (run.key.namespace === key.namespace && run.key.name === key.name) run.controller.abort();
  }

  private async create(key: ObjectKey, name: string, request: { action: StartAnalysisAction; stableRevision?: string | undefined }): Promise<void> {
    const { action } = request;
    const merged = action.hook ? this.hookSpec(key, action) : this.mergedSpec(key, action.analysis);
    if (typeof merged === 'string') {
      // Nothing to store: without its templates the run has no metrics for the CRD to accept.
      this.remember(key, name, action.name, 'Error', merged);
      this.options.events.emit(key, { atMs: this.scheduler.now(), level: 'warning', reason: 'AnalysisRunError', message: `analysis run ${name}: ${merged}` });
      this.options.onPhase(key);
      return;
    }
    const args = (action.analysis.args ?? []).map((a) => ({
      name: a.name,
      value: a.valueFrom?.podTemplateHashValue === 'Stable' ? request.stableRevision : a.valueFrom?.podTemplateHashValue === 'Latest' ? action.revision : a.value,
    }));
    const dryRun = [...(merged.dryRun ?? []).map((d) => d.metricName), ...(action.analysis.dryRun ?? []).map((d) => d.metricName)];
    let spec: AnalysisRunSpecDoc = { ...merged, ...(dryRun.length ? { dryRun: [...new Set(dryRun)].map((metricName) => ({ metricName })) } : {}) };
    let problem: string | undefined;
    try {
      const resolved = resolveTemplate({ spec: merged, args, dryRun });
      // Stored resolved: a resumed run needs nothing but its own object.
      spec = { ...spec, ...(Object.keys(resolved.args).length ? { args: Object.entries(resolved.args).map(([n, value]) => ({ name: n, value })) } : {}) };
      problem = this.unrunnable(resolved);
    } catch (error) {
      problem = (error as Error).message;
    }
    const rollout = this.options.rollouts.get(key.namespace, key.name);
    const uid = rollout?.metadata?.uid;
    const body: AnalysisRunObject = {
      apiVersion: `${this.group}/${this.version}`, kind: 'AnalysisRun',
      metadata: {
        name, namespace: key.namespace, labels: analysisRunLabels(key.name, action), annotations: { [ENGINE_RUN_ANNOTATION]: action.name },
        ...(uid === undefined ? {} : { ownerReferences: [{ apiVersion: rolloutApiVersion(this.options.flavour ?? 'graylane'), kind: 'Rollout', name: key.name, uid, controller: true, blockOwnerDeletion: true }] }),
      },
      spec,
    };
    let created: AnalysisRunObject;
    try {
      created = await this.api.createNamespacedCustomObject({ group: this.group, version: this.version, namespace: key.namespace, plural: PLURAL, body, fieldManager: FIELD_MANAGER }) as AnalysisRunObject;
    } catch (error) {
      if (error instanceof ApiException && error.code === 409) {
        // Created by an earlier leader: resumed as it stands.
        const current = await this.api.getNamespacedCustomObject({ group: this.group, version: this.version, namespace: key.namespace, plural: PLURAL, name }) as AnalysisRunObject;
        return this.resume(key, current);
      }
      throw new AnalysisStartError(`analysis run ${name} could not be created: ${(error as Error).message}`);
    }
    if (problem !== undefined) return this.fail(key, created, problem);
    this.launch(key, created, [], this.scheduler.now());
  }

  /**
   * A hook's run: its one metric, a bare `command` turned into a Job from the new revision's pod
   * template (the same document works on a single host, where the command runs as a process).
   */
  private hookSpec(key: ObjectKey, action: StartAnalysisAction): AnalysisTemplateSpec | string {
    const hook = action.hook!;
    const podTemplate = this.options.podTemplateOf?.(key, action.revision);
    if (podTemplate === undefined && hook.template.metrics.some((m) => m.provider.command)) {
      return `${hook.name} hook: the pod template of revision ${action.revision} is unknown, so its command cannot run as a Job`;
    }
    try {
      return hookJobTemplate({ template: hook.template, podTemplate, rollout: key.name, revision: action.revision });
    } catch (error) {
      if (error instanceof HookJobError) return `${hook.name} hook: ${error.message}`;
      throw error;
    }
  }

  /** Several templates in one run: their metrics, args and dry-run together; a sentence when one is missing. */
  private mergedSpec(key: ObjectKey, analysis: StartAnalysisAction['analysis']): AnalysisTemplateSpec | string {
    const specs: AnalysisTemplateSpec[] = [];
    for (const ref of analysis.templates) {
      const t = ref.clusterScope === true ? this.options.clusterTemplates.get('', ref.templateName) : this.options.templates.get(key.namespace, ref.templateName);
      if (!t) {
        return ref.clusterScope === true
          ? `ClusterAnalysisTemplate "${ref.templateName}" not found`
          : `AnalysisTemplate "${ref.templateName}" not found in namespace "${key.namespace}"`;
      }
      specs.push(t.spec);
    }
    return {
      ...(specs.some((s) => s.args?.length) ? { args: specs.flatMap((s) => s.args ?? []).filter((a, i, all) => all.findIndex((b) => b.name === a.name) === i) } : {}),
      metrics: specs.flatMap((s) => s.metrics),
      ...(specs.some((s) => s.dryRun?.length) ? { dryRun: specs.flatMap((s) => s.dryRun ?? []) } : {}),
    };
  }

  /** Why a resolved run cannot be measured here: a metric whose provider this controller does not run. */
  private unrunnable(template: ResolvedTemplate): string | undefined {
    const types = new Set(this.options.providers.types());
    const metric = template.metrics.find((m) => !types.has(m.providerType));
    if (!metric) return undefined;
    const why = metric.providerType === 'builtin'
      ? 'on Kubernetes the builtin provider reads the canary\'s requests from Prometheus, and this controller has none: start it with --prometheus-url (Helm value prometheus.url), or measure with the prometheus provider'
      : `this controller has no "${metric.providerType}" metric provider (it has ${[...types].join(', ')})`;
    return `metric "${metric.name}" cannot be measured: ${why}`;
  }

  private resolved(run: AnalysisRunObject): ResolvedTemplate | string {
    try {
      const template = resolveTemplate({ spec: run.spec });
      return this.unrunnable(template) ?? template;
    } catch (error) {
      return (error as Error).message;
    }
  }

  /** Measures a stored Running run nobody measures (after a restart or a handover); a terminated one gets its verdict. */
  private async resume(key: ObjectKey, run: AnalysisRunObject): Promise<void> {
    const name = run.metadata!.name!;
    if (this.standingDown || this.live.has(name) || this.starting.has(name) || isFinal(run.status?.phase) || isFinal(this.known.get(name)?.phase)) return;
    const engineName = engineRunName(run);
    if (engineName === undefined) return;
    if (run.spec.terminate === true) return this.stop(key, engineName);
    this.launch(key, run, storedMeasurements(run.status), runStartedAtMs(run, this.scheduler.now()));
  }

  private launch(key: ObjectKey, run: AnalysisRunObject, measurements: Measurement[], startedAtMs: number): void {
    const name = run.metadata!.name!;
    const engineName = engineRunName(run)!;
    const template = this.resolved(run);
    if (typeof template === 'string') {
      void this.fail(key, run, template);
      return;
    }
    const controller = new AbortController();
    const live: LiveRun = { key, controller, terminated: false, writes: Promise.resolve(), ended: Promise.resolve() };
    this.live.set(name, live);
    const all: RecordedMeasurement[] = [...measurements];
    const write = (j: RunJudgement): Promise<void> => {
      live.writes = live.writes.then(() => this.write(key, name, engineName, j, all, startedAtMs));
      return live.writes;
    };
    const uid = run.metadata?.uid;
    const revision = run.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL];
    void write(judgeRun({ template, measurements: all, startedAtMs, nowMs: this.scheduler.now() }));
    live.ended = runAnalysis({
      template, providers: this.options.providers, signal: controller.signal, scheduler: this.scheduler, startedAtMs, measurements,
      context: {
        service: key.name, namespace: key.namespace,
        ...(revision === undefined ? {} : { canaryRevision: revision }),
        ...(uid === undefined ? {} : { owner: { apiVersion: `${this.group}/${this.version}`, kind: 'AnalysisRun', name, uid } }),
      },
      onMeasurement: (m, j) => {
        all.push(m);
        return write(j);
      },
      // Once stopped, the verdict is written below, and only when the engine stopped the run.
      onPhase: (j) => void (controller.signal.aborted ? undefined : write(j)),
    }).then(async (outcome) => {
      // Stopped because this controller stands down: the run stays Running for the next leader.
      if (outcome.stopped && !live.terminated) return;
      await write(outcome);
      this.ended(key, name, outcome);
    }, async (error: unknown) => {
      await write({ phase: 'Error', message: (error as Error).message, metrics: [], due: [] });
      this.ended(key, name, { phase: 'Error', message: (error as Error).message });
    }).finally(() => {
      if (this.live.get(name) === live) this.live.delete(name);
      this.options.onPhase(key);
    });
  }

  /** The run ended: an Event about the Rollout, as Argo posts one. */
  private ended(key: ObjectKey, name: string, outcome: { phase: string; message?: string | undefined }): void {
    this.options.events.emit(key, {
      atMs: this.scheduler.now(), level: outcome.phase === 'Successful' ? 'info' : 'warning', reason: `AnalysisRun${outcome.phase}`,
      message: `analysis run ${name} ended ${outcome.phase}${outcome.message ? `: ${outcome.message}` : ''}`,
    });
  }

  /** A stored run that cannot be measured: Error with the sentence, and an Event. */
  private async fail(key: ObjectKey, run: AnalysisRunObject, message: string): Promise<void> {
    const name = run.metadata!.name!;
    await this.write(key, name, engineRunName(run) ?? name, { phase: 'Error', message, metrics: [] }, [], runStartedAtMs(run, this.scheduler.now()));
    this.ended(key, name, { phase: 'Error', message });
    this.options.onPhase(key);
  }

  private remember(key: ObjectKey, name: string, engineName: string, phase: ObservedPhase | 'Pending', message: string | undefined): boolean {
    const observed: ObservedPhase = phase === 'Pending' ? 'Running' : phase;
    const before = this.known.get(name);
    this.known.set(name, { key, engineName, phase: observed, message, atMs: before?.atMs ?? this.scheduler.now() });
    return before?.phase !== observed;
  }

  /** Writes the run's status (merge patch on the status subresource); a failure is logged, the next write carries everything. */
  private async write(key: ObjectKey, name: string, engineName: string, judgement: Pick<RunJudgement, 'phase' | 'message' | 'metrics'>, measurements: readonly RecordedMeasurement[], startedAtMs: number): Promise<void> {
    const changed = this.remember(key, name, engineName, judgement.phase, judgement.message);
    const status: AnalysisRunStatusDoc = analysisRunStatus({ judgement, measurements, startedAtMs });
    // null removes a message an earlier write left (merge patch).
    await this.patch(key.namespace, name, { status: { ...status, message: status.message ?? null } }, true);
    if (changed && isFinal(judgement.phase)) this.options.onPhase(key);
  }

  private async patch(namespace: string, name: string, body: object, status: boolean): Promise<void> {
    const request = { group: this.group, version: this.version, namespace, plural: PLURAL, name, body, fieldManager: FIELD_MANAGER };
    try {
      await (status
        ? this.api.patchNamespacedCustomObjectStatus(request, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
        : this.api.patchNamespacedCustomObject(request, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)));
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) {
        // Deleted by someone: nothing left to measure for.
        this.live.get(name)?.controller.abort();
        return;
      }
      this.options.log('warn', 'analysis run write failed', { run: `${namespace}/${name}`, error: (error as Error).message });
    }
  }

  /** Deletes the ended runs beyond the Rollout's history limits, each once. */
  private cleanUp(key: ObjectKey, newestFirst: AnalysisRunObject[]): void {
    const limits = this.options.historyLimits?.(key) ?? DEFAULT_RUN_HISTORY_LIMITS;
    for (const run of runsBeyondHistory(newestFirst, limits)) {
      const name = run.metadata!.name!;
      if (this.deleting.has(name) || this.live.has(name)) continue;
      this.deleting.add(name);
      this.api.deleteNamespacedCustomObject({ group: this.group, version: this.version, namespace: key.namespace, plural: PLURAL, name })
        .then(() => this.known.delete(name), (error: unknown) => {
          if (!(error instanceof ApiException && error.code === 404)) this.options.log('warn', 'analysis run delete failed', { run: `${key.namespace}/${name}`, error: (error as Error).message });
        })
        .finally(() => this.deleting.delete(name));
    }
  }
}
