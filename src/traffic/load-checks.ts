/** What the traffic layer checks in documents at load time, for the loader's `LoadChecks`. */
import type { LoadChecks } from '../documents/load.js';
import { validationRegistry, type TrafficRegistry } from './registry.js';
import { dataPlaneIssues } from './data-plane-checks.js';

/** The loader's traffic hook, asking the providers each strategy selects through `registry`. */
export function trafficLoadChecks(registry: TrafficRegistry = validationRegistry()): LoadChecks {
  return { traffic: ({ spec, place }) => registry.validate(spec, place), dataPlane: dataPlaneIssues };
}
