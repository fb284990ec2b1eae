import { formatDurationMs, parseDurationMs } from '../lib/duration.js';
import type { AnalysisTemplate, BackgroundAnalysis, CanaryStep, Metric, RolloutAnalysis, RolloutSpec } from '../documents/schema.js';
import { routeAdvice } from '../documents/semantic.js';
import { describeStep } from './describe.js';
import { desiredReplicaCounts, type RevisionReplicas } from './replica-counts.js';
import { currentSetWeight } from './steps.js';
import type { AnalysisKind } from './types.js';
import { guardWorstCase, type ClusterGuardTiming } from './guard-timing.js';

/** An analysis a plan row runs, with its timing as far as the templates tell it. */
export interface PlannedAnalysis {
  kind: AnalysisKind;
  templates: string[];
  /** Per metric: `interval × count` (count absent = until stopped). */
  metrics: { template: string; name: string; intervalMs: number | undefined; count: number | undefined; initialDelayMs: number; failureLimit: number | undefined; canBeInconclusive: boolean }[];
  /** How long a passing run takes (Infinity: runs until stopped or unknown). */
  durationMs: number;
}

export interface PlanRow {
  /** Canary step index, or undefined for a row that is not a step (blue-green stages, the finish). */
  stepIndex: number | undefined;
  description: string;
  /** Percent of user requests to the new revision while at this row. */
  canaryWeight: number;
  stableWeight: number;
  /** Instances of each revision once this row is reached (from desiredReplicaCounts). */
  replicas: { stable: number; canary: number };
  /** A pause: its length, or Infinity until a person promotes. */
  pauseMs?: number | undefined;
  analyses: PlannedAnalysis[];
  /** Cumulative time from the start when this row is done: soonest and latest (Infinity: a person decides). */
  earliestFinishMs: number;
  latestFinishMs: number;
  /** Worst time from a failure while at this row to all traffic on stable (Infinity: needs a person). */
  worstCaseRollbackMs: number;
  rollbackNote: string;
  /** The new revision is stable here: a failure is for undo, no longer a rollback of this rollout. */
  promoted?: boolean;
}

export interface RolloutPlan {
  strategy: 'canary' | 'rolling' | 'blueGreen';
  replicas: number;
  rows: PlanRow[];
  earliestFinishMs: number;
  latestFinishMs: number;
  /** The worst row's rollback time among rows where the new revision takes traffic and is not yet promoted. */
  worstCaseRollbackMs: number;
  rollbackNote: string;
  /** What the plan could not know (missing templates, templated counts, instance start-up time). */
  notes: string[];
}

export interface PlanRolloutInput {
  spec: RolloutSpec;
  /** Analysis templates by `metadata.name`; without them analysis timings are unknown. */
  templates?: readonly AnalysisTemplate[] | undefined;
  /**
   * The guard's timing when it judges this rollout's canary (behind the built-in router unless
   * `guard.enabled: false`), defaults filled in; absent when no guard judges it.
   */
  guard?: PlannedGuard | undefined;
}

/** What a plan needs of the guard: how often it starts a fresh test. */
export interface PlannedGuard {
  /** Seconds between fresh tests: a failure that starts late waits at most this long for one. */
  restartEverySeconds: number;
  /** On Kubernetes: the provider, the guard's tick and Prometheus's scrape interval; absent on a single host. */
  cluster?: ClusterGuardTiming | undefined;
}

/**
 * The guard's worst case from a failure to an abort, given traffic: a fresh test starts within
 * `restartEverySeconds`, and a canary failing its requests fails that test a second or two later.
 */
function guardDetectionMs(guard: PlannedGuard): number {
  return guardWorstCase(guard.restartEverySeconds, guard.cluster).totalMs;
}

const num = (v: number | string | undefined): number | undefined => (typeof v === 'number' ? v : v !== undefined && /^-?[0-9]+$/.test(v) ? Number(v) : undefined);
const ms = (v: string | number | undefined): number | undefined => {
  if (v === undefined) return undefined;
  try { return parseDurationMs(v); } catch { return undefined; }
};

