import { describe, expect, it } from 'vitest';
import { compileStringMatch, cookieValue, underPrefix } from './matchers.js';

describe('cookieValue', () => {
  it.each([
    ['a=1; b=2', 'b', '2'],
    ['a=1;b=2', 'b', '2'],
    ['b=2', 'b', '2'],
    ['ab=1; b=2', 'b', '2'],
    ['xb=1', 'b', undefined],
    ['b', 'b', undefined],
    ['a=b=3', 'b', undefined],
    ['b="quoted"', 'b', 'quoted'],
    ['b=', 'b', ''],
    [undefined, 'b', undefined],
  ])('%s → %s = %s', (header, name, expected) => {
    expect(cookieValue(header, name)).toBe(expected);
  });
});

describe('underPrefix', () => {
  it.each([
    ['/', '/', true],
    ['/anything', '/', true],
    ['/api', '/api', true],
    ['/api/x', '/api', true],
    ['/api?x=1', '/api', true],
    ['/apix', '/api', false],
    ['/ap', '/api', false],
    ['/api/x', '/api/', true],
    ['/api', '/api/', false],
  ])('%s under %s: %s', (path, prefix, expected) => {
    expect(underPrefix(path, prefix)).toBe(expected);
  });
});

describe('compileStringMatch', () => {
  it.each([
    [{ exact: 'a' }, 'a', true],
    [{ exact: 'a' }, 'ab', false],
    [{ prefix: 'a' }, 'ab', true],
    [{ prefix: 'b' }, 'ab', false],
    [{ regex: '^v[0-9]+$' }, 'v12', true],
    [{ regex: '^v[0-9]+$' }, 'v12x', false],
    [{ regex: 'b' }, 'abc', true],
    [undefined, 'anything', true],
  ])('%j on %s: %s', (m, value, expected) => {
    expect(compileStringMatch(m)(value)).toBe(expected);
  });
});
