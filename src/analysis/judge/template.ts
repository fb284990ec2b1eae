/**
 * Turns an AnalysisTemplate spec plus the run's args into a {@link ResolvedTemplate}: `{{args.x}}`
 * substituted everywhere in each metric, durations parsed, counts and limits defaulted the way
 * Argo Rollouts does, conditions compiled. Everything a document can get wrong is reported here,
 * once, with the field's path — so a bad template is rejected at apply time, not mid-rollout.
 */
import type { AnalysisTemplateSpec, Metric } from '../../documents/schema.js';
import { parseDurationMs } from '../../lib/duration.js';
import { compileCondition, ConditionError } from './condition.js';
import type { ResolvedMetric, ResolvedTemplate } from './types.js';

/** What is wrong with a template or its args. */
export type AnalysisSpecErrorCode =
  | 'missing-arg'
  | 'invalid-value'
  | 'bad-condition'
  | 'duplicate-metric'
  | 'no-provider';

/** A template that cannot run as given; `path` names the field (`metrics[0].count`). */
export class AnalysisSpecError extends Error {
  override readonly name = 'AnalysisSpecError';
  constructor(
    /** Machine-readable kind. */
    readonly code: AnalysisSpecErrorCode,
    /** The offending field, e.g. `args.service` or `metrics[1].successCondition`. */
    readonly path: string,
    /** Why, in words. */
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/** An argument supplied by the rollout (or the template's default). */
export interface ArgValue {
  /** The arg's name as in `{{args.name}}`. */
  name: string;
  /** Its value; absent means it must come from the template's default. */
  value?: string;
}

/** What {@link resolveTemplate} needs. */
export interface ResolveTemplateInput {
  /** The template's spec (validated against the schema already). */
  spec: AnalysisTemplateSpec;
  /** Values from the rollout's `analysis.args`; `valueFrom` must already be resolved by the caller. */
  args?: readonly ArgValue[];
  /** Extra dry-run metric names from the rollout's `analysis.dryRun`, merged with the template's. */
  dryRun?: readonly string[];
}

/** Argo's default: four errors in a row are tolerated, the fifth fails the metric with Error. */
export const DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4;

const ARG_TAG = /\{\{\s*args\.([^}\s]+)\s*\}\}/g;

/** Resolves args and normalises every metric; throws {@link AnalysisSpecError} on the first problem. */
export function resolveTemplate(input: ResolveTemplateInput): ResolvedTemplate {
  const args = resolveArgs(input);
  const dryRunNames = new Set([...(input.spec.dryRun ?? []).map((d) => d.metricName), ...(input.dryRun ?? [])]);
  const names = new Set<string>();
  const metrics = input.spec.metrics.map((metric, i) => {
    const path = `metrics[${i}]`;
    if (names.has(metric.name)) throw new AnalysisSpecError('duplicate-metric', `${path}.name`, `metric "${metric.name}" is defined twice`);
    names.add(metric.name);
    return resolveMetric(substitute(metric, args, path), path, matchesDryRun(dryRunNames, metric.name));
  });
  for (const name of dryRunNames) {
    if (name !== '*' && !names.has(name)) {
      throw new AnalysisSpecError('invalid-value', 'dryRun', `dry-run metric "${name}" is not a metric of this template`);
    }
  }
  return { metrics, args };
}

/** Argo accepts `*` to put every metric in dry-run. */
function matchesDryRun(names: ReadonlySet<string>, name: string): boolean {
  return names.has('*') || names.has(name);
}

function resolveArgs(input: ResolveTemplateInput): Record<string, string> {
  const declared = new Map<string, string | undefined>();
  for (const arg of input.spec.args ?? []) declared.set(arg.name, arg.value);
  for (const arg of input.args ?? []) {
    // A rollout's args are shared by all its templates: ones this template does not declare are not for it.
    if (!declared.has(arg.name)) continue;
    if (arg.value !== undefined) declared.set(arg.name, arg.value);
  }
  const out: Record<string, string> = {};
  for (const [name, value] of declared) {
    if (value === undefined) throw new AnalysisSpecError('missing-arg', `args.${name}`, `arg "${name}" has no value (give it in the rollout's analysis.args)`);
    out[name] = value;
  }
  return out;
}

/** Replaces `{{args.x}}` in every string of the metric; an undeclared name is an error. */
function substitute(metric: Metric, args: Record<string, string>, path: string): Metric {
  const walk = (value: unknown, at: string): unknown => {
    if (typeof value === 'string') {
      return value.replace(ARG_TAG, (_tag, name: string) => {
        const v = args[name];
        if (v === undefined) throw new AnalysisSpecError('missing-arg', at, `{{args.${name}}} names no arg of this template`);
        return v;
      });
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, `${at}[${i}]`));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, `${at}.${k}`)]));
    }
    return value;
  };
  return walk(metric, path) as Metric;
}

