import { describe, expect, it } from 'vitest';
import { backoffDelayMs, DEFAULT_BACKOFF } from './backoff.js';

describe('backoffDelayMs', () => {
  const policy = { initialMs: 100, maxMs: 1_000, resetAfterMs: 5_000 };
  it.each([
    [0, 0],
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 800],
    [5, 1_000],
    [500, 1_000],
  ] as const)('failure %i → %i ms', (n, ms) => expect(backoffDelayMs(policy, n)).toBe(ms));
  it('defaults start at 1s and cap at 60s', () => {
    expect(backoffDelayMs(DEFAULT_BACKOFF, 1)).toBe(1_000);
    expect(backoffDelayMs(DEFAULT_BACKOFF, 30)).toBe(60_000);
  });
});
