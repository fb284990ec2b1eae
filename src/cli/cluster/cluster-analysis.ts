/**
 * `graylane analysis <rollout>` against a cluster: the Rollout's AnalysisRun objects (found by the
 * label the controller puts on them) shown as the daemon shows its runs, newest first, each with its
 * metrics and every measurement the controller stored. Pure: the reader does the I/O.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { AnalysisRunView } from '../../controller/view-model.js';
import type { AnalysisTemplateSpec } from '../../documents/schema.js';
import type { AnalysisRunStatusDoc } from '../../documents/status-schema.js';

/** An AnalysisRun as the cluster stores it (only what the view reads). */
export type StoredAnalysisRun = KubernetesObject & { spec?: Partial<AnalysisTemplateSpec>; status?: AnalysisRunStatusDoc };

const msOf = (time: string | Date | undefined): number | undefined => {
  if (time === undefined) return undefined;
  const ms = time instanceof Date ? time.getTime() : Date.parse(time);
  return Number.isFinite(ms) ? ms : undefined;
};

/** One stored run as `graylane analysis` shows it; a run not measured yet shows its metrics Pending. */
export function clusterAnalysisRunView(run: StoredAnalysisRun): AnalysisRunView {
  const status = run.status ?? {};
  const startedAtMs = msOf(status.startedAt) ?? msOf(run.metadata?.creationTimestamp) ?? 0;
  const results = status.metricResults ?? (run.spec?.metrics ?? []).map((m) => ({ name: m.name, phase: 'Pending' as const, measurements: [] }));
  const name = run.metadata?.name ?? '';
  return {
    id: run.metadata?.uid ?? name,
    name,
    phase: status.phase ?? 'Pending',
    startedAtMs,
    metrics: results.map((r) => ({
      name: r.name,
      phase: r.phase,
      measurements: (r.measurements ?? []).map((m) => ({
        atMs: msOf(m.finishedAt) ?? msOf(m.startedAt) ?? startedAtMs, phase: m.phase, value: m.value, ...(m.message ? { message: m.message } : {}),
      })),
    })),
    ...(status.message ? { message: status.message } : {}),
  };
}

/** The runs' views, newest first (by start; a run started in the same second after by name). */
export function clusterAnalysisRuns(runs: readonly StoredAnalysisRun[]): AnalysisRunView[] {
  return runs.map(clusterAnalysisRunView).sort((a, b) => b.startedAtMs - a.startedAtMs || (a.name < b.name ? 1 : -1));
}
