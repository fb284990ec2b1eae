/** Reading the delay a throttling API server asks for from client-node's ApiException. */
import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { MAX_SERVER_RETRY_AFTER_MS, serverRetryAfterMs } from '../../src/kube/retry-after.js';

const answer = (code: number, headers: Record<string, string>): ApiException<unknown> => new ApiException(code, 'refused', { kind: 'Status' }, headers);

describe('serverRetryAfterMs', () => {
  it('reads a 429\'s and a 503\'s Retry-After in seconds', () => {
    expect(serverRetryAfterMs(answer(429, { 'retry-after': '1' }))).toBe(1000);
    expect(serverRetryAfterMs(answer(503, { 'retry-after': '7' }))).toBe(7000);
    expect(serverRetryAfterMs(answer(429, { 'retry-after': '0' }))).toBe(0);
  });

  it('reads an HTTP-date against the clock', () => {
    const nowMs = Date.parse('2025-01-01T00:00:00Z');
    expect(serverRetryAfterMs(answer(429, { 'retry-after': 'Wed, 01 Jan 2025 00:00:05 GMT' }), { nowMs: () => nowMs })).toBe(5000);
    expect(serverRetryAfterMs(answer(429, { 'retry-after': 'Tue, 31 Dec 2024 23:59:00 GMT' }), { nowMs: () => nowMs })).toBe(0);
  });

  it('caps what a server asks at the work queue\'s longest back-off, or at the cap given', () => {
    expect(serverRetryAfterMs(answer(429, { 'retry-after': '3600' }))).toBe(MAX_SERVER_RETRY_AFTER_MS);
    expect(MAX_SERVER_RETRY_AFTER_MS).toBe(30_000);
    expect(serverRetryAfterMs(answer(429, { 'retry-after': '20' }), { maxMs: 5000 })).toBe(5000);
  });

  it('names no delay for other statuses, a missing or unreadable header, or an error that is no API answer', () => {
    expect(serverRetryAfterMs(answer(500, { 'retry-after': '1' }))).toBeUndefined();
    expect(serverRetryAfterMs(answer(409, { 'retry-after': '1' }))).toBeUndefined();
    expect(serverRetryAfterMs(answer(429, {}))).toBeUndefined();
    expect(serverRetryAfterMs(answer(429, { 'retry-after': 'soon' }))).toBeUndefined();
    expect(serverRetryAfterMs(answer(429, { 'retry-after': '-3' }))).toBeUndefined();
    expect(serverRetryAfterMs(answer(429, { 'retry-after': '1.5' }))).toBeUndefined();
    expect(serverRetryAfterMs(new Error('socket hang up'))).toBeUndefined();
    expect(serverRetryAfterMs(undefined)).toBeUndefined();
  });
});
