import { describe, expect, it } from 'vitest';
import { assessMeasurement } from './measurement.js';

describe('assessMeasurement (Argo semantics)', () => {
  it.each([
    // success, failure, value, phase
    [undefined, undefined, 0, 'Successful'],
    [undefined, undefined, 'anything', 'Successful'],
    ['result > 0.9', undefined, 0.95, 'Successful'],
    ['result > 0.9', undefined, 0.5, 'Failed'],
    [undefined, 'result > 0.1', 0.05, 'Successful'],
    [undefined, 'result > 0.1', 0.5, 'Failed'],
    ['result > 0.9', 'result < 0.5', 0.95, 'Successful'],
    ['result > 0.9', 'result < 0.5', 0.3, 'Failed'],
    ['result > 0.9', 'result < 0.5', 0.7, 'Inconclusive'],
    ['result > 0.5', 'result > 0.6', 0.7, 'Failed'],
    ['result[0] > 0.9', undefined, [], 'Error'],
    ['result', undefined, 1, 'Error'],
    [undefined, 'result > 1', 'text', 'Error'],
  ] as const)('success=%s failure=%s value=%j → %s', (successCondition, failureCondition, value, phase) => {
    const metric = { ...(successCondition ? { successCondition } : {}), ...(failureCondition ? { failureCondition } : {}) };
    expect(assessMeasurement(metric, value).phase).toBe(phase);
  });

  it('explains an Error with the evaluation problem', () => {
    expect(assessMeasurement({ successCondition: 'result[0] > 0.9' }, []).message).toMatch(/index 0 out of range/);
  });

  it.each([
    ['result >= 0.99', undefined, 'Error'],
    // Argo judges a NaN against a failure condition alone as not failing; that pass stands.
    [undefined, 'result < 0.99', 'Successful'],
    ['result >= 0.99', 'result < 0.9', 'Error'],
    ['isNaN(result) || result >= 0.99', undefined, 'Successful'],
  ] as const)('over no data, success=%s failure=%s → %s (an empty result is retried, never Failed)', (successCondition, failureCondition, phase) => {
    const metric = { ...(successCondition ? { successCondition } : {}), ...(failureCondition ? { failureCondition } : {}) };
    const verdict = assessMeasurement(metric, NaN, { noData: 'canary served no requests' });
    expect(verdict.phase).toBe(phase);
    if (phase === 'Error') expect(verdict.message).toBe('no data: canary served no requests');
  });
});
