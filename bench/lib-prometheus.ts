/**
 * Reading a Prometheus histogram from a `/metrics` text exposition, and its quantiles the way
 * Prometheus' `histogram_quantile` computes them (linear interpolation inside the bucket the rank
 * falls in), so that the benchmark's p50/p99 are the figures a user's dashboard would show.
 */

/** A histogram summed over its label values: cumulative counts per upper bound, ascending. */
export interface Histogram {
  /** Upper bounds (seconds for a `_seconds` histogram), ascending, the last one `Infinity`. */
  readonly upperBounds: readonly number[];
  /** Cumulative observation counts, one per upper bound. */
  readonly cumulativeCounts: readonly number[];
  /** Sum of all observed values. */
  readonly sum: number;
  /** Number of observations (the `+Inf` bucket). */
  readonly count: number;
}

/** The exposition text does not hold the histogram asked for, or holds it malformed. */
export class HistogramParseError extends Error {
  /** Stable code for callers. */
  readonly code: 'HistogramMissing' | 'HistogramMalformed';
  constructor(options: { code: 'HistogramMissing' | 'HistogramMalformed'; message: string }) {
    super(options.message);
    this.name = 'HistogramParseError';
    this.code = options.code;
  }
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** The `le` label of a bucket sample's label text (`outcome="success",le="0.1"`). */
function leOf(labels: string): string | undefined {
  return /(?:^|,)\s*le="([^"]*)"/.exec(labels)?.[1];
}

/**
 * The histogram `name` from an exposition text, its series (one per label set, e.g. per
 * `outcome`) added up. Throws {@link HistogramParseError} `HistogramMissing` when no bucket of it
 * is present, `HistogramMalformed` when a value is not a number or the buckets are not cumulative.
 */
export function parseHistogram(options: { text: string; name: string }): Histogram {
  const { text, name } = options;
  const buckets = new Map<number, number>();
  let sum = 0;
  let found = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (m === null) continue;
    const [, metric, labels = '', valueText] = m;
    if (metric !== `${name}_bucket` && metric !== `${name}_sum`) continue;
    const value = parseValue(valueText!);
    if (Number.isNaN(value)) throw new HistogramParseError({ code: 'HistogramMalformed', message: `${metric}{${labels}} has the value "${valueText}", not a number` });
    if (metric === `${name}_sum`) {
      sum += value;
      continue;
    }
    const le = leOf(labels);
    const bound = le === undefined ? NaN : parseValue(le);
    if (Number.isNaN(bound)) throw new HistogramParseError({ code: 'HistogramMalformed', message: `${metric}{${labels}} has no numeric le label` });
    buckets.set(bound, (buckets.get(bound) ?? 0) + value);
    found = true;
  }
  if (!found) throw new HistogramParseError({ code: 'HistogramMissing', message: `the metrics hold no histogram named ${name}` });
  const upperBounds = [...buckets.keys()].sort((a, b) => a - b);
  if (upperBounds[upperBounds.length - 1] !== Infinity) throw new HistogramParseError({ code: 'HistogramMalformed', message: `${name} has no le="+Inf" bucket` });
  const cumulativeCounts = upperBounds.map((b) => buckets.get(b)!);
  for (let i = 1; i < cumulativeCounts.length; i++) {
    if (cumulativeCounts[i]! < cumulativeCounts[i - 1]!) throw new HistogramParseError({ code: 'HistogramMalformed', message: `${name}'s buckets are not cumulative at le="${upperBounds[i]}"` });
  }
  return { upperBounds, cumulativeCounts, sum, count: cumulativeCounts[cumulativeCounts.length - 1]!, };
}

/**
 * The observations made between two scrapes of the same histogram (`later` minus `earlier`), e.g.
 * the passes of one phase of a benchmark. Throws `HistogramMalformed` when the bounds differ or a
 * count went down (the process restarted between the scrapes).
 */
export function histogramDelta(options: { earlier: Histogram; later: Histogram }): Histogram {
  const { earlier, later } = options;
  if (earlier.upperBounds.length !== later.upperBounds.length || earlier.upperBounds.some((b, i) => b !== later.upperBounds[i])) {
    throw new HistogramParseError({ code: 'HistogramMalformed', message: 'the two scrapes have different bucket bounds' });
  }
  const cumulativeCounts = later.cumulativeCounts.map((c, i) => c - earlier.cumulativeCounts[i]!);
  if (cumulativeCounts.some((c) => c < 0)) throw new HistogramParseError({ code: 'HistogramMalformed', message: 'a count went down between the scrapes (did the process restart?)' });
  return { upperBounds: later.upperBounds, cumulativeCounts, sum: later.sum - earlier.sum, count: later.count - earlier.count };
}

/**
 * The q-quantile (0..1) as Prometheus' `histogram_quantile` estimates it: NaN without
 * observations; inside the bucket holding the rank, linear between its lower and upper bound
 * (the first bucket's lower bound is 0); a rank in the `+Inf` bucket gives the highest finite
 * bound (the estimate cannot say more, and the caller should read it as "at least").
 */
export function histogramQuantile(options: { histogram: Histogram; q: number }): number {
  const { histogram, q } = options;
  if (!(q >= 0 && q <= 1)) throw new RangeError(`a quantile is between 0 and 1, not ${q}`);
  const { upperBounds, cumulativeCounts, count } = histogram;
  if (count === 0) return NaN;
  const rank = q * count;
  const i = cumulativeCounts.findIndex((c) => c >= rank);
  if (upperBounds[i] === Infinity) return upperBounds[upperBounds.length - 2] ?? NaN;
  const lower = i === 0 ? 0 : upperBounds[i - 1]!;
  const below = i === 0 ? 0 : cumulativeCounts[i - 1]!;
  const inBucket = cumulativeCounts[i]! - below;
  if (inBucket === 0) return lower;
  return lower + (upperBounds[i]! - lower) * ((rank - below) / inBucket);
}
