/**
 * The verdict on one measured value, exactly as Argo Rollouts decides it:
 * - neither condition: Successful (only an error makes it anything else);
 * - only a success condition: Failed when it is false;
 * - only a failure condition: Successful when it is false;
 * - both: Failed when the failure condition holds, Successful when only the success condition
 *   holds, Inconclusive when neither does.
 * A condition that cannot be evaluated on the value (wrong type, index out of range, not a
 * boolean) makes the measurement an Error, never a pass.
 *
 * A measurement over no data (the provider says so with `noData`) is what Argo calls an empty
 * result: conditions that accept it (`isNaN(result) || result >= 0.99`) still pass, but anything
 * else makes it an Error saying there was no data, never Failed or Inconclusive. Errors do not
 * count toward `count` and are retried after the interval, so a step that measures right after
 * a weight change judges again once traffic has arrived.
 */
import { compileCondition, type CompiledCondition } from './condition.js';
import type { MeasurementPhase, ResolvedMetric } from './types.js';

/** The verdict and, when useful, why. */
export interface MeasurementVerdict {
  /** Successful, Failed, Inconclusive or Error. */
  phase: Exclude<MeasurementPhase, 'Running'>;
  /** Why (the condition that decided, or the evaluation error). */
  message?: string;
}

// Compiling is pure and deterministic, so caching by text is safe; bounded to stay small.
const cache = new Map<string, CompiledCondition>();
function compiled(text: string): CompiledCondition {
  let c = cache.get(text);
  if (!c) {
    if (cache.size > 500) cache.clear();
    c = compileCondition(text);
    cache.set(text, c);
  }
  return c;
}

/** Judges one value against the metric's conditions. */
export function assessMeasurement(
  metric: Pick<ResolvedMetric, 'successCondition' | 'failureCondition'>,
  value: unknown,
  options: { noData?: string | undefined } = {},
): MeasurementVerdict {
  const verdict = assessValue(metric, value);
  if (options.noData === undefined || verdict.phase === 'Successful') return verdict;
  return { phase: 'Error', message: `no data: ${options.noData}` };
}

function assessValue(metric: Pick<ResolvedMetric, 'successCondition' | 'failureCondition'>, value: unknown): MeasurementVerdict {
  const { successCondition: success, failureCondition: failure } = metric;
  if (!success && !failure) return { phase: 'Successful' };
  let successful: boolean;
  let failed: boolean;
  try {
    successful = success ? compiled(success).evaluate(value) : false;
    failed = failure ? compiled(failure).evaluate(value) : false;
  } catch (err) {
    return { phase: 'Error', message: (err as Error).message };
  }
  if (success && !failure) failed = !successful;
  if (failure && !success) successful = !failed;
  if (failed) return { phase: 'Failed', message: failure ? `failureCondition ${failure} is true` : `successCondition ${success} is false` };
  if (!successful) return { phase: 'Inconclusive', message: `neither ${success} nor ${failure} holds` };
  return { phase: 'Successful' };
}
