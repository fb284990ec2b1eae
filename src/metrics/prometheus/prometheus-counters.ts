/**
 * A revision's counters on Kubernetes, read from Prometheus with the traffic provider's queries
 * (traffic-queries.ts): the guard's cumulative totals, and the `builtin` metric provider's figures
 * over a window. The guard's reads are synchronous (it ticks over the router's counters on a
 * single host), so {@link PrometheusCounters.refresh} fetches every side of every canary first and
 * the guard then reads what it fetched. A side whose queries failed has no figures: the guard skips
 * that canary for the tick rather than judging it on missing data.
 *
 * Data-plane counters restart from zero when a pod restarts; the sum across pods then drops, and
 * is read, as Prometheus's `increase` reads a reset, as a fresh count added to what was seen.
 */
import type { CanaryStrategy } from '../../documents/schema.js';
import type { LatencyCounts, RevisionStats, RevisionTotals } from '../../router/contract/index.js';
import type { RevisionStatsSource } from '../builtin/stats-source.js';
import { httpCall } from '../http.js';
import { BuiltinMetricProvider } from '../builtin/builtin-provider.js';
import { ProviderError, type MetricProviderRegistry } from '../provider.js';
import { revisionQueries, type RevisionQueries, type RevisionQueryTarget } from './traffic-queries.js';

/** One canary to read: both sides of it. */
export interface CanaryCounterTarget {
  /** The key its figures are read by (`namespace/rollout`). */
  key: string;
  /** The Rollout's namespace. */
  namespace: string;
  /** The Rollout's name. */
  rollout: string;
  /** Its canary strategy (traffic routing, Services, guard templates). */
  strategy: CanaryStrategy;
  /** The canary revision. */
  canaryRevision: string;
  /** The stable revision. */
  stableRevision: string;
}

/** A canary whose figures could not be read this time, and why. */
export interface CounterFailure {
  /** The canary's key. */
  key: string;
  /** What failed, in words (the Prometheus address and its answer). */
  message: string;
}

/** The figures of a revision were asked for before any were read (or after a failed read). */
export class CountersUnavailableError extends Error {
  /** Stable code for callers. */
  readonly code = 'CountersUnavailable';
  constructor(key: string, revision: string) {
    super(`no figures from Prometheus for ${key} revision ${revision} yet`);
    this.name = 'CountersUnavailableError';
  }
}

/** Options of {@link PrometheusCounters}. */
export interface PrometheusCountersOptions {
  /** Prometheus's base URL for a canary (its `guard.prometheus.address`, else the controller's), or undefined when none is set. */
  addressOf: (target: Pick<CanaryCounterTarget, 'strategy'>) => string | undefined;
  /**
   * A canary by the name the builtin provider gives (`namespace/rollout`, or a Rollout's name),
   * for one the guard has not read yet; undefined when there is no such canary under way.
   */
  lookup?: ((service: string) => Promise<CanaryCounterTarget | undefined>) | undefined;
  /** Per query; default 4 s (a guard ticks every few seconds). */
  timeoutMs?: number | undefined;
}

interface Sample {
  labels: Record<string, string>;
  value: number;
}

const TYPE = 'prometheus';

/** Runs one instant query; resolves with the vector's samples (a scalar as one sample). */
export async function instantQuery(address: string, query: string, timeoutMs: number, signal?: AbortSignal): Promise<Sample[]> {
  const url = new URL('api/v1/query', address.endsWith('/') ? address : `${address}/`);
  url.searchParams.set('query', query);
  const answer = await httpCall({ url: url.toString(), method: 'GET', headers: { accept: 'application/json' }, timeoutMs, signal: signal ?? new AbortController().signal, providerType: TYPE });
  let body: { status?: string; error?: string; data?: { resultType?: string; result?: unknown } };
  try {
    body = JSON.parse(answer.text) as typeof body;
  } catch {
    throw new ProviderError('bad-response', TYPE, `${url.host} answered ${answer.status} with something other than JSON`);
  }
  if (body.status !== 'success') throw new ProviderError('query-failed', TYPE, `${url.host}: query ${query} failed (${answer.status}): ${body.error ?? 'no error message'}`);
  const result = body.data?.result;
  const number = (s: unknown): number => {
    const text: unknown = Array.isArray(s) ? (s as unknown[])[1] : undefined;
    if (typeof text !== 'string') throw new ProviderError('bad-response', TYPE, `malformed sample ${JSON.stringify(s)}`);
    return text === '+Inf' ? Infinity : Number(text);
  };
  if (body.data?.resultType === 'scalar') return [{ labels: {}, value: number(result) }];
  if (body.data?.resultType !== 'vector' || !Array.isArray(result)) throw new ProviderError('bad-response', TYPE, `query ${query} returned ${body.data?.resultType ?? 'nothing'}, not an instant vector`);
  return (result as { metric?: Record<string, string>; value?: unknown }[]).map((r) => ({ labels: r.metric ?? {}, value: number(r.value) }));
}

