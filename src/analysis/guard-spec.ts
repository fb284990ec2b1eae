/**
 * The guard's settings as a document fragment, for `strategy.canary.guard` (to be added to
 * CanaryStrategy in src/spec/schema.ts as `guard: Type.Optional(GuardSpec)`). Every field is
 * optional; {@link guardParamsFromSpec} fills in the defaults of the pure guard.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Closed } from '../spec/schema.js';
import { DEFAULT_GUARD_PARAMS, type GuardParams } from './judge/guard.js';

const d = DEFAULT_GUARD_PARAMS;

export const GuardSpec = Closed(
  {
    enabled: Type.Optional(Type.Boolean({ description: 'judge the canary continuously against stable (default true behind the built-in router)' })),
    alpha: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 0.5, description: `probability of ever aborting a canary no worse than the margins, over the whole rollout (default ${d.alpha})` })),
    minRequests: Type.Optional(Type.Integer({ minimum: 0, description: `canary and stable requests before the guard reports Healthy rather than Inconclusive (default ${d.minRequests})` })),
    errorRateMargin: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1, description: `canary error rate above stable's by more than this fraction aborts (default ${d.errorRateMargin} = 1 point)` })),
    latencyQuantile: Type.Optional(Type.Number({ minimum: 0.5, exclusiveMaximum: 1, description: `stable latency quantile the slow threshold is built on (default ${d.latencyQuantile})` })),
    latencyFactor: Type.Optional(Type.Number({ minimum: 1, description: `slow threshold = this × stable's latency quantile (default ${d.latencyFactor})` })),
    latencyMargin: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1, description: `canary share of slow requests above stable's by more than this aborts (default ${d.latencyMargin})` })),
    latencyReferenceRequests: Type.Optional(Type.Integer({ minimum: 1, description: `stable requests used to fix the slow threshold (default ${d.latencyReferenceRequests})` })),
    restartEverySeconds: Type.Optional(Type.Integer({ minimum: 1, description: `seconds between fresh sequential tests, so late failures are caught fast (default ${d.restartEverySeconds})` })),
  },
  { description: 'continuous canary-versus-stable judgement on error rate and latency' },
);
export type GuardSpec = Static<typeof GuardSpec>;

/** The guard's parameters from the document fragment; `undefined` when the guard is turned off. */
export function guardParamsFromSpec(spec: GuardSpec | undefined): GuardParams | undefined {
  if (spec?.enabled === false) return undefined;
  const { enabled: _enabled, ...rest } = spec ?? {};
  const params: GuardParams = { ...DEFAULT_GUARD_PARAMS };
  for (const [key, value] of Object.entries(rest) as Array<[keyof GuardParams, number | undefined]>) {
    if (value !== undefined) params[key] = value;
  }
  return params;
}