function resolveMetric(metric: Metric, path: string, dryRun: boolean): ResolvedMetric {
  const providerTypes = Object.keys(metric.provider);
  if (providerTypes.length !== 1) throw new AnalysisSpecError('no-provider', `${path}.provider`, 'exactly one provider is required');
  for (const field of ['successCondition', 'failureCondition'] as const) {
    const text = metric[field];
    if (text === undefined || text === '') continue;
    try {
      compileCondition(text);
    } catch (err) {
      if (err instanceof ConditionError) throw new AnalysisSpecError('bad-condition', `${path}.${field}`, err.message);
      throw err;
    }
  }
  const intervalMs = metric.interval === undefined ? undefined : duration(metric.interval, `${path}.interval`);
  const initialDelayMs = metric.initialDelay === undefined ? 0 : duration(metric.initialDelay, `${path}.initialDelay`);
  const rawCount = integer(metric.count, `${path}.count`, 0);
  const failureLimit = integer(metric.failureLimit, `${path}.failureLimit`, -1) ?? 0;
  const inconclusiveLimit = integer(metric.inconclusiveLimit, `${path}.inconclusiveLimit`, 0) ?? 0;
  const consecutiveErrorLimit = integer(metric.consecutiveErrorLimit, `${path}.consecutiveErrorLimit`, 0) ?? DEFAULT_CONSECUTIVE_ERROR_LIMIT;
  // Argo: no count (or 0) means once without an interval, and indefinitely with one.
  const count = rawCount === undefined || rawCount === 0 ? (intervalMs === undefined ? 1 : undefined) : rawCount;
  const broken = countRuleViolation({ ...(rawCount === undefined ? {} : { count: rawCount }), hasInterval: intervalMs !== undefined, failureLimit, inconclusiveLimit });
  if (broken) throw new AnalysisSpecError('invalid-value', `${path}.${broken.field}`, broken.reason);
  const resolved: ResolvedMetric = {
    name: metric.name,
    providerType: providerTypes[0]!,
    provider: metric.provider,
    initialDelayMs,
    failureLimit,
    inconclusiveLimit,
    consecutiveErrorLimit,
    dryRun,
  };
  if (metric.successCondition) resolved.successCondition = metric.successCondition;
  if (metric.failureCondition) resolved.failureCondition = metric.failureCondition;
  if (intervalMs !== undefined) resolved.intervalMs = intervalMs;
  if (count !== undefined) resolved.count = count;
  return resolved;
}

/** A metric's count, interval and limits as written, for {@link countRuleViolation}. */
export interface CountRuleInput {
  /** `count` as written; absent or 0 means once without an interval, indefinitely with one. */
  count?: number;
  /** Whether an interval is given. */
  hasInterval: boolean;
  /** `failureLimit` (default 0). */
  failureLimit: number;
  /** `inconclusiveLimit` (default 0). */
  inconclusiveLimit: number;
}

/**
 * The first of Argo's rules tying count to interval and limits that a metric breaks: repeated
 * measurements need an interval, and no limit may exceed a fixed count (it could never be reached).
 */
export function countRuleViolation(m: CountRuleInput): { field: 'interval' | 'failureLimit' | 'inconclusiveLimit'; reason: string } | undefined {
  if (m.count === undefined || m.count === 0) return undefined;
  if (m.count > 1 && !m.hasInterval) return { field: 'interval', reason: `an interval is required when count is greater than 1 (count is ${m.count})` };
  if (m.failureLimit > m.count) return { field: 'failureLimit', reason: `failureLimit (${m.failureLimit}) cannot exceed count (${m.count})` };
  if (m.inconclusiveLimit > m.count) return { field: 'inconclusiveLimit', reason: `inconclusiveLimit (${m.inconclusiveLimit}) cannot exceed count (${m.count})` };
  return undefined;
}

function duration(value: string | number, path: string): number {
  try {
    return parseDurationMs(value);
  } catch (err) {
    throw new AnalysisSpecError('invalid-value', path, (err as Error).message);
  }
}

/** Counts and limits may be strings (`"{{args.count}}"`) that must become integers ≥ `min`. */
function integer(value: string | number | undefined, path: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : /^-?[0-9]+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isInteger(n) || n < min) {
    throw new AnalysisSpecError('invalid-value', path, `expected an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}
