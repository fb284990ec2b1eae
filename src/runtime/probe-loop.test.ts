import { describe, expect, it } from 'vitest';
import type { CheckResult } from './probe.js';
import { ProbeLoop, probeSettings } from './probe-loop.js';

/** Feeds a scripted sequence of outcomes ('+' ok, '-' failure, '?' pending) and returns the verdicts. */
async function verdicts(script: string, failureThreshold: number, successThreshold: number): Promise<string> {
  const outcomes: CheckResult[] = [...script].map((c) => ({ ok: c === '+', pending: c === '?', detail: c }));
  const seen: string[] = [];
  await new Promise<void>((resolve) => {
    let i = 0;
    const loop = new ProbeLoop({
      settings: { initialDelayMs: 0, periodMs: 1, timeoutMs: 100, failureThreshold, successThreshold },
      check: () => {
        const next = outcomes[i++];
        if (!next) {
          loop.stop();
          resolve();
          return Promise.resolve({ ok: false, pending: true, detail: 'end' });
        }
        return Promise.resolve(next);
      },
      onVerdict: (v) => seen.push(`${v}@${i}`),
    });
  });
  return seen.join(' ');
}

describe('ProbeLoop thresholds', () => {
  it.each([
    ['+', 3, 1, 'pass@1'],
    ['++', 3, 2, 'pass@2'],
    ['+-+', 3, 2, ''],
    ['---', 3, 1, 'fail@3'],
    ['--+--', 3, 1, 'pass@3'],
    ['+---+', 3, 1, 'pass@1 fail@4 pass@5'],
    ['??+', 1, 1, 'pass@3'],
    ['-?-?-', 3, 1, 'fail@5'],
    ['+++---', 2, 1, 'pass@1 fail@5'],
  ] as const)('%s with failure %i / success %i → %s', async (script, f, s, expected) => {
    expect(await verdicts(script, f, s)).toBe(expected);
  });

  it('applies Kubernetes defaults to a document probe', () => {
    expect(probeSettings({ httpGet: { path: '/' } })).toEqual({ initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1_000, failureThreshold: 3, successThreshold: 1 });
    expect(probeSettings({ httpGet: { path: '/' }, initialDelaySeconds: 2, periodSeconds: 0.5, timeoutSeconds: 0.2, failureThreshold: 1, successThreshold: 2 }))
      .toEqual({ initialDelayMs: 2_000, periodMs: 500, timeoutMs: 200, failureThreshold: 1, successThreshold: 2 });
  });
});