function planAnalysis(kind: AnalysisKind, analysis: RolloutAnalysis | BackgroundAnalysis, templates: readonly AnalysisTemplate[] | undefined, notes: Set<string>): PlannedAnalysis {
  const metrics: PlannedAnalysis['metrics'] = [];
  let durationMs = 0;
  for (const ref of analysis.templates) {
    const template = templates?.find((t) => t.metadata.name === ref.templateName);
    if (!template) {
      notes.add(`analysis template "${ref.templateName}" not given: its timing is unknown`);
      durationMs = Infinity;
      continue;
    }
    for (const m of template.spec.metrics) {
      const planned = planMetric(ref.templateName, m, notes);
      metrics.push(planned);
      const one = planned.count === undefined ? (planned.intervalMs === undefined ? planned.initialDelayMs : Infinity) : planned.initialDelayMs + (planned.intervalMs ?? 0) * Math.max(0, planned.count - 1);
      durationMs = Math.max(durationMs, one);
    }
  }
  return { kind, templates: analysis.templates.map((t) => t.templateName), metrics, durationMs };
}

function planMetric(template: string, m: Metric, notes: Set<string>): PlannedAnalysis['metrics'][number] {
  const count = num(m.count);
  const failureLimit = m.failureLimit === undefined ? 0 : num(m.failureLimit);
  if (m.count !== undefined && count === undefined) notes.add(`metric ${template}/${m.name}: count "${String(m.count)}" is set by an argument; its length is unknown`);
  if (failureLimit === undefined) notes.add(`metric ${template}/${m.name}: failureLimit "${String(m.failureLimit)}" is set by an argument; detection time is unknown`);
  return {
    template, name: m.name, intervalMs: ms(m.interval), count: m.count === undefined ? undefined : count, initialDelayMs: ms(m.initialDelay) ?? 0, failureLimit,
    // Only with both conditions can a measurement match neither, which is inconclusive.
    canBeInconclusive: m.successCondition !== undefined && m.failureCondition !== undefined,
  };
}

/**
 * Worst time for a run to turn a failure into an abort: initialDelay + interval × (failureLimit + 1),
 * the fastest metric wins; the guard, when it judges the step, aborts by itself too.
 */
function detection(analyses: readonly PlannedAnalysis[], guard?: PlannedGuard): { ms: number; note: string } {
  const fromAnalysis = analysisDetection(analyses);
  if (!guard) return fromAnalysis;
  const guardMs = guardDetectionMs(guard);
  if (fromAnalysis.ms <= guardMs) return fromAnalysis;
  return {
    ms: guardMs,
    note: `the guard aborts by itself within ${formatDurationMs(guardMs)} once the canary serves failing requests (a handful suffice when all fail; with no traffic it cannot judge)${guard.cluster ? `: ${guardWorstCase(guard.restartEverySeconds, guard.cluster).parts}` : ''}`,
  };
}

function analysisDetection(analyses: readonly PlannedAnalysis[]): { ms: number; note: string } {
  let best = Infinity;
  let inconclusive = false;
  for (const a of analyses) {
    for (const m of a.metrics) {
      if (m.canBeInconclusive) inconclusive = true;
      if (m.failureLimit === undefined || m.failureLimit < 0) continue;
      // A metric measured once (no interval) cannot see a failure that starts after it.
      if (m.intervalMs === undefined) continue;
      best = Math.min(best, m.initialDelayMs + m.intervalMs * (m.failureLimit + 1));
    }
  }
  if (analyses.length === 0) return { ms: Infinity, note: 'no analysis covers this step: unbounded, needs a person to abort' };
  if (best === Infinity) return { ms: Infinity, note: 'analysis cannot see a failure here (no interval, unknown or unlimited failureLimit): needs a person' };
  const note = `analysis aborts within ${formatDurationMs(best)}${inconclusive ? '; an inconclusive result waits for a person' : ''}`;
  return { ms: best, note };
}

/** Instances reached by repeated moves of the replica math, each instance ready at once. */
function settle(spec: RolloutSpec, status: Parameters<typeof desiredReplicaCounts>[0]['rollout']['status'], start: { stable: number; canary: number }): { stable: number; canary: number } {
  let stable: RevisionReplicas = { name: 's', replicas: start.stable, availableReplicas: start.stable };
  let canary: RevisionReplicas = { name: 'c', replicas: start.canary, availableReplicas: start.canary };
  for (let i = 0; i < 1000; i++) {
    const next = desiredReplicaCounts({ rollout: { spec, status: { ...status, stableRS: 's', currentPodHash: 'c' } }, stable, canary });
    if (next.stable === stable.replicas && next.canary === canary.replicas) break;
    stable = { name: 's', replicas: next.stable, availableReplicas: next.stable };
    canary = { name: 'c', replicas: next.canary, availableReplicas: next.canary };
  }
  return { stable: stable.replicas, canary: canary.replicas };
}

/**
 * The timeline a rollout will follow, for `graylane plan`: per step the weights, each revision's
 * instances, pauses, analyses, the soonest and latest cumulative finish, and the worst-case time
 * from a failure to all traffic on stable. Instance start-up time is not included.
 */
