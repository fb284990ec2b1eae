/**
 * The Job a `job` metric's measurement creates: the block's metadata and spec, in the run's
 * namespace, named after the run and the metric, owned by the AnalysisRun (so it goes when the
 * run goes), and labelled and annotated as Argo Rollouts does, so tools that know Argo's Jobs find
 * graylane's.
 */
import type { V1Job, V1JobSpec } from '@kubernetes/client-node';

/** Label on the Job and its pods: the uid of the AnalysisRun it measures for (Argo's key). */
export const ANALYSIS_RUN_UID_LABEL = 'analysisrun.argoproj.io/uid';
/** Annotation: the AnalysisRun's name. */
export const ANALYSIS_RUN_NAME_ANNOTATION = 'analysisrun.argoproj.io/name';
/** Annotation: the AnalysisRun's namespace. */
export const ANALYSIS_RUN_NAMESPACE_ANNOTATION = 'analysisrun.argoproj.io/namespace';
/** Annotation: the metric the Job measures. */
export const ANALYSIS_RUN_METRIC_ANNOTATION = 'analysisrun.argoproj.io/metric-name';

/** The Job controller copies the Job's name into a pod label, so it must fit a label value. */
const MAX_JOB_NAME = 63;

/** The AnalysisRun a Job belongs to. */
export interface JobOwner {
  /** `argoproj.io/v1alpha1` or graylane's own group version. */
  apiVersion: string;
  /** `AnalysisRun`. */
  kind: string;
  /** The run's name. */
  name: string;
  /** The run's uid. */
  uid: string;
}

/** What {@link jobManifest} builds from. */
export interface JobManifestInput {
  /** The metric's `job` block (already checked). */
  block: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: Record<string, unknown> };
  /** The metric's name. */
  metricName: string;
  /** The run's namespace. */
  namespace: string;
  /** The run. */
  owner: JobOwner;
  /** When the measurement started (ms since the epoch): makes each measurement's Job name its own. */
  startedAtMs: number;
}

/** `[a-z0-9-]` only, as a DNS label part. */
function dnsPart(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
}

/**
 * `<run>.<metric>.<start in base 36>`, the run and metric parts shortened (the metric first, as
 * Argo does) to fit 63 characters; the suffix keeps measurements of one metric apart.
 */
export function jobName(runName: string, metricName: string, startedAtMs: number): string {
  const suffix = startedAtMs.toString(36);
  let run = dnsPart(runName);
  let metric = dnsPart(metricName);
  const over = run.length + metric.length + suffix.length + 2 - MAX_JOB_NAME;
  if (over > 0) {
    const cut = Math.min(over, Math.max(0, metric.length - 8));
    metric = metric.slice(0, metric.length - cut).replace(/-+$/, '') || 'x';
    run = run.slice(0, Math.max(1, run.length - (over - cut))).replace(/-+$/, '') || 'x';
  }
  return `${run}.${metric}.${suffix}`;
}

/** The Job to create. */
export function jobManifest(input: JobManifestInput): V1Job {
  const { block, owner } = input;
  const spec = structuredClone(block.spec) as { template?: { metadata?: { labels?: Record<string, string> } } } & Record<string, unknown>;
  const template = (spec.template ??= {});
  const podMeta = (template.metadata ??= {});
  podMeta.labels = { ...(podMeta.labels ?? {}), [ANALYSIS_RUN_UID_LABEL]: owner.uid };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName(owner.name, input.metricName, input.startedAtMs),
      namespace: input.namespace,
      labels: { ...(block.metadata?.labels ?? {}), [ANALYSIS_RUN_UID_LABEL]: owner.uid },
      annotations: {
        ...(block.metadata?.annotations ?? {}),
        [ANALYSIS_RUN_NAME_ANNOTATION]: owner.name,
        [ANALYSIS_RUN_NAMESPACE_ANNOTATION]: input.namespace,
        [ANALYSIS_RUN_METRIC_ANNOTATION]: input.metricName,
      },
      ownerReferences: [{ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: spec as unknown as V1JobSpec,
  };
}
