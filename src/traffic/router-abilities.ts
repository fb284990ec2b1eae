/**
 * What the traffic router of a rollout can do with a route a person sets by hand, for the
 * engine's route operations: the capabilities every provider that routes the spec shares (each of
 * them must carry the route), named as people know them.
 */
import type { RolloutSpec } from '../documents/schema.js';
import type { RouterAbilities } from '../engine/index.js';
import type { TrafficPlace, TrafficRegistry } from './registry.js';
import type { TrafficCapability } from './traffic-provider.js';

/** How refusals name the providers, by type. */
const NAMES: Readonly<Record<string, string>> = {
  'service-selector': 'a Service selector',
  builtin: 'the built-in router',
  nginx: 'the ingress-nginx provider',
  istio: 'the Istio provider',
  plugins: 'the Gateway API provider',
};

/** The abilities of the providers that route `spec` in `place`; on Kubernetes route names must be in `managedRoutes`, as Argo has it. */
export function routerAbilities(registry: TrafficRegistry, spec: RolloutSpec, place: TrafficPlace): RouterAbilities {
  const types = registry.select(spec, place);
  const sets = types.map((t) => registry.capabilitiesOf(t) ?? new Set<TrafficCapability>());
  const capabilities = new Set<string>(sets.length === 0 ? [] : [...sets[0]!].filter((c) => sets.every((s) => s.has(c))));
  const name = types.length === 0 ? 'no traffic provider' : types.map((t) => NAMES[t] ?? `the ${t} provider`).join(' and ');
  return { name, capabilities, managedRoutesRequired: place === 'kubernetes' };
}
