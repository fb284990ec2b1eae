import { describe, expect, it } from 'vitest';
import { clusterAnalysisRuns } from './cluster-analysis.js';

describe('AnalysisRuns as `graylane analysis` shows them', () => {
  it('newest first; a run the controller has not measured yet shows its metrics Pending with no measurements', () => {
    const views = clusterAnalysisRuns([
      {
        metadata: { name: 'web-abc-0-1', uid: 'u1', creationTimestamp: new Date('2025-01-01T10:00:00Z') },
        status: {
          phase: 'Failed', message: 'metric "ok" assessed Failed', startedAt: '2025-01-01T10:00:00.250Z',
          metricResults: [{ name: 'ok', phase: 'Failed', measurements: [
            { phase: 'Successful', value: 1, finishedAt: '2025-01-01T10:00:01Z' },
            { phase: 'Failed', value: 0, message: 'no', startedAt: '2025-01-01T10:00:02Z' },
          ] }],
        },
      },
      { metadata: { name: 'web-abc-0-3', creationTimestamp: new Date('2025-01-01T10:05:00Z') }, spec: { metrics: [{ name: 'ok', provider: {} }] } },
    ]);
    expect(views).toEqual([
      { id: 'web-abc-0-3', name: 'web-abc-0-3', phase: 'Pending', startedAtMs: Date.parse('2025-01-01T10:05:00Z'), metrics: [{ name: 'ok', phase: 'Pending', measurements: [] }] },
      {
        id: 'u1', name: 'web-abc-0-1', phase: 'Failed', message: 'metric "ok" assessed Failed', startedAtMs: Date.parse('2025-01-01T10:00:00.250Z'),
        metrics: [{ name: 'ok', phase: 'Failed', measurements: [
          { atMs: Date.parse('2025-01-01T10:00:01Z'), phase: 'Successful', value: 1 },
          { atMs: Date.parse('2025-01-01T10:00:02Z'), phase: 'Failed', value: 0, message: 'no' },
        ] }],
      },
    ]);
  });
});
