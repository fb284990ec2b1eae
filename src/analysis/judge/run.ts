/**
 * Judging an analysis run, purely: from the resolved template, the measurements so far, when the
 * run started and `now`, decide each metric's phase, the run's phase, and when each metric must
 * be measured next. The rules are Argo Rollouts':
 *
 * - a metric is Failed when failed > failureLimit (unless -1), Inconclusive when inconclusive >
 *   inconclusiveLimit, Error when consecutive errors > consecutiveErrorLimit; if several hold the
 *   later one wins (Error over Inconclusive over Failed), as in Argo;
 * - otherwise it is Successful once `count` measurements (errors not counted) are taken, and
 *   runs on while it has no count;
 * - errors do not count toward `count` and are retried after `interval` (10 s without one);
 * - the run takes the worst completed phase of its non-dry-run metrics (Failed > Error >
 *   Inconclusive > Successful); one Failed, Error or Inconclusive metric terminates the run at once,
 *   and so does an explicit stop (`terminate`): open-ended metrics then count as Successful;
 * - dry-run metrics are measured and reported but never decide the run.
 */
import type { AnalysisPhase, Measurement, ResolvedMetric, ResolvedTemplate } from './types.js';

/** Argo's retry delay after an Error on a metric without an interval. */
export const ERROR_RETRY_INTERVAL_MS = 10_000;

/** Tallies of a metric's finished measurements. */
export interface MetricCounts {
  /** Measurements that count toward `count`: Successful + Failed + Inconclusive. */
  count: number;
  successful: number;
  failed: number;
  inconclusive: number;
  error: number;
  /** Errors since the last non-error measurement. */
  consecutiveError: number;
}

/** One metric's state. */
export interface MetricJudgement extends MetricCounts {
  /** The metric's name. */
  name: string;
  /** Pending (nothing yet), Running, or a completed phase. */
  phase: AnalysisPhase;
  /** True for a dry-run metric. */
  dryRun: boolean;
  /** Why it completed as it did, when not simply Successful. */
  message?: string;
  /** A measurement is due now (or overdue). */
  measureNow: boolean;
  /** When the next measurement is due (ms since epoch); absent when none will be taken or one is in flight. */
  nextMeasurementAtMs?: number;
}

/** The run's state. */
export interface RunJudgement {
  /** Running until every metric is done or one decides the run. */
  phase: AnalysisPhase;
  /** Why, for a run that did not end Successful (names the deciding metric). */
  message?: string;
  /** Per metric, in template order. */
  metrics: MetricJudgement[];
  /** Metrics due now (the runner measures these). */
  due: string[];
  /** The earliest future time a measurement is due; absent when the run is done or only in-flight work remains. */
  nextWakeAtMs?: number;
  /** Phases of the dry-run metrics, for display: what they would have decided. */
  dryRunPhase?: AnalysisPhase;
}

/** What {@link judgeRun} needs. */
export interface JudgeRunInput {
  /** The resolved template. */
  template: ResolvedTemplate;
  /** All measurements of this run so far (any order within a metric is by `startedAtMs`). */
  measurements: readonly Measurement[];
  /** When the run started (ms since epoch); initialDelay counts from here. */
  startedAtMs: number;
  /** The current time (ms since epoch). */
  nowMs: number;
  /** The rollout asked the run to stop (promoted, aborted, step ended). */
  terminate?: boolean;
}

const COMPLETED: ReadonlySet<AnalysisPhase> = new Set(['Successful', 'Failed', 'Inconclusive', 'Error']);
const SEVERITY: Record<AnalysisPhase, number> = { Pending: 0, Running: 1, Successful: 2, Inconclusive: 3, Error: 4, Failed: 5 };

/** True for Successful, Failed, Inconclusive and Error. */
export function isCompleted(phase: AnalysisPhase): boolean {
  return COMPLETED.has(phase);
}

