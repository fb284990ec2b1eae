/**
 * Istio (`trafficRouting.istio`), validate half: what a document must say before the adapter
 * (istio-provider.ts) writes VirtualService weights and DestinationRule subsets. Registered on its
 * own where documents are only checked.
 */
import type { RolloutSpec } from '../../documents/schema.js';
import { capabilityIssues } from '../capability-checks.js';
import type { TrafficCapability, TrafficIssue } from '../traffic-provider.js';
import type { TrafficValidator } from '../traffic-validator.js';

/**
 * A VirtualService splits by weight, matches headers (cookies through the Cookie header), mirrors,
 * and pins a release's clients (a response header sets the pin cookie; routes match it).
 */
export const ISTIO_CAPABILITIES: ReadonlySet<TrafficCapability> = new Set(['weight', 'headerRoute', 'cookieRoute', 'mirror', 'releasePinning', 'verify']);

/** Checks `trafficRouting.istio` of a rollout spec; see {@link istioTrafficValidator}. */
export function validateIstio(spec: RolloutSpec): TrafficIssue[] {
  const c = spec.strategy.canary;
  const istio = c?.trafficRouting?.istio;
  // Without Istio settings only what the spec asks of any provider can be checked (the registry selects Istio by them).
  if (!c || !istio) return capabilityIssues('trafficRouting.istio', ISTIO_CAPABILITIES, spec);
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
  // Istio matches the one Cookie header with one pattern: two cookies in one route cannot both be required.
  (c.steps ?? []).forEach((step, i) => {
    if ('setHeaderRoute' in step && (step.setHeaderRoute.match ?? []).filter((m) => m.cookieName !== undefined).length > 1) {
      out.push({ path: ['strategy', 'canary', 'steps', i, 'setHeaderRoute', 'match'], reason: 'with trafficRouting.istio a header route can match one cookie' });
    }
  });
  return [...out, ...capabilityIssues('trafficRouting.istio', ISTIO_CAPABILITIES, spec)];
}

/** Istio, validation only (the adapter is in istio-provider.ts). */
export const istioTrafficValidator: TrafficValidator = { type: 'istio', capabilities: ISTIO_CAPABILITIES, validate: validateIstio };
