/**
 * What a Rollout may ask for that this controller cannot run: analysis and hooks where the cluster
 * serves no AnalysisRun API (the CRDs are not installed), a guard it cannot feed (no Prometheus to
 * read, or no query for its traffic: see metrics/prometheus/traffic-queries.ts), and what the Rollout's traffic cannot carry (header and
 * mirror routes without a router that takes them, a router whose API the cluster does not serve:
 * the traffic provider's `validate` says which). Each is refused as InvalidSpec with a sentence, never skipped
 * silently: a Rollout that says "judge the canary" must not be promoted unjudged.
 */
import type { RolloutSpec } from '../../documents/schema.js';
import type { TrafficProvider } from '../../traffic/traffic-provider.js';
import { guardQueryProblem } from '../../metrics/prometheus/traffic-queries.js';

export const NO_ANALYSIS_API = 'this cluster serves no AnalysisRun API (the AnalysisRun, AnalysisTemplate and ClusterAnalysisTemplate CRDs are not installed; install them and restart the controller), or remove the analysis to roll out without it';

/** What the controller was started with that decides what it can run. */
export interface ControllerAbilities {
  /** The guard's Prometheus (`--prometheus-url`); a Rollout may name its own. */
  prometheusUrl?: string | undefined;
  /** Whether the cluster serves the AnalysisRun API the runs are written to (default true). */
  analysisServed?: boolean | undefined;
}

/** The fields this controller refuses, by path; empty when it can run the spec. */
export function unsupportedFeatures(spec: RolloutSpec, traffic: Pick<TrafficProvider, 'validate'>, abilities: ControllerAbilities = {}): string[] {
  const analysisServed = abilities.analysisServed ?? true;
  const out: string[] = [];
  const canary = spec.strategy.canary;
  const blueGreen = spec.strategy.blueGreen;
  (canary?.steps ?? []).forEach((step, i) => {
    if ('analysis' in step && !analysisServed) out.push(`spec.strategy.canary.steps[${i}].analysis: ${NO_ANALYSIS_API}`);
  });
  if (canary?.analysis && !analysisServed) out.push(`spec.strategy.canary.analysis: ${NO_ANALYSIS_API}`);
  if (canary?.guard && canary.guard.enabled !== false) {
    const problem = guardQueryProblem(canary);
    if (problem) out.push(problem);
    if (abilities.prometheusUrl === undefined && canary.guard.prometheus?.address === undefined) {
      out.push('spec.strategy.canary.guard: the guard reads the canary’s requests from Prometheus, and none is set: start the controller with --prometheus-url (Helm value prometheus.url), set guard.prometheus.address, or set enabled: false');
    }
  }
  if (blueGreen?.prePromotionAnalysis && !analysisServed) out.push(`spec.strategy.blueGreen.prePromotionAnalysis: ${NO_ANALYSIS_API}`);
  if (blueGreen?.postPromotionAnalysis && !analysisServed) out.push(`spec.strategy.blueGreen.postPromotionAnalysis: ${NO_ANALYSIS_API}`);
  // Hooks run as one-metric AnalysisRuns (a Job): they need the same API.
  for (const hook of ['preRollout', 'prePromotion', 'postPromotion'] as const) if (spec.hooks?.[hook] && !analysisServed) out.push(`spec.hooks.${hook}: ${NO_ANALYSIS_API}`);
  for (const issue of traffic.validate(spec)) out.push(`spec${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('')}: ${issue.reason}`);
  return out;
}
