/**
 * The metric provider port: one small interface every provider implements (builtin router stats,
 * Prometheus, web, command), chosen through a {@link MetricProviderRegistry} keyed by the
 * metric's provider key. A provider only measures; judging the value is the pure judge's job.
 */
import type { ResolvedMetric } from '../analysis/judge/types.js';

/** What a provider can do beyond a plain measurement; asking for a missing one is a typed error. */
export type ProviderCapability =
  /** Measures canary and stable side by side (`revision: both`). */
  | 'compare-revisions'
  /** Sends configured request headers (auth). */
  | 'headers'
  /** Sends a request body. */
  | 'request-body'
  /** Extracts part of the response with JSONPath. */
  | 'json-path'
  /** Can skip TLS verification (`insecure`). */
  | 'insecure-tls'
  /** Stops waiting after a configured timeout. */
  | 'timeout';

/** Why a measurement could not be taken. Every one becomes an Error measurement, never a pass. */
export type ProviderErrorCode =
  /** The metric's provider block is wrong or asks for an unsupported capability. */
  | 'invalid-config'
  /** No provider is registered for this type. */
  | 'unknown-provider'
  /** The metrics source could not be reached (connection refused, DNS, no such revision). */
  | 'unreachable'
  /** The source did not answer within the timeout. */
  | 'timeout'
  /** The caller aborted the measurement. */
  | 'aborted'
  /** The source answered with a non-success status. */
  | 'bad-status'
  /** The answer could not be understood (not JSON, unexpected shape). */
  | 'bad-response'
  /** The source rejected the query (PromQL error and the like). */
  | 'query-failed'
  /** The JSONPath (or equivalent) matched nothing. */
  | 'no-data'
  /** A command could not be started. */
  | 'spawn-failed';

/** A measurement that could not be taken, with a machine-readable `code`. */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  constructor(
    /** What kind of failure. */
    readonly code: ProviderErrorCode,
    /** The provider type that failed (`prometheus`, …). */
    readonly providerType: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${providerType}: ${message}`, options);
  }
}

/** Who the run is about; the builtin provider needs it, others ignore it. */
export interface MeasureContext {
  /** The service being rolled out. */
  service?: string;
  /** The canary revision's name. */
  canaryRevision?: string;
  /** The stable revision's name. */
  stableRevision?: string;
  /** The namespace the run belongs to (Kubernetes); a provider that creates objects (job) creates them here. */
  namespace?: string;
  /** The AnalysisRun object the measurement belongs to (Kubernetes): what an object a provider creates is owned by. */
  owner?: { apiVersion: string; kind: string; name: string; uid: string };
}

/** One measurement request. */
export interface MeasureRequest {
  /** The metric, args already substituted into its provider block. */
  metric: ResolvedMetric;
  /** The run's resolved args. */
  args: Readonly<Record<string, string>>;
  /** Aborts the measurement; the provider rejects with code `aborted` and frees what it holds. */
  signal: AbortSignal;
  /** The current time in ms since the epoch (for providers that query "as of now"). */
  now: number;
  /** Who the run is about. */
  context?: MeasureContext;
}

/** A measurement's raw outcome. */
export interface MeasureResult {
  /** The value conditions see as `result` (number, array, object, string, null). */
  value: unknown;
  /** A provider that judges by itself (a command's exit code) may declare the measurement Failed. */
  phase?: 'Failed';
  /** A short note shown with the measurement (e.g. the exit code). */
  message?: string;
  /** Extra facts to store with the measurement (query URL, sample counts). */
  metadata?: Record<string, string>;
  /**
   * Set when there was nothing to measure (no requests in the window), saying so: the value is
   * then Argo's empty result, never a verdict on the canary. Unless a condition accepts it
   * (`isNaN(result) || …`), the measurement is an Error that is retried at the next interval.
   */
  noData?: string;
}

/** A metric provider. */
export interface MetricProvider {
  /** The provider key in a metric's `provider` block (`prometheus`, `web`, `builtin`, `command`). */
  readonly type: string;
  /** What this provider supports. */
  readonly capabilities: readonly ProviderCapability[];
  /**
   * Checks a metric's provider block at apply time; throws a {@link ProviderError} with code
   * `invalid-config` naming the field and why.
   */
  validate(metric: ResolvedMetric): void;
  /** Takes one measurement; rejects only with a {@link ProviderError}. */
  measure(request: MeasureRequest): Promise<MeasureResult>;
}

/** Providers by type. */
export class MetricProviderRegistry {
  private readonly providers = new Map<string, MetricProvider>();

  /** Adds a provider; a second one for the same type is a wiring bug. */
  register(provider: MetricProvider): this {
    if (this.providers.has(provider.type)) throw new Error(`a metric provider of type "${provider.type}" is already registered`);
    this.providers.set(provider.type, provider);
    return this;
  }

  /** The provider for `type`; throws `unknown-provider` listing what exists. */
  get(type: string): MetricProvider {
    const p = this.providers.get(type);
    if (!p) throw new ProviderError('unknown-provider', type, `no metric provider "${type}" (available: ${[...this.providers.keys()].join(', ') || 'none'})`);
    return p;
  }

  /** The registered types. */
  types(): string[] {
    return [...this.providers.keys()];
  }

  /** Validates a metric with its provider (apply time). */
  validate(metric: ResolvedMetric): void {
    this.get(metric.providerType).validate(metric);
  }
}

/** The provider block of `type` in a metric, or an `invalid-config` error. */
export function providerConfig<T>(metric: ResolvedMetric, type: string): T {
  const config = (metric.provider as Record<string, unknown>)[type];
  if (config === undefined || config === null || typeof config !== 'object') {
    throw new ProviderError('invalid-config', type, `metric "${metric.name}" has no ${type} provider block`);
  }
  return config as T;
}