export function planRollout(input: PlanRolloutInput): RolloutPlan {
  const { spec } = input;
  const replicas = spec.replicas ?? 1;
  const notes = new Set<string>(['instance start-up and readiness time is not included']);
  const rows: PlanRow[] = [];
  const blueGreen = spec.strategy.blueGreen;
  const canary = spec.strategy.canary;
  let strategy: RolloutPlan['strategy'];
  if (blueGreen) {
    strategy = 'blueGreen';
    planBlueGreen(spec, blueGreen, input.templates, rows, notes);
  } else if (canary && (canary.steps ?? []).length > 0) {
    strategy = 'canary';
    planCanary(spec, canary.steps ?? [], input.templates, rows, notes, input.guard);
  } else {
    strategy = 'rolling';
    const end = settle(spec, {}, { stable: replicas, canary: 0 });
    const bg = canary?.analysis ? [planAnalysis('background', canary.analysis, input.templates, notes)] : [];
    const det = detection(bg);
    rows.push({ stepIndex: undefined, description: 'rolling update within maxSurge/maxUnavailable', canaryWeight: 100, stableWeight: 0, replicas: end, analyses: bg, earliestFinishMs: 0, latestFinishMs: 0, worstCaseRollbackMs: det.ms, rollbackNote: det.note });
  }
  const last = rows[rows.length - 1];
  const exposed = rows.filter((r) => r.canaryWeight > 0 && r.promoted !== true);
  const worst = exposed.reduce<PlanRow | undefined>((w, r) => (!w || r.worstCaseRollbackMs > w.worstCaseRollbackMs ? r : w), undefined);
  return {
    strategy, replicas, rows,
    earliestFinishMs: last?.earliestFinishMs ?? 0,
    latestFinishMs: last?.latestFinishMs ?? 0,
    worstCaseRollbackMs: worst?.worstCaseRollbackMs ?? 0,
    rollbackNote: worst ? `${worst.description}: ${worst.rollbackNote}` : 'the new revision never takes user traffic',
    notes: [...notes],
  };
}

function planCanary(spec: RolloutSpec, steps: readonly CanaryStep[], templates: readonly AnalysisTemplate[] | undefined, rows: PlanRow[], notes: Set<string>, guard: PlannedGuard | undefined): void {
  const canary = spec.strategy.canary ?? {};
  const replicas = spec.replicas ?? 1;
  const routed = !!canary.trafficRouting;
  const scale = canary.trafficRouting?.maxTrafficWeight ?? 100;
  const background = canary.analysis ? planAnalysis('background', canary.analysis, templates, notes) : undefined;
  let earliest = 0;
  let latest = 0;
  let counts = { stable: replicas, canary: 0 };
  // The same words `validate` prints: routes that reach no canary, mirror routes that remove.
  for (const a of routeAdvice(canary, [], replicas)) {
    const index = a.path[1] as number;
    notes.add(`${a.level === 'warning' ? 'warning: ' : ''}step ${index + 1} (${describeStep(steps[index]!, canary.trafficRouting?.maxTrafficWeight)}): ${a.message}`);
  }
  steps.forEach((step, index) => {
    // Each row shows the state once its step is done, which the next step starts from.
    const status = { currentStepIndex: index, stableRS: 's', currentPodHash: 'c' };
    counts = settle(spec, status, counts);
    // Rows are in percent whatever scale the router's weights are on.
    const weight = routed ? (currentSetWeight(canary, status) * 100) / scale : Math.round((100 * counts.canary) / Math.max(1, counts.canary + counts.stable));
    const analyses: PlannedAnalysis[] = [];
    let pauseMs: number | undefined;
    let minMs = 0;
    let maxMs = 0;
    if ('pause' in step) {
      pauseMs = step.pause.duration === undefined ? Infinity : parseDurationMs(step.pause.duration);
      minMs = step.pause.duration === undefined ? 0 : pauseMs;
      maxMs = pauseMs;
    }
    if ('analysis' in step) {
      const a = planAnalysis('step', step.analysis, templates, notes);
      analyses.push(a);
      minMs = a.durationMs === Infinity ? 0 : a.durationMs;
      maxMs = a.metrics.some((m) => m.canBeInconclusive) ? Infinity : a.durationMs;
    }
    if (background && index >= (canary.analysis?.startingStep ?? 0)) analyses.push(background);
    earliest += minMs;
    latest += maxMs;
    // The guard judges only a canary that takes traffic.
    const det = detection(analyses, weight > 0 ? guard : undefined);
    rows.push({
      stepIndex: index, description: describeStep(step, scale), canaryWeight: weight, stableWeight: 100 - weight, replicas: counts, pauseMs, analyses,
      earliestFinishMs: earliest, latestFinishMs: latest, worstCaseRollbackMs: det.ms, rollbackNote: routed || det.ms === Infinity ? det.note : `${det.note}, then instances scale back`,
    });
  });
  const end = settle(spec, { currentStepIndex: steps.length, stableRS: 's', currentPodHash: 'c' }, counts);
  rows.push({
    stepIndex: undefined, description: 'promote: new revision becomes stable', canaryWeight: 100, stableWeight: 0, replicas: end, analyses: [],
    earliestFinishMs: earliest, latestFinishMs: latest, worstCaseRollbackMs: Infinity, rollbackNote: 'promoted: undo needs a person', promoted: true,
  });
}

