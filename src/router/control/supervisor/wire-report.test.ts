import { describe, expect, it } from 'vitest';
import { FINE_BOUNDS_MS } from '../../revision-stats.js';
import { emptyReport, zeroTotals, type ReportedRevision, type WorkerReport } from './figures.js';
import { packReport, unpackReport, WireReportError, type WireWorkerReport } from './wire-report.js';

/** A revision of `web` whose latency counts are `bins` (bin → count), over `bounds`. */
function revision(name: string, bins: Record<number, number>, bounds: number[] = [...FINE_BOUNDS_MS]): ReportedRevision {
  const totals = zeroTotals(bounds);
  for (const [bin, n] of Object.entries(bins)) totals.latency.counts[Number(bin)] = n;
  totals.requests = Object.values(bins).reduce((a, b) => a + b, 0);
  totals.unreadyServed = 2;
  return { service: 'web', revision: name, totals, prom: { buckets: [1, 2], sumS: 0.5 } };
}

const report = (revisions: ReportedRevision[]): WorkerReport => ({ ...emptyReport(), revisions, mirrorsSkipped: 3 });

describe('reports on the wire', () => {
  it.each([
    ['no answers yet', {}],
    ['a few bins', { 0: 1, 120: 7, 399: 2 }],
    ['every bin', Object.fromEntries(FINE_BOUNDS_MS.map((_, i) => [i, i + 1]).concat([[FINE_BOUNDS_MS.length, 1]]))],
  ])('arrive as they left, through JSON: %s', (_what, bins: Record<number, number>) => {
    const sent = report([revision('v1', bins), revision('v2', { 5: 1 })]);
    expect(unpackReport(JSON.parse(JSON.stringify(packReport(sent))) as WireWorkerReport)).toEqual(sent);
  });

  it('keep bounds that are not the router\'s own', () => {
    const sent = report([revision('v1', { 1: 4 }, [1, 10, 100])]);
    const wire = packReport(sent);
    expect(wire.revisions[0]!.totals.latency).toEqual({ bins: 4, nonZero: [1, 4], boundsMs: [1, 10, 100] });
    expect(unpackReport(wire)).toEqual(sent);
  });

  it('are a small fraction of the dense report: 10 revisions with answers over 40 bins each under a tenth of it', () => {
    const spread = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [100 + i, 10 + i]));
    const sent = report(Array.from({ length: 10 }, (_, i) => revision(`v${i}`, spread)));
    expect(JSON.stringify(sent).length).toBeGreaterThan(80_000);
    expect(JSON.stringify(packReport(sent)).length).toBeLessThan(8_000);
  });

  it.each([
    ['a bin count that does not fit the bounds', { bins: 7, nonZero: [] }, 'web/v1: a latency histogram of 7 bins over 399 bounds with 0 pair values'],
    ['an odd number of pair values', { bins: 400, nonZero: [3] }, 'web/v1: a latency histogram of 400 bins over 399 bounds with 1 pair values'],
    ['a bin outside the histogram', { bins: 400, nonZero: [400, 1] }, 'web/v1: latency bin 400 is outside 0…399'],
    ['a bin that is not a whole number', { bins: 400, nonZero: [1.5, 1] }, 'web/v1: latency bin 1.5 is outside 0…399'],
  ])('are refused with BadReport for %s', (_what, latency, message) => {
    const wire = packReport(report([revision('v1', {})]));
    wire.revisions[0]!.totals.latency = latency;
    const error = (() => {
      try {
        unpackReport(wire);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(WireReportError);
    expect(error).toMatchObject({ code: 'BadReport', message });
  });
});
