/**
 * The Service-selector traffic provider's validate half: what it can do, and the check of a spec.
 * It routes by pointing Kubernetes Services at one revision's pods, so a canary's share of
 * traffic is its share of ready replicas (the engine's replica math sizes them, as Argo Rollouts
 * does without a traffic router); nothing that needs a request-level route can be carried out.
 */
import type { RolloutSpec } from '../../documents/schema.js';
import { capabilityIssues } from '../capability-checks.js';
import type { TrafficCapability, TrafficIssue } from '../traffic-provider.js';
import type { TrafficValidator } from '../traffic-validator.js';

/** The provider's type: the Kubernetes default, for a Rollout that names no `trafficRouting`. */
export const SERVICE_SELECTOR_TYPE = 'service-selector';

/**
 * `weight` in the sense of Argo's replica split only (the runtime sizes the revisions, the
 * provider routes nothing by weight); `preview` through `previewService`; `verify` by reading the
 * selectors back.
 */
export const SERVICE_SELECTOR_CAPABILITIES: ReadonlySet<TrafficCapability> = new Set(['weight', 'preview', 'verify']);

/** Checks a rollout spec routed by Service selectors: request-level routes are refused, each with its path. */
export function validateServiceSelector(spec: RolloutSpec): TrafficIssue[] {
  const out = capabilityIssues('a Service selector', SERVICE_SELECTOR_CAPABILITIES, spec);
  // `preview` is declared for previewService; a header or cookie cannot reach a revision through a selector.
  if (spec.strategy.blueGreen?.allowPreviewHeader) {
    out.push({ path: ['strategy', 'blueGreen', 'allowPreviewHeader'], reason: 'allowPreviewHeader needs a traffic provider that can route by header or cookie; a Service selector cannot (reach the preview through previewService)' });
  }
  return out;
}

/** The Service-selector provider's validate half, for loading documents without a cluster at hand. */
export const serviceSelectorTrafficValidator: TrafficValidator = {
  type: SERVICE_SELECTOR_TYPE,
  capabilities: SERVICE_SELECTOR_CAPABILITIES,
  validate: validateServiceSelector,
};
