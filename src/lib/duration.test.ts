import { describe, expect, it } from 'vitest';
import { formatDurationMs, parseDurationMs } from './duration.js';

describe('parseDurationMs', () => {
  it.each([
    ['30s', 30_000], ['5m', 300_000], ['1h', 3_600_000], ['250ms', 250], ['45', 45_000], [10, 10_000], ['0', 0],
  ] as const)('%s → %i ms', (input, ms) => expect(parseDurationMs(input)).toBe(ms));
  it.each(['', '5d', '-1s', '1.5s', 'soon'])('rejects %j', (input) => expect(() => parseDurationMs(input)).toThrow(/not a duration/));
  it('rejects a negative number', () => expect(() => parseDurationMs(-1)).toThrow(/not a duration/));
});

describe('formatDurationMs', () => {
  it.each([[850, '850ms'], [30_000, '30s'], [300_000, '5m'], [5_400_000, '1h30m'], [0, '0ms'], [Infinity, '∞']] as const)(
    '%d → %s', (ms, text) => expect(formatDurationMs(ms)).toBe(text));
});