const sum = (samples: readonly Sample[]): number => samples.reduce((a, s) => a + (Number.isFinite(s.value) ? s.value : 0), 0);

/** Cumulative `le` buckets → a histogram of bins in ms (the last one past the largest finite bound). */
export function histogramFromBuckets(samples: readonly Sample[], unit: RevisionQueries['latencyUnit']): LatencyCounts {
  const factor = unit === 'seconds' ? 1000 : 1;
  const buckets = samples
    .map((s) => ({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), value: s.value }))
    .filter((b) => !Number.isNaN(b.le))
    .sort((a, b) => a.le - b.le);
  const boundsMs: number[] = [];
  const counts: number[] = [];
  let below = 0;
  for (const b of buckets) {
    const count = Math.max(0, b.value - below);
    below = Math.max(below, b.value);
    if (b.le === Infinity) {
      counts.push(count);
      return { boundsMs, counts };
    }
    boundsMs.push(b.le * factor);
    counts.push(count);
  }
  counts.push(0);
  return { boundsMs, counts };
}

/** Counters that never go down across a data-plane restart. */
class Monotonic {
  private raw: number | undefined;
  private total = 0;
  add(raw: number): number {
    this.total += this.raw === undefined ? raw : raw >= this.raw ? raw - this.raw : raw;
    this.raw = raw;
    return this.total;
  }
}

interface Side {
  requests: Monotonic;
  errors: Monotonic;
  buckets: Map<number, Monotonic>;
  totals?: RevisionTotals | undefined;
}

const zeroCounts = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };

function totalsOf(requests: number, errors: number, latency: LatencyCounts): RevisionTotals {
  return {
    requests, failed: Math.min(requests, errors), responses: { ...zeroCounts, '5xx': errors, '2xx': Math.max(0, requests - errors) },
    upstreamErrors: 0, timeouts: 0, rejected: 0, clientErrors: 0, skewErrors: 0, fallbacks: 0, unreadyServed: 0, mirrored: { requests: 0, failures: 0 }, latency,
  };
}

/** See the file comment. */
export class PrometheusCounters implements RevisionStatsSource {
  private readonly sides = new Map<string, Side>();
  /** The canaries last refreshed, by key (the builtin provider finds their strategy here). */
  private readonly targets = new Map<string, CanaryCounterTarget>();
  private readonly timeoutMs: number;

  constructor(private readonly options: PrometheusCountersOptions) {
    this.timeoutMs = options.timeoutMs ?? 4_000;
  }

  /**
   * Reads both sides of every canary; the ones that failed lose their figures until a read
   * succeeds again. Resolves with the failures (never rejects).
   */
  async refresh(targets: readonly CanaryCounterTarget[]): Promise<CounterFailure[]> {
    const failures: CounterFailure[] = [];
    const live = new Set<string>();
    await Promise.all(targets.map(async (t) => {
      this.targets.set(t.key, t);
      const sides = [['canary', t.canaryRevision], ['stable', t.stableRevision]] as const;
      for (const [, revision] of sides) live.add(`${t.key}@${revision}`);
      try {
        const read = await Promise.all(sides.map(([side, revision]) => this.read(t, side, revision)));
        sides.forEach(([, revision], i) => this.store(`${t.key}@${revision}`, read[i]!));
      } catch (err) {
        for (const [, revision] of sides) this.sides.delete(`${t.key}@${revision}`);
        failures.push({ key: t.key, message: (err as Error).message });
      }
    }));
    for (const k of [...this.sides.keys()]) if (!live.has(k)) this.sides.delete(k);
    return failures;
  }

  /** A revision's totals as last read. Throws {@link CountersUnavailableError} when none are. */
  totals(key: string, revision: string): RevisionTotals {
    const totals = this.sides.get(`${key}@${revision}`)?.totals;
    if (!totals) throw new CountersUnavailableError(key, revision);
    return totals;
  }

  /** Whether both sides of a canary have figures from the last refresh. */
  has(key: string, revisions: readonly string[]): boolean {
    return revisions.every((r) => this.sides.get(`${key}@${r}`)?.totals !== undefined);
  }

