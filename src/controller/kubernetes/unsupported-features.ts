/**
 * What a Rollout may ask for that this controller cannot run yet: analysis (steps, background,
 * pre- and post-promotion), a guard it cannot feed (no Prometheus to read, or no query for its
 * traffic: see metrics/prometheus/traffic-queries.ts), and what the Rollout's traffic cannot carry (header and
 * mirror routes without a router that takes them, a router whose API the cluster does not serve:
 * the traffic provider's `validate` says which). Each is refused as InvalidSpec with a sentence, never skipped
 * silently: a Rollout that says "judge the canary" must not be promoted unjudged.
 */
import type { RolloutSpec } from '../../documents/schema.js';
import type { TrafficProvider } from '../../traffic/traffic-provider.js';
import { guardQueryProblem } from '../../metrics/prometheus/traffic-queries.js';

const ANALYSIS_LATER = 'analysis on Kubernetes comes with the next issue; remove it to roll out without it';

/** What the controller was started with that decides what it can run. */
export interface ControllerAbilities {
  /** The guard's Prometheus (`--prometheus-url`); a Rollout may name its own. */
  prometheusUrl?: string | undefined;
}

/** The fields this controller refuses, by path; empty when it can run the spec. */
export function unsupportedFeatures(spec: RolloutSpec, traffic: Pick<TrafficProvider, 'validate'>, abilities: ControllerAbilities = {}): string[] {
  const out: string[] = [];
  const canary = spec.strategy.canary;
  const blueGreen = spec.strategy.blueGreen;
  (canary?.steps ?? []).forEach((step, i) => {
    if ('analysis' in step) out.push(`spec.strategy.canary.steps[${i}].analysis: ${ANALYSIS_LATER}`);
  });
  if (canary?.analysis) out.push(`spec.strategy.canary.analysis: ${ANALYSIS_LATER}`);
  if (canary?.guard && canary.guard.enabled !== false) {
    const problem = guardQueryProblem(canary);
    if (problem) out.push(problem);
    if (abilities.prometheusUrl === undefined && canary.guard.prometheus?.address === undefined) {
      out.push('spec.strategy.canary.guard: the guard reads the canary’s requests from Prometheus, and none is set: start the controller with --prometheus-url (Helm value prometheus.url), set guard.prometheus.address, or set enabled: false');
    }
  }
  if (blueGreen?.prePromotionAnalysis) out.push(`spec.strategy.blueGreen.prePromotionAnalysis: ${ANALYSIS_LATER}`);
  if (blueGreen?.postPromotionAnalysis) out.push(`spec.strategy.blueGreen.postPromotionAnalysis: ${ANALYSIS_LATER}`);
  for (const issue of traffic.validate(spec)) out.push(`spec${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('')}: ${issue.reason}`);
  return out;
}
