/** The built-in router (`trafficRouting.builtin`), validate half: what it can do, and the check of a spec. */
import type { RolloutSpec } from '../../documents/schema.js';
import { capabilityIssues } from '../capability-checks.js';
import type { TrafficCapability, TrafficIssue } from '../traffic-provider.js';
import type { TrafficValidator } from '../traffic-validator.js';

/** graylane's own router does everything a rollout can ask of routing. */
export const BUILTIN_CAPABILITIES: ReadonlySet<TrafficCapability> = new Set([
  'weight', 'headerRoute', 'cookieRoute', 'mirror', 'preview', 'releasePinning', 'verify',
]);

/** Checks a rollout spec routed by the built-in router: `builtin: {}` has no settings, so only capabilities. */
export function validateBuiltin(spec: RolloutSpec): TrafficIssue[] {
  return capabilityIssues('the built-in router', BUILTIN_CAPABILITIES, spec);
}

/** The built-in router's validate half, for loading documents without a router at hand. */
export const builtinTrafficValidator: TrafficValidator = { type: 'builtin', capabilities: BUILTIN_CAPABILITIES, validate: validateBuiltin };