  /**
   * The builtin provider's figures over a window, queried afresh (`increase` over a subquery of
   * the cumulative queries). `service` is the canary's key (or what `lookup` resolves); rejects
   * for a canary it cannot find, or a revision that is neither its canary nor its stable.
   */
  async stats(query: { service: string; revision: string; windowMs: number }): Promise<RevisionStats> {
    const t = (await this.options.lookup?.(query.service)) ?? this.targets.get(query.service);
    if (!t) throw new CountersUnavailableError(query.service, query.revision);
    if (query.revision !== t.canaryRevision && query.revision !== t.stableRevision) throw new CountersUnavailableError(t.key, query.revision);
    const side = query.revision === t.canaryRevision ? 'canary' : 'stable';
    const address = this.address(t);
    const q = revisionQueries(t.strategy, this.queryTarget(t, side, query.revision));
    const range = `[${Math.max(1, Math.round(query.windowMs / 1000))}s:5s]`;
    const inc = (expr: string) => `increase((${expr})${range})`;
    const [requests, errors, buckets] = await Promise.all([
      instantQuery(address, inc(q.requests), this.timeoutMs),
      instantQuery(address, inc(q.errors), this.timeoutMs),
      q.latencyBuckets === undefined ? Promise.resolve([]) : instantQuery(address, inc(q.latencyBuckets), this.timeoutMs),
    ]);
    const n = Math.round(sum(requests));
    const e = Math.round(sum(errors));
    const hist = histogramFromBuckets(buckets, q.latencyUnit);
    const { mirrored: _m, latency: _l, ...counts } = totalsOf(n, e, hist);
    return { ...counts, latencyMs: percentiles(hist), requestsPerSecond: n / (query.windowMs / 1000), windowMs: query.windowMs };
  }

  private address(t: Pick<CanaryCounterTarget, 'strategy'>): string {
    const address = this.options.addressOf(t);
    if (address === undefined) throw new ProviderError('invalid-config', TYPE, 'no Prometheus address: start the controller with --prometheus-url or set strategy.canary.guard.prometheus.address');
    return address;
  }

  private queryTarget(t: CanaryCounterTarget, side: 'canary' | 'stable', revision: string): RevisionQueryTarget {
    return { namespace: t.namespace, rollout: t.rollout, revision, side };
  }

  private async read(t: CanaryCounterTarget, side: 'canary' | 'stable', revision: string): Promise<{ requests: number; errors: number; buckets: Sample[]; unit: RevisionQueries['latencyUnit'] }> {
    const address = this.address(t);
    const q = revisionQueries(t.strategy, this.queryTarget(t, side, revision));
    const [requests, errors, buckets] = await Promise.all([
      instantQuery(address, q.requests, this.timeoutMs),
      instantQuery(address, q.errors, this.timeoutMs),
      q.latencyBuckets === undefined ? Promise.resolve([]) : instantQuery(address, q.latencyBuckets, this.timeoutMs),
    ]);
    return { requests: sum(requests), errors: sum(errors), buckets, unit: q.latencyUnit };
  }

  private store(id: string, read: { requests: number; errors: number; buckets: Sample[]; unit: RevisionQueries['latencyUnit'] }): void {
    let side = this.sides.get(id);
    if (!side) this.sides.set(id, (side = { requests: new Monotonic(), errors: new Monotonic(), buckets: new Map() }));
    const requests = Math.round(side.requests.add(read.requests));
    const errors = Math.round(side.errors.add(read.errors));
    const monotonicBuckets = read.buckets.map((b) => {
      const le = b.labels.le === '+Inf' ? Infinity : Number(b.labels.le);
      let m = side.buckets.get(le);
      if (!m) side.buckets.set(le, (m = new Monotonic()));
      return { labels: b.labels, value: m.add(b.value) };
    });
    side.totals = totalsOf(requests, errors, histogramFromBuckets(monotonicBuckets, read.unit));
  }
}

/** p50/p90/p99 and the largest finite bound reached, from a histogram (each at its bin's upper bound). */
function percentiles(h: LatencyCounts): RevisionStats['latencyMs'] {
  const total = h.counts.reduce((a, b) => a + b, 0);
  const at = (q: number): number => {
    if (total === 0) return 0;
    let seen = 0;
    for (let i = 0; i < h.counts.length; i++) {
      seen += h.counts[i]!;
      if (seen >= q * total) return h.boundsMs[i] ?? h.boundsMs[h.boundsMs.length - 1] ?? 0;
    }
    return h.boundsMs[h.boundsMs.length - 1] ?? 0;
  };
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}

/** Registers the `builtin` metric provider answered from Prometheus (the cluster's analysis registry). */
export function registerPrometheusBuiltin(registry: MetricProviderRegistry, counters: PrometheusCounters): MetricProviderRegistry {
  return registry.register(new BuiltinMetricProvider(counters));
}
