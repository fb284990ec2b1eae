import { describe, expect, it } from 'vitest';
import { compileCondition, ConditionError, evaluateCondition } from './condition.js';

describe('evaluateCondition', () => {
  it.each([
    ['result >= 0.99', 0.995, true],
    ['result >= 0.99', 0.98, false],
    ['result[0] < 0.5', [0.4, 0.9], true],
    ['result[-1] < 0.5', [0.4, 0.9], false],
    ['len(result) > 0', [], false],
    ['len(result) == 2', { a: 1, b: 2 }, true],
    ['len(result) == 3', 'abc', true],
    ['isNaN(result)', NaN, true],
    ['isNaN(result)', 1, false],
    ['isInf(result)', -Infinity, true],
    ['result.data.ok == true', { data: { ok: true } }, true],
    ['result["data"]["ok"]', { data: { ok: true } }, true],
    ['result.missing == nil', {}, true],
    ['result > 1 && result < 3', 2, true],
    ['result > 1 and result < 3', 5, false],
    ['result < 1 || result > 3', 5, true],
    ['result < 1 or result > 3', 2, false],
    ['!(result > 1)', 0, true],
    ['not (result > 1)', 0, true],
    ['result * 100 + 1 - 2 / 2 == 100', 1, true],
    ['result % 3 == 1 && 2 ** 3 == 8', 4, true],
    ['-result < 0', 2, true],
    ['asInt(result) == 42', '42', true],
    ['asInt(result) == 4', 4.9, true],
    ['asFloat(result) > 0.5', '0.75', true],
    ['isInf(asFloat(result))', '+Inf', true],
    ['isNaN(asFloat(result))', 'NaN', true],
    ['default(result, 0) == 0', null, true],
    ['default(result, 0) == 5', 5, true],
    ['isNil(result)', null, true],
    ['all(result, {# > 0.5})', [0.6, 0.7], true],
    ['all(result, {# > 0.5})', [0.6, 0.4], false],
    ['any(result, {# > 0.5})', [0.1, 0.7], true],
    ['none(result, # > 0.5)', [0.1, 0.2], true],
    ['len(filter(result, {# > 1})) == 2', [1, 2, 3], true],
    ['sum(map(result, {# * 2})) == 12', [1, 2, 3], true],
    ['max(result) == 3 && min(result) == 1', [1, 3, 2], true],
    ['abs(result) == 2', -2, true],
    ['result == "ok"', 'ok', true],
    ['result + "!" == "ok!"', 'ok', true],
    ['result in ["a", "b"]', 'b', true],
    ['"x" in result', { x: 1 }, true],
    ['result == [1, 2]', [1, 2], true],
    ['result > 1 ? result < 3 : false', 2, true],
    ['result.a.b == nil || result.a.b > 1', { a: {} }, true],
  ] as const)('%s with %j → %s', (text, result, expected) => {
    expect(evaluateCondition(text, result)).toBe(expected);
  });
});

describe('compileCondition rejects bad expressions at apply time', () => {
  it.each([
    ['', 'syntax'],
    ['result >=', 'syntax'],
    ['result >= 0.99)', 'syntax'],
    ['(result', 'syntax'],
    ['result; 1', 'syntax'],
    ['results > 1', 'unknown-identifier'],
    ['this.x', 'unknown-identifier'],
    ['process.exit(1)', 'unsupported'],
    ['constructor', 'unknown-identifier'],
    ['eval("1")', 'unknown-function'],
    ['result.toString()', 'unsupported'],
    ['len()', 'arity'],
    ['default(result)', 'arity'],
    ['result & 1', 'unsupported'],
    ['result =~ /x/', 'syntax'],
    ['# > 1', 'unknown-identifier'],
    ['{# > 1}', 'unsupported'],
  ] as const)('%j → %s', (text, code) => {
    const err = catchError(() => compileCondition(text));
    expect(err).toBeInstanceOf(ConditionError);
    expect((err as ConditionError).code).toBe(code);
    expect((err as ConditionError).message).toContain(JSON.stringify(text));
  });

  it('reports the position of a syntax error', () => {
    const err = catchError(() => compileCondition('result >= ')) as ConditionError;
    expect(err.position).toBeGreaterThanOrEqual(7);
    const unknown = catchError(() => compileCondition('result > 1 && foo')) as ConditionError;
    expect(unknown.position).toBe(14);
    expect(unknown.reason).toMatch(/unknown name "foo"/);
  });
});

describe('evaluation errors (a measurement Error, never a pass)', () => {
  it.each([
    ['result', 0.5, 'not-boolean'],
    ['result + 1', 1, 'not-boolean'],
    ['result[0] > 1', [], 'index'],
    ['result[0] > 1', 3, 'type'],
    ['result > 1', 'abc', 'type'],
    ['result > 1', null, 'type'],
    ['result && true', 1, 'type'],
    ['result.a > 1', null, 'type'],
    ['len(result) > 1', 5, 'type'],
    ['isNaN(result)', '1', 'type'],
    ['asInt(result) > 1', 'x', 'type'],
    ['asFloat(result) > 1', 'x', 'type'],
    ['all(result, {# > 1})', 5, 'type'],
    ['result % 0 == 1', 5, 'type'],
  ] as const)('%s with %j → %s', (text, result, code) => {
    const err = catchError(() => evaluateCondition(text, result));
    expect(err).toBeInstanceOf(ConditionError);
    expect((err as ConditionError).code).toBe(code);
  });

  it('never reaches prototype properties', () => {
    expect(evaluateCondition('result.constructor == nil', {})).toBe(true);
    expect(evaluateCondition('result["__proto__"] == nil', {})).toBe(true);
    expect(() => evaluateCondition('result.length == 2', [1, 2])).toThrow(ConditionError);
  });

  it('can be evaluated many times once compiled', () => {
    const c = compileCondition('result[0] >= 0.95');
    expect([[0.96], [0.9], [1]].map((v) => c.evaluate(v))).toEqual([true, false, true]);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}
