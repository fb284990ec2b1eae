import { describe, expect, it } from 'vitest';
import { parseServedBy } from './served-by.js';
import { classifyRequestError } from './request-failure.js';

describe('parseServedBy', () => {
  it.each([
    ['web@v2', { service: 'web', version: 'v2' }],
    [['api@v1', 'api@v2'], { service: 'api', version: 'v1' }],
    ['a@b@c', { service: 'a@b', version: 'c' }],
    ['web', undefined],
    ['@v2', undefined],
    ['web@', undefined],
    [undefined, undefined],
  ] as const)('%j → %j', (value, want) => {
    expect(parseServedBy(value as string | string[] | undefined)).toEqual(want);
  });
});

describe('classifyRequestError', () => {
  it.each([
    [{ code: 'UND_ERR_HEADERS_TIMEOUT' }, 'timeout'],
    [{ code: 'UND_ERR_CONNECT_TIMEOUT' }, 'timeout'],
    [{ name: 'TimeoutError' }, 'timeout'],
    [{ code: 'ECONNREFUSED' }, 'connection'],
    [{ code: 'UND_ERR_SOCKET' }, 'connection'],
    ['weird', 'connection'],
  ] as const)('%j → %s', (err, want) => {
    expect(classifyRequestError(err)).toBe(want);
  });
});
