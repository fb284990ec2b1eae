import { describe, expect, it } from 'vitest';
import { sameJson } from './same-json.js';

describe('sameJson', () => {
  it('is blind to key order and to undefined fields, not to values, array order or length', () => {
    expect(sameJson({ a: 1, b: [{ x: 'y', z: null }] }, { b: [{ z: null, x: 'y' }], a: 1 })).toBe(true);
    expect(sameJson({ a: 1, c: undefined }, { a: 1 })).toBe(true);
    expect(sameJson({ a: 1 }, { a: 2 })).toBe(false);
    expect(sameJson([1, 2], [2, 1])).toBe(false);
    expect(sameJson([1], [1, 1])).toBe(false);
    expect(sameJson({ a: [] }, { a: {} })).toBe(false);
    expect(sameJson({ a: 1 }, { a: 1, b: 0 })).toBe(false);
  });
});
