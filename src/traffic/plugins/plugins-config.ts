/**
 * Argo's traffic router plugins (`trafficRouting.plugins`, Gateway API among them), validate
 * half: the Gateway API adapter comes with the Kubernetes issue; until then documents naming
 * plugins load as they do in Argo, and the registry refuses to apply them.
 */
import type { RolloutSpec } from '../../documents/schema.js';
import { capabilityIssues } from '../capability-checks.js';
import type { TrafficCapability, TrafficIssue } from '../traffic-provider.js';
import type { TrafficValidator } from '../traffic-validator.js';

/** An HTTPRoute splits by weight, matches headers (cookies through the Cookie header) and mirrors. */
const PLUGINS_CAPABILITIES: ReadonlySet<TrafficCapability> = new Set(['weight', 'headerRoute', 'cookieRoute', 'mirror', 'verify']);

/** Checks a rollout spec naming `trafficRouting.plugins`; a plugin's own block is its own business. */
export function validatePlugins(spec: RolloutSpec): TrafficIssue[] {
  if (spec.strategy.canary?.trafficRouting?.plugins === undefined) return [];
  return capabilityIssues('trafficRouting.plugins', PLUGINS_CAPABILITIES, spec);
}

/** Traffic router plugins, validation only (the Gateway API adapter comes with the Kubernetes issue). */
export const pluginsTrafficValidator: TrafficValidator = { type: 'plugins', capabilities: PLUGINS_CAPABILITIES, validate: validatePlugins };
