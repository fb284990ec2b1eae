/**
 * The guard's settings come from `strategy.canary.guard` (the `GuardSpec` fragment lives in the
 * schema source, src/documents/schema.ts). Every field is optional; {@link guardParamsFromSpec} fills
 * in the defaults of the pure guard.
 */
import { GuardSpec } from '../documents/schema.js';
import { DEFAULT_GUARD_PARAMS, type GuardParams } from './judge/guard.js';

export { GuardSpec };

/** The guard's parameters from the document fragment; `undefined` when the guard is turned off. */
export function guardParamsFromSpec(spec: GuardSpec | undefined): GuardParams | undefined {
  if (spec?.enabled === false) return undefined;
  // minCanaryRequests gates the steps (the engine), not the guard's test; prometheus says where counters are read.
  const { enabled: _enabled, minCanaryRequests: _minCanaryRequests, prometheus: _prometheus, ...rest } = spec ?? {};
  const params: GuardParams = { ...DEFAULT_GUARD_PARAMS };
  for (const [key, value] of Object.entries(rest) as Array<[keyof GuardParams, number | undefined]>) {
    if (value !== undefined) params[key] = value;
  }
  return params;
}
