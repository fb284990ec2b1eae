import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { CanaryGuard, DEFAULT_GUARD_PARAMS } from './judge/guard.js';
import { GuardSpec, guardParamsFromSpec } from './guard-spec.js';

describe('GuardSpec', () => {
  it('where the counters come from (guard.prometheus) is no parameter of the test', () => {
    expect(guardParamsFromSpec({ alpha: 0.01, prometheus: { address: 'http://prom:9090' } })).toEqual({ ...DEFAULT_GUARD_PARAMS, alpha: 0.01 });
  });

  it('accepts an empty block and fills defaults', () => {
    expect(Value.Check(GuardSpec, {})).toBe(true);
    expect(guardParamsFromSpec({})).toEqual(DEFAULT_GUARD_PARAMS);
    expect(guardParamsFromSpec(undefined)).toEqual(DEFAULT_GUARD_PARAMS);
  });
  it('overrides what is given and can turn the guard off', () => {
    expect(guardParamsFromSpec({ alpha: 0.01, errorRateMargin: 0.02 })).toMatchObject({ alpha: 0.01, errorRateMargin: 0.02, latencyFactor: 1.5 });
    expect(guardParamsFromSpec({ enabled: false })).toBeUndefined();
  });
  it.each([[{ alpha: 0 }], [{ alpha: 0.5 }], [{ minRequests: -1 }], [{ latencyFactor: 0.9 }], [{ unknown: 1 }], [{ errorRateMargin: 1 }]])(
    'rejects %j', (doc) => expect(Value.Check(GuardSpec, doc)).toBe(false));
  it('every schema-valid document makes a valid guard', () => {
    const params = guardParamsFromSpec({ alpha: 0.4999, minRequests: 0, errorRateMargin: 0, latencyQuantile: 0.5, latencyFactor: 1, latencyMargin: 0, latencyReferenceRequests: 1, restartEverySeconds: 1 });
    expect(() => new CanaryGuard(params)).not.toThrow();
  });
});
