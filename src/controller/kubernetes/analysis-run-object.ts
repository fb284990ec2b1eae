/**
 * The AnalysisRun object as the cluster stores it, shaped as Argo Rollouts' controller shapes its
 * own: named `<rollout>-<pod-template hash>-<attempt>[-<step index>|-pre|-post]`, labelled with the
 * pod-template hash, `rollout-type` and `step-index`, owned by its Rollout, its spec the merged
 * templates with every arg resolved, its status every measurement taken. The cluster is the only
 * store of a run: a controller that restarts (or takes over the Lease) resumes a Running run from
 * this status alone, so what is written here must be enough to judge the run again. Pure: no I/O.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { RunJudgement } from '../../analysis/judge/run.js';
import type { AnalysisPhase, Measurement } from '../../analysis/judge/types.js';
import type { RecordedMeasurement } from '../../analysis/runner.js';
import type { AnalysisKind, StartAnalysisAction } from '../../engine/index.js';
import type { AnalysisTemplateSpec } from '../../documents/schema.js';
import type { AnalysisRunStatusDoc } from '../../documents/status-schema.js';
import { POD_TEMPLATE_HASH_LABEL, ROLLOUT_NAME_LABEL } from '../../kube/names.js';

/** Labels every run carries, so a Rollout's runs are found by label as Argo's are. */
export { ROLLOUT_NAME_LABEL } from '../../kube/names.js';
/** Argo's label naming what started the run: Step, Background, PrePromotion or PostPromotion. */
export const ROLLOUT_TYPE_LABEL = 'rollout-type';
/** Argo's label naming the canary step that started a step run. */
export const STEP_INDEX_LABEL = 'step-index';
/** The engine's name of the run (the object's name is Kubernetes-safe; the engine's is not). */
export const ENGINE_RUN_ANNOTATION = 'graylane.dev/analysis-run';

/** An AnalysisRun's spec as stored: a template's, args resolved, plus Argo's `terminate`. */
export type AnalysisRunSpecDoc = AnalysisTemplateSpec & { terminate?: boolean };

/** An AnalysisRun object (graylane's or Argo's flavour: the same fields). */
export type AnalysisRunObject = KubernetesObject & { spec: AnalysisRunSpecDoc; status?: AnalysisRunStatusDoc };

/** The phase an engine observes: a run not judged yet counts as Running. */
export type ObservedPhase = 'Running' | 'Successful' | 'Failed' | 'Inconclusive' | 'Error';

const TYPE_LABELS: Record<AnalysisKind, string> = {
  step: 'Step', background: 'Background', prePromotion: 'PrePromotion', postPromotion: 'PostPromotion',
  preRolloutHook: 'PreRolloutHook', prePromotionHook: 'PrePromotionHook', postPromotionHook: 'PostPromotionHook',
};
const INFIXES: Record<AnalysisKind, string> = {
  step: '', background: '', prePromotion: 'pre', postPromotion: 'post',
  preRolloutHook: 'pre-rollout-hook', prePromotionHook: 'pre-promotion-hook', postPromotionHook: 'post-promotion-hook',
};

/** What the engine's run name (`<hash>.<attempt>.<kind>[.<step>]`, see engine/context.ts `runName`) says. */
interface EngineRunName { revision: string; attempt: string; kind: AnalysisKind; stepIndex?: string }

function parseEngineName(name: string): EngineRunName {
  const [revision = '', attempt = '0', kind = 'step', stepIndex] = name.split('.');
  return { revision, attempt, kind: (kind in TYPE_LABELS ? kind : 'step') as AnalysisKind, ...(stepIndex === undefined ? {} : { stepIndex }) };
}

/** The object's name for the engine's run `engineName` of `rollout`: Argo's `<rollout>-<hash>-<n>[-<step>|-pre|-post]`. */
export function analysisRunObjectName(rollout: string, engineName: string): string {
  const p = parseEngineName(engineName);
  const suffix = p.kind === 'step' ? (p.stepIndex ?? '') : INFIXES[p.kind];
  const name = [rollout, p.revision, p.attempt, ...(suffix ? [suffix] : [])].join('-').toLowerCase();
  // A DNS subdomain is at most 253 characters; the rollout's name is the part that can be long.
  return name.length <= 253 ? name : `${rollout.slice(0, 253 - (name.length - rollout.length))}${name.slice(rollout.length)}`;
}

/** Labels of a run: the pod-template hash, `rollout-type` and `step-index` as Argo's, and the rollout's name. */
export function analysisRunLabels(rollout: string, action: Pick<StartAnalysisAction, 'name' | 'kind' | 'revision'>): Record<string, string> {
  const p = parseEngineName(action.name);
  return {
    [ROLLOUT_NAME_LABEL]: rollout,
    [POD_TEMPLATE_HASH_LABEL]: action.revision,
    [ROLLOUT_TYPE_LABEL]: TYPE_LABELS[action.kind],
    ...(action.kind === 'step' && p.stepIndex !== undefined ? { [STEP_INDEX_LABEL]: p.stepIndex } : {}),
  };
}

/** The engine's name of a stored run. */
export function engineRunName(run: AnalysisRunObject): string | undefined {
  return run.metadata?.annotations?.[ENGINE_RUN_ANNOTATION];
}

