/**
 * The data of an analysis run, shared by the pure judge and the impure runner. Phase names and
 * meanings are Argo Rollouts' (`AnalysisPhase`).
 */
import type { Static } from '@sinclair/typebox';
import type { MetricProvider as MetricProviderSchema } from '../../documents/schema.js';

/** The provider block of a metric (exactly one key, e.g. `{ prometheus: {...} }`), args substituted. */
export type MetricProviderSpec = Static<typeof MetricProviderSchema>;

/** A finished measurement's verdict, or `Running` while the provider is being asked. */
export type MeasurementPhase = 'Running' | 'Successful' | 'Failed' | 'Inconclusive' | 'Error';

/** A metric's or a run's phase. `Pending`: nothing measured yet. */
export type AnalysisPhase = 'Pending' | 'Running' | 'Successful' | 'Failed' | 'Inconclusive' | 'Error';

/** One sample of one metric, as stored and shown by `graylane analysis`. */
export interface Measurement {
  /** The metric this belongs to. */
  metricName: string;
  /** Its verdict; `Running` while in flight. */
  phase: MeasurementPhase;
  /** What the provider returned (number, array, object…), absent on Error. */
  value?: unknown;
  /** Why it errored, or which condition decided it. */
  message?: string;
  /** When the provider was asked (ms since the epoch). */
  startedAtMs: number;
  /** When the answer came (ms since the epoch); absent while Running. */
  finishedAtMs?: number;
}

/** A metric after args substitution and defaulting; everything the judge and a provider need. */
export interface ResolvedMetric {
  /** Unique within the template. */
  name: string;
  /** The provider key (`prometheus`, `web`, `builtin`, `command`, …): the registry's `type`. */
  providerType: string;
  /** The whole provider block, `{{args.*}}` already substituted. */
  provider: MetricProviderSpec;
  /** Expression over `result`; validated at resolve time. */
  successCondition?: string;
  /** Expression over `result`; validated at resolve time. */
  failureCondition?: string;
  /** Time between a measurement's end and the next one's start; absent: measure once (or retry errors every 10 s). */
  intervalMs?: number;
  /** Wait after the run starts before the first measurement. */
  initialDelayMs: number;
  /** Measurements (not counting errors) after which the metric is done; absent: until the run is stopped. */
  count?: number;
  /** Failed measurements tolerated; -1: unlimited. Default 0. */
  failureLimit: number;
  /** Inconclusive measurements tolerated. Default 0. */
  inconclusiveLimit: number;
  /** Errors in a row tolerated. Default 4. */
  consecutiveErrorLimit: number;
  /** A dry-run metric is measured and shown but never decides the run. */
  dryRun: boolean;
}

/** A template ready to run: args resolved, metrics normalised. */
export interface ResolvedTemplate {
  /** The metrics in document order. */
  metrics: ResolvedMetric[];
  /** The argument values used (for display; may be needed by providers). */
  args: Record<string, string>;
}