/** Decides the run. Deterministic: same input, same output. */
export function judgeRun(input: JudgeRunInput): RunJudgement {
  const byMetric = new Map<string, Measurement[]>();
  for (const m of input.measurements) {
    const list = byMetric.get(m.metricName) ?? [];
    list.push(m);
    byMetric.set(m.metricName, list);
  }
  for (const list of byMetric.values()) list.sort((a, b) => a.startedAtMs - b.startedAtMs);

  // First pass without termination to learn whether a real metric already decided the run.
  const first = input.template.metrics.map((metric) => assessMetric(metric, byMetric.get(metric.name) ?? [], false));
  const terminating = Boolean(input.terminate) || input.template.metrics.some((metric, i) =>
    !metric.dryRun && ['Failed', 'Error', 'Inconclusive'].includes(first[i]!.phase));
  const assessed = terminating
    ? input.template.metrics.map((metric) => assessMetric(metric, byMetric.get(metric.name) ?? [], true))
    : first;

  let worst: AnalysisPhase | undefined;
  let worstMessage: string | undefined;
  let dryWorst: AnalysisPhase | undefined;
  let everythingCompleted = true;
  let inFlight = false;
  const metrics: MetricJudgement[] = [];
  const due: string[] = [];
  let nextWakeAtMs: number | undefined;

  input.template.metrics.forEach((metric, i) => {
    const a = assessed[i]!;
    const list = byMetric.get(metric.name) ?? [];
    const judgement: MetricJudgement = { name: metric.name, phase: a.phase, dryRun: metric.dryRun, measureNow: false, ...a.counts };
    if (a.message) judgement.message = a.message;
    if (!isCompleted(a.phase)) everythingCompleted = false;
    if (isCompleted(a.phase)) {
      if (metric.dryRun) {
        if (!dryWorst || SEVERITY[a.phase] > SEVERITY[dryWorst]) dryWorst = a.phase;
      } else if (!worst || SEVERITY[a.phase] > SEVERITY[worst]) {
        worst = a.phase;
        worstMessage = a.message ? `metric "${metric.name}" assessed ${a.phase}: ${a.message}` : undefined;
      }
    }
    const last = list[list.length - 1];
    if (last && last.finishedAtMs === undefined) inFlight = true;
    else if (!isCompleted(a.phase) && !terminating) {
      const at = nextDue(metric, last, a.counts, input.startedAtMs);
      if (at !== undefined) {
        judgement.nextMeasurementAtMs = at;
        if (at <= input.nowMs) {
          judgement.measureNow = true;
          due.push(metric.name);
        } else if (nextWakeAtMs === undefined || at < nextWakeAtMs) {
          nextWakeAtMs = at;
        }
      }
    }
    metrics.push(judgement);
  });

  let phase: AnalysisPhase;
  if (terminating && !inFlight) phase = worst ?? 'Successful';
  else if (!everythingCompleted) phase = 'Running';
  else phase = worst ?? 'Successful';
  const result: RunJudgement = { phase, metrics, due };
  if (worstMessage && phase !== 'Successful' && isCompleted(phase)) result.message = worstMessage;
  if (!isCompleted(phase) && nextWakeAtMs !== undefined) result.nextWakeAtMs = nextWakeAtMs;
  if (dryWorst) result.dryRunPhase = dryWorst;
  return result;
}

/** Tallies finished measurements the way Argo's controller does as it records them. */
export function countMeasurements(list: readonly Measurement[]): MetricCounts {
  const c: MetricCounts = { count: 0, successful: 0, failed: 0, inconclusive: 0, error: 0, consecutiveError: 0 };
  for (const m of list) {
    switch (m.phase) {
      case 'Successful': c.successful++; c.count++; c.consecutiveError = 0; break;
      case 'Failed': c.failed++; c.count++; c.consecutiveError = 0; break;
      case 'Inconclusive': c.inconclusive++; c.count++; c.consecutiveError = 0; break;
      case 'Error': c.error++; c.consecutiveError++; break;
      default: break;
    }
  }
  return c;
}

interface Assessed { phase: AnalysisPhase; message?: string; counts: MetricCounts }

function assessMetric(metric: ResolvedMetric, list: readonly Measurement[], terminating: boolean): Assessed {
  const counts = countMeasurements(list);
  if (list.length === 0) return { phase: terminating ? 'Successful' : 'Pending', counts };
  const last = list[list.length - 1]!;
  if (last.phase === 'Running' || last.finishedAtMs === undefined) return { phase: 'Running', counts };
  let phase: AnalysisPhase | undefined;
  let message: string | undefined;
  if (metric.failureLimit >= 0 && counts.failed > metric.failureLimit) {
    phase = 'Failed';
    // What the failing measurement said (a command's exit code and stderr) is what a person needs first.
    message = `failed (${counts.failed}) > failureLimit (${metric.failureLimit})${last.phase === 'Failed' && last.message ? `; last: ${last.message}` : ''}`;
  }
  if (counts.inconclusive > metric.inconclusiveLimit) {
    phase = 'Inconclusive';
    message = `inconclusive (${counts.inconclusive}) > inconclusiveLimit (${metric.inconclusiveLimit})`;
  }
  if (counts.consecutiveError > metric.consecutiveErrorLimit) {
    phase = 'Error';
    message = `consecutive errors (${counts.consecutiveError}) > consecutiveErrorLimit (${metric.consecutiveErrorLimit})${last.message ? `; last: ${last.message}` : ''}`;
  }
  if (phase) return message ? { phase, message, counts } : { phase, counts };
  if (metric.count !== undefined && counts.count >= metric.count) return { phase: 'Successful', counts };
  return { phase: terminating ? 'Successful' : 'Running', counts };
}

function nextDue(metric: ResolvedMetric, last: Measurement | undefined, counts: MetricCounts, startedAtMs: number): number | undefined {
  if (!last) return startedAtMs + metric.initialDelayMs;
  if (metric.count !== undefined && counts.count >= metric.count) return undefined;
  const interval = metric.intervalMs ?? ERROR_RETRY_INTERVAL_MS;
  return (last.finishedAtMs ?? last.startedAtMs) + interval;
}
