/** What the analysis layer checks in documents at load time, for the loader's `LoadChecks`. */
import type { LoadChecks } from '../documents/load.js';
import type { Metric } from '../documents/schema.js';
import type { PathSegment } from '../documents/source.js';
import { jobBlockIssues } from './job-block.js';
import { compileCondition, ConditionError } from './judge/condition.js';
import { countRuleViolation } from './judge/template.js';

// Counts and limits may still be `{{args.x}}`: those are checked when the run fills them in.
const literal = (v: string | number | undefined): number | undefined => (typeof v === 'number' ? v : undefined);

/** Argo's count rules on literal values, and what Kubernetes refuses in a job block. */
function checkMetric(metric: Metric): Array<{ path: PathSegment[]; reason: string }> {
  const out: Array<{ path: PathSegment[]; reason: string }> = [];
  const count = literal(metric.count);
  const failureLimit = metric.failureLimit === undefined ? 0 : literal(metric.failureLimit);
  const inconclusiveLimit = metric.inconclusiveLimit === undefined ? 0 : literal(metric.inconclusiveLimit);
  if (count !== undefined && failureLimit !== undefined && inconclusiveLimit !== undefined) {
    const broken = countRuleViolation({ count, hasInterval: metric.interval !== undefined, failureLimit, inconclusiveLimit });
    if (broken) out.push({ path: [broken.field], reason: broken.reason });
  }
  if (metric.provider.job !== undefined) {
    for (const issue of jobBlockIssues(metric.provider.job)) out.push({ path: ['provider', 'job', ...issue.path], reason: issue.reason });
  }
  return out;
}

/** Conditions are compiled, and metrics checked, when a document is validated or applied, not first at run time. */
export const analysisLoadChecks: LoadChecks = {
  condition: (expression) => {
    try {
      compileCondition(expression);
      return undefined;
    } catch (err) {
      if (err instanceof ConditionError) return `${err.reason}${err.position === undefined ? '' : ` (at character ${err.position + 1})`}`;
      throw err;
    }
  },
  metric: checkMetric,
};