/** The phase the engine is shown for a stored run (no status yet, or Pending: Running). */
export function observedPhase(run: AnalysisRunObject): ObservedPhase {
  const phase = run.status?.phase;
  return phase === undefined || phase === 'Pending' ? 'Running' : phase;
}

/** Whether a phase is final. */
export function isFinal(phase: string | undefined): boolean {
  return phase === 'Successful' || phase === 'Failed' || phase === 'Inconclusive' || phase === 'Error';
}

const iso = (ms: number): string => new Date(ms).toISOString();
const epochMs = (time: string | undefined): number | undefined => (time === undefined ? undefined : Date.parse(time));

/**
 * The status of a run from its judgement and every finished measurement, as Argo writes it:
 * per metric its phase, counts and measurements (all of them: a resumed run is judged from them).
 */
export function analysisRunStatus(input: { judgement: Pick<RunJudgement, 'phase' | 'message' | 'metrics'>; measurements: readonly RecordedMeasurement[]; startedAtMs: number }): AnalysisRunStatusDoc {
  const { judgement, measurements } = input;
  const metricResults = judgement.metrics.map((m) => ({
    name: m.name,
    phase: m.phase,
    ...(m.message ? { message: m.message } : {}),
    count: m.count, successful: m.successful, failed: m.failed, inconclusive: m.inconclusive, error: m.error, consecutiveError: m.consecutiveError,
    ...(m.dryRun ? { dryRun: true } : {}),
    measurements: measurements.filter((x) => x.metricName === m.name && x.phase !== 'Running').map((x) => ({
      phase: x.phase,
      ...(x.value === undefined ? {} : { value: x.value }),
      ...(x.message ? { message: x.message } : {}),
      startedAt: iso(x.startedAtMs),
      ...(x.finishedAtMs === undefined ? {} : { finishedAt: iso(x.finishedAtMs) }),
    })),
  }));
  const deciding = judgement.metrics.filter((m) => !m.dryRun);
  const summary = (phase: AnalysisPhase) => deciding.filter((m) => m.phase === phase).length;
  return {
    phase: judgement.phase,
    ...(judgement.message ? { message: judgement.message } : {}),
    startedAt: iso(input.startedAtMs),
    metricResults,
    runSummary: { count: deciding.length, successful: summary('Successful'), failed: summary('Failed'), inconclusive: summary('Inconclusive'), error: summary('Error') },
  };
}

/** The measurements a stored status holds, to resume the run from (finished ones only: one in flight was lost). */
export function storedMeasurements(status: AnalysisRunStatusDoc | undefined): Measurement[] {
  return (status?.metricResults ?? []).flatMap((r) => (r.measurements ?? []).flatMap((m) => {
    const startedAtMs = epochMs(m.startedAt);
    if (m.phase === 'Running' || startedAtMs === undefined || Number.isNaN(startedAtMs)) return [];
    const finishedAtMs = epochMs(m.finishedAt);
    return [{
      metricName: r.name, phase: m.phase, startedAtMs,
      ...(m.value === undefined ? {} : { value: m.value }),
      ...(m.message ? { message: m.message } : {}),
      ...(finishedAtMs === undefined || Number.isNaN(finishedAtMs) ? {} : { finishedAtMs }),
    }];
  }));
}

/** When a stored run started: its status says, else its creation. */
export function runStartedAtMs(run: AnalysisRunObject, fallbackMs: number): number {
  const ms = epochMs(run.status?.startedAt);
  if (ms !== undefined && !Number.isNaN(ms)) return ms;
  return createdAtMs(run) || fallbackMs;
}

/** A run's creation time in epoch ms (0 when unknown), for newest-first ordering. */
export function createdAtMs(run: AnalysisRunObject): number {
  const t = run.metadata?.creationTimestamp as unknown;
  const ms = t instanceof Date ? t.getTime() : typeof t === 'string' ? Date.parse(t) : NaN;
  return Number.isNaN(ms) ? 0 : ms;
}

/** How many ended runs of a Rollout are kept (Argo's `analysis.successfulRunHistoryLimit` and `unsuccessfulRunHistoryLimit`). */
export interface RunHistoryLimits {
  /** Successful runs kept (default 5). */
  successful: number;
  /** Failed, Error and Inconclusive runs kept (default 5). */
  unsuccessful: number;
}

/** Argo's defaults. */
export const DEFAULT_RUN_HISTORY_LIMITS: RunHistoryLimits = { successful: 5, unsuccessful: 5 };

/**
 * The ended runs to delete, as Argo chooses them: newest first, the first `successful` Successful
 * and the first `unsuccessful` others are kept; a Running run is never deleted. `runs` newest first.
 */
export function runsBeyondHistory(runs: readonly AnalysisRunObject[], limits: RunHistoryLimits): AnalysisRunObject[] {
  let successful = 0;
  let unsuccessful = 0;
  return runs.filter((r) => {
    const phase = r.status?.phase;
    if (!isFinal(phase)) return false;
    if (phase === 'Successful') return ++successful > limits.successful;
    return ++unsuccessful > limits.unsuccessful;
  });
}
