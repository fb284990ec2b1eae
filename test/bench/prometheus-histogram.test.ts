import { describe, expect, it } from 'vitest';
import { HistogramParseError, histogramDelta, histogramQuantile, parseHistogram } from '../../bench/lib-prometheus.js';

/** An exposition as prom-client writes it, two outcomes of one histogram plus an unrelated metric. */
const TEXT = `# HELP graylane_reconcile_duration_seconds Time one reconcile pass took, by how it ended.
# TYPE graylane_reconcile_duration_seconds histogram
graylane_reconcile_duration_seconds_bucket{le="0.01",outcome="success"} 50
graylane_reconcile_duration_seconds_bucket{le="0.05",outcome="success"} 90
graylane_reconcile_duration_seconds_bucket{le="0.1",outcome="success"} 98
graylane_reconcile_duration_seconds_bucket{le="+Inf",outcome="success"} 100
graylane_reconcile_duration_seconds_sum{outcome="success"} 2.5
graylane_reconcile_duration_seconds_count{outcome="success"} 100
graylane_reconcile_duration_seconds_bucket{le="0.01",outcome="requeue"} 0
graylane_reconcile_duration_seconds_bucket{le="0.05",outcome="requeue"} 0
graylane_reconcile_duration_seconds_bucket{le="0.1",outcome="requeue"} 0
graylane_reconcile_duration_seconds_bucket{le="+Inf",outcome="requeue"} 0
graylane_reconcile_duration_seconds_sum{outcome="requeue"} 0
graylane_reconcile_duration_seconds_count{outcome="requeue"} 0
# HELP graylane_reconcile_other_bucket not this one
graylane_reconcile_other_bucket{le="+Inf"} 7
graylane_work_queue_depth 3
`;

const name = 'graylane_reconcile_duration_seconds';

describe('the benchmark reads the reconcile histogram from /metrics', () => {
  it('adds up the series of every outcome into one cumulative histogram', () => {
    const h = parseHistogram({ text: TEXT.replace('{le="+Inf",outcome="requeue"} 0', '{le="+Inf",outcome="requeue"} 4'), name });
    expect(h.upperBounds).toEqual([0.01, 0.05, 0.1, Infinity]);
    expect(h.cumulativeCounts).toEqual([50, 90, 98, 104]);
    expect(h.count).toBe(104);
    expect(h.sum).toBe(2.5);
  });

  it('estimates quantiles as Prometheus histogram_quantile does: linear inside the bucket', () => {
    const h = parseHistogram({ text: TEXT, name });
    // Rank 50 of 100 is the last observation of the first bucket [0, 0.01].
    expect(histogramQuantile({ histogram: h, q: 0.5 })).toBeCloseTo(0.01, 10);
    // Rank 70: 20 of the 40 in (0.01, 0.05].
    expect(histogramQuantile({ histogram: h, q: 0.7 })).toBeCloseTo(0.03, 10);
    // Rank 94: 4 of the 8 in (0.05, 0.1].
    expect(histogramQuantile({ histogram: h, q: 0.94 })).toBeCloseTo(0.075, 10);
  });

  it('gives the highest finite bound for a rank in the +Inf bucket, and NaN without observations', () => {
    const h = parseHistogram({ text: TEXT, name });
    expect(histogramQuantile({ histogram: h, q: 0.99 })).toBe(0.1);
    const empty = parseHistogram({ text: TEXT.replace(/outcome="success"\} \d+(\.\d+)?/g, 'outcome="success"} 0'), name });
    expect(empty.count).toBe(0);
    expect(histogramQuantile({ histogram: empty, q: 0.5 })).toBeNaN();
  });

  it('refuses a quantile outside 0..1', () => {
    expect(() => histogramQuantile({ histogram: parseHistogram({ text: TEXT, name }), q: 99 })).toThrow(RangeError);
  });

  it('takes the passes between two scrapes as their difference', () => {
    const earlier = parseHistogram({ text: TEXT, name });
    const later = parseHistogram({ text: TEXT.replace('le="0.1",outcome="success"} 98', 'le="0.1",outcome="success"} 108').replace('le="+Inf",outcome="success"} 100', 'le="+Inf",outcome="success"} 110').replace('_sum{outcome="success"} 2.5', '_sum{outcome="success"} 3.5'), name });
    const delta = histogramDelta({ earlier, later });
    expect(delta.cumulativeCounts).toEqual([0, 0, 10, 10]);
    expect(delta.count).toBe(10);
    expect(delta.sum).toBeCloseTo(1, 10);
    // All ten passes of the phase took 50-100 ms: its median is in that bucket, whatever came before.
    expect(histogramQuantile({ histogram: delta, q: 0.5 })).toBeCloseTo(0.075, 10);
  });

  it('refuses a difference of scrapes with other buckets, or with a count that went down', () => {
    const earlier = parseHistogram({ text: TEXT, name });
    const otherBounds = parseHistogram({ text: TEXT.replace(/le="0.05"/g, 'le="0.025"'), name });
    expect(() => histogramDelta({ earlier, later: otherBounds })).toThrow(expect.objectContaining({ code: 'HistogramMalformed' }));
    const restarted = parseHistogram({ text: TEXT.replace('le="0.01",outcome="success"} 50', 'le="0.01",outcome="success"} 1'), name });
    expect(() => histogramDelta({ earlier, later: restarted })).toThrow(/went down/);
  });

  it('says the histogram is missing rather than reading an empty one', () => {
    const error = (() => { try { parseHistogram({ text: 'graylane_work_queue_depth 3\n', name }); } catch (e) { return e; } })();
    expect(error).toBeInstanceOf(HistogramParseError);
    expect(error).toMatchObject({ code: 'HistogramMissing' });
  });

  it('refuses malformed values, bucket labels, a missing +Inf bucket and non-cumulative counts', () => {
    const malformed = (text: string) => expect(() => parseHistogram({ text, name })).toThrow(expect.objectContaining({ code: 'HistogramMalformed' }));
    malformed(TEXT.replace('le="0.01",outcome="success"} 50', 'le="0.01",outcome="success"} fifty'));
    malformed(TEXT.replace('le="0.01",outcome="success"', 'outcome="success"'));
    malformed(TEXT.replace(/^.*le="\+Inf".*$/gm, ''));
    malformed(TEXT.replace('le="0.05",outcome="success"} 90', 'le="0.05",outcome="success"} 40'));
  });
});
