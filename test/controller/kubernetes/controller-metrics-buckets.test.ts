import { describe, expect, it } from 'vitest';
import { ControllerMetrics } from '../../../src/controller/kubernetes/controller-metrics.js';
import { histogramQuantile, parseHistogram } from '../../../bench/lib-prometheus.js';

describe('the reconcile duration histogram', () => {
  it('has bounds at 75, 100 and 150 ms, so that a p99 near the 100 ms goal reads to within 25 ms', async () => {
    const metrics = new ControllerMetrics();
    // 98 quick passes and two at 90 ms: the p99 is in (75, 100] ms.
    for (let i = 0; i < 98; i++) metrics.observeReconcile({ outcome: 'success', durationSeconds: 0.004 });
    metrics.observeReconcile({ outcome: 'success', durationSeconds: 0.09 });
    metrics.observeReconcile({ outcome: 'requeue', durationSeconds: 0.09 });
    const h = parseHistogram({ text: await metrics.text(), name: 'graylane_reconcile_duration_seconds' });
    expect(h.upperBounds).toEqual(expect.arrayContaining([0.05, 0.075, 0.1, 0.15, 0.25]));
    expect(h.cumulativeCounts[h.upperBounds.indexOf(0.075)]).toBe(98);
    expect(h.cumulativeCounts[h.upperBounds.indexOf(0.1)]).toBe(100);
    const p99 = histogramQuantile({ histogram: h, q: 0.99 });
    expect(p99).toBeGreaterThan(0.075);
    expect(p99).toBeLessThanOrEqual(0.1);
  });
});
