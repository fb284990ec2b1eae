import { describe, expect, it } from 'vitest';
import { retryAfterMsOf } from './retry-after.js';

describe('retryAfterMsOf', () => {
  it('reads the delay an error carries, or one an error it wraps carries', () => {
    expect(retryAfterMsOf(Object.assign(new Error('throttled'), { retryAfterMs: 1500 }))).toBe(1500);
    const inner = Object.assign(new Error('429'), { retryAfterMs: 2000 });
    expect(retryAfterMsOf(new Error('status not written', { cause: new Error('write failed', { cause: inner }) }))).toBe(2000);
  });

  it('the outermost hint wins', () => {
    const inner = Object.assign(new Error('429'), { retryAfterMs: 2000 });
    expect(retryAfterMsOf(Object.assign(new Error('outer', { cause: inner }), { retryAfterMs: 500 }))).toBe(500);
  });

  it('names no delay when none is carried, or one that is no duration', () => {
    expect(retryAfterMsOf(new Error('boom'))).toBeUndefined();
    expect(retryAfterMsOf(Object.assign(new Error('odd'), { retryAfterMs: -1 }))).toBeUndefined();
    expect(retryAfterMsOf(Object.assign(new Error('odd'), { retryAfterMs: '1000' }))).toBeUndefined();
    expect(retryAfterMsOf('a string')).toBeUndefined();
    expect(retryAfterMsOf(null)).toBeUndefined();
  });
});
