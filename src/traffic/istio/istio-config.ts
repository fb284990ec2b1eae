/**
 * Istio (`trafficRouting.istio`), validate half: the adapter that writes VirtualService weights
 * and DestinationRule subsets comes with the Kubernetes issue; until then documents naming it are
 * checked here, and the registry refuses to apply it.
 */
import type { RolloutSpec } from '../../documents/schema.js';
import { capabilityIssues } from '../capability-checks.js';
import type { TrafficCapability, TrafficIssue } from '../traffic-provider.js';
import type { TrafficValidator } from '../traffic-validator.js';

/** A VirtualService splits by weight, matches headers (cookies through the Cookie header) and mirrors. */
const ISTIO_CAPABILITIES: ReadonlySet<TrafficCapability> = new Set(['weight', 'headerRoute', 'cookieRoute', 'mirror', 'verify']);

/** Checks `trafficRouting.istio` of a rollout spec; see {@link istioTrafficValidator}. */
export function validateIstio(spec: RolloutSpec): TrafficIssue[] {
  const c = spec.strategy.canary;
  const istio = c?.trafficRouting?.istio;
  if (!c || !istio) return [];
  const at = ['strategy', 'canary', 'trafficRouting', 'istio'];
  const out: TrafficIssue[] = [];
  const { virtualService, virtualServices } = istio;
  if (!virtualService && !virtualServices) out.push({ path: at, reason: 'needs virtualService or virtualServices' });
  if (virtualService && virtualServices) out.push({ path: [...at, 'virtualServices'], reason: 'use either virtualService or virtualServices, not both' });
  // Host-level splitting shifts traffic between two Services; subsets of a DestinationRule do not need them.
  if (!istio.destinationRule) {
    for (const field of ['canaryService', 'stableService'] as const) {
      if (c[field] === undefined) out.push({ path: ['strategy', 'canary', field], reason: 'required with trafficRouting.istio' });
    }
  }
  return [...out, ...capabilityIssues('trafficRouting.istio', ISTIO_CAPABILITIES, spec)];
}

/** Istio, validation only (the adapter comes with the Kubernetes issue). */
export const istioTrafficValidator: TrafficValidator = { type: 'istio', capabilities: ISTIO_CAPABILITIES, validate: validateIstio };
