import { describe, expect, it } from 'vitest';
import { MICRO_TIME_PATTERN, MicroTimeError, formatMicroTime, parseMicroTime } from '../../src/kube/micro-time.js';

describe('MicroTime', () => {
  it('formats with exactly six fractional digits, in UTC', () => {
    const text = formatMicroTime(Date.UTC(2026, 10, 28, 13, 0, 0, 123));
    expect(text).toBe('2026-11-28T13:00:00.123000Z');
    expect(text).toMatch(MICRO_TIME_PATTERN);
    expect(formatMicroTime(Date.UTC(2026, 0, 1))).toBe('2026-01-01T00:00:00.000000Z');
  });

  it('reads back what it wrote, and what servers and clients send', () => {
    const ms = Date.UTC(2026, 10, 28, 13, 0, 0, 123);
    expect(parseMicroTime(formatMicroTime(ms))).toBe(ms);
    // Digits past the millisecond are dropped, not rounded up.
    expect(parseMicroTime('2026-11-28T13:00:00.123999Z')).toBe(ms);
    expect(parseMicroTime('2026-11-28T13:00:00Z')).toBe(ms - 123);
    expect(parseMicroTime('2026-11-28T14:00:00.123456+01:00')).toBe(ms);
    expect(parseMicroTime(new Date(ms))).toBe(ms);
  });

  it('refuses what is not a timestamp, with a code', () => {
    for (const bad of ['', 'yesterday', '2026-11-28 13:00:00Z', '2026-13-45T13:00:00.000000Z']) {
      expect(() => parseMicroTime(bad)).toThrow(MicroTimeError);
    }
    expect(() => parseMicroTime(new Date(Number.NaN))).toThrow(expect.objectContaining({ code: 'invalid-micro-time' }));
    expect(() => formatMicroTime(Number.NaN)).toThrow(MicroTimeError);
  });
});