function planBlueGreen(spec: RolloutSpec, bg: NonNullable<RolloutSpec['strategy']['blueGreen']>, templates: readonly AnalysisTemplate[] | undefined, rows: PlanRow[], notes: Set<string>): void {
  const replicas = spec.replicas ?? 1;
  const preview = bg.previewReplicaCount ?? replicas;
  let earliest = 0;
  let latest = 0;
  const row = (r: Omit<PlanRow, 'earliestFinishMs' | 'latestFinishMs' | 'worstCaseRollbackMs' | 'rollbackNote'>, minMs: number, maxMs: number, rollback?: { ms: number; note: string; promoted?: boolean }) => {
    earliest += minMs;
    latest += maxMs;
    rows.push({ ...r, earliestFinishMs: earliest, latestFinishMs: latest, worstCaseRollbackMs: rollback?.ms ?? 0, rollbackNote: rollback?.note ?? 'no user traffic on the preview', ...(rollback?.promoted ? { promoted: true } : {}) });
  };
  row({ stepIndex: undefined, description: `preview up: ${preview} instance${preview === 1 ? '' : 's'}, no user traffic`, canaryWeight: 0, stableWeight: 100, replicas: { stable: replicas, canary: preview }, analyses: [] }, 0, 0);
  if (bg.prePromotionAnalysis) {
    const a = planAnalysis('prePromotion', bg.prePromotionAnalysis, templates, notes);
    row({ stepIndex: undefined, description: 'pre-promotion analysis on the preview', canaryWeight: 0, stableWeight: 100, replicas: { stable: replicas, canary: preview }, analyses: [a] }, a.durationMs === Infinity ? 0 : a.durationMs, a.metrics.some((m) => m.canBeInconclusive) ? Infinity : a.durationMs);
  }
  if (bg.autoPromotionEnabled === false) {
    row({ stepIndex: undefined, description: 'wait for promote', canaryWeight: 0, stableWeight: 100, replicas: { stable: replicas, canary: preview }, pauseMs: Infinity, analyses: [] }, 0, Infinity);
  } else if (bg.autoPromotionSeconds !== undefined) {
    const waitMs = bg.autoPromotionSeconds * 1000;
    row({ stepIndex: undefined, description: `auto-promote after ${formatDurationMs(waitMs)}`, canaryWeight: 0, stableWeight: 100, replicas: { stable: replicas, canary: preview }, pauseMs: waitMs, analyses: [] }, 0, waitMs);
  }
  const post = bg.postPromotionAnalysis ? [planAnalysis('postPromotion', bg.postPromotionAnalysis, templates, notes)] : [];
  const det = detection(post);
  const postMs = post[0]?.durationMs ?? 0;
  row({ stepIndex: undefined, description: `switch all traffic to the new revision${post.length ? ', post-promotion analysis' : ''}`, canaryWeight: 100, stableWeight: 0, replicas: { stable: replicas, canary: replicas }, analyses: post },
    postMs === Infinity ? 0 : postMs, post.some((a) => a.metrics.some((m) => m.canBeInconclusive)) ? Infinity : postMs,
    { ms: det.ms, note: post.length ? `${det.note}; the old revision is still up` : det.note });
  const delayMs = (bg.scaleDownDelaySeconds ?? 30) * 1000;
  row({ stepIndex: undefined, description: `old revision scaled down after ${formatDurationMs(delayMs)}`, canaryWeight: 100, stableWeight: 0, replicas: { stable: 0, canary: replicas }, analyses: [] }, delayMs, delayMs,
    { ms: Infinity, note: 'promoted: undo needs a person', promoted: true });
}
