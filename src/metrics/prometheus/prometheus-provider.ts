/**
 * The `prometheus` provider: a PromQL instant query over the HTTP API (`GET /api/v1/query`).
 * An instant vector becomes an array of numbers (in series order, as Argo gives it: use
 * `result[0]`), a scalar a number, a string a string. Anything but `status: success` — a bad
 * query, a server error, an unreachable server, a timeout — is a ProviderError, hence an Error
 * measurement that counts toward consecutiveErrorLimit; never a pass.
 */
import type { Static } from '@sinclair/typebox';
import type { PrometheusProvider as PrometheusProviderSchema } from '../../documents/schema.js';
import type { ResolvedMetric } from '../../analysis/judge/types.js';
import { headerObject, httpCall } from '../http.js';
import { providerConfig, ProviderError, type MeasureRequest, type MeasureResult, type MetricProvider, type ProviderCapability } from '../provider.js';

type PrometheusConfig = Static<typeof PrometheusProviderSchema>;

/** Timeout when the metric gives none. */
export const DEFAULT_PROMETHEUS_TIMEOUT_MS = 30_000;

interface QueryAnswer {
  status?: string;
  errorType?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

/** Queries a Prometheus server. */
export class PrometheusMetricProvider implements MetricProvider {
  readonly type = 'prometheus';
  readonly capabilities: readonly ProviderCapability[] = ['headers', 'insecure-tls', 'timeout'];

  validate(metric: ResolvedMetric): void {
    const c = providerConfig<PrometheusConfig>(metric, this.type);
    const fail = (msg: string) => new ProviderError('invalid-config', this.type, `metric "${metric.name}": ${msg}`);
    let url: URL;
    try {
      url = new URL(c.address);
    } catch {
      throw fail(`address ${JSON.stringify(c.address)} is not an absolute URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw fail(`address must be http or https, got ${url.protocol}`);
    if (typeof c.query !== 'string' || c.query.trim() === '') throw fail('query is empty');
    if (c.authentication !== undefined) throw fail('authentication (sigv4, oauth2) is not supported; pass a bearer token in headers');
  }

  async measure({ metric, signal, now }: MeasureRequest): Promise<MeasureResult> {
    this.validate(metric);
    const c = providerConfig<PrometheusConfig>(metric, this.type);
    const url = new URL('api/v1/query', c.address.endsWith('/') ? c.address : `${c.address}/`);
    url.searchParams.set('query', c.query);
    url.searchParams.set('time', (now / 1000).toFixed(3));
    const answer = await httpCall({
      url: url.toString(),
      method: 'GET',
      headers: { accept: 'application/json', ...headerObject(c.headers) },
      insecure: c.insecure ?? false,
      timeoutMs: (c.timeout ?? DEFAULT_PROMETHEUS_TIMEOUT_MS / 1000) * 1000,
      signal,
      providerType: this.type,
    });
    let body: QueryAnswer;
    try {
      body = JSON.parse(answer.text) as QueryAnswer;
    } catch {
      throw new ProviderError('bad-response', this.type, `${url.host} answered ${answer.status} with something other than JSON: ${answer.text.slice(0, 200)}`);
    }
    if (body.status !== 'success') {
      const code = answer.status >= 400 && answer.status < 500 ? 'query-failed' : 'bad-status';
      throw new ProviderError(code, this.type, `query ${JSON.stringify(c.query)} failed (${answer.status}${body.errorType ? `, ${body.errorType}` : ''}): ${body.error ?? 'no error message'}`);
    }
    return { value: convert(body.data, this.type), metadata: { resultType: body.data?.resultType ?? '' } };
  }
}

function convert(data: QueryAnswer['data'], type: string): unknown {
  const result = data?.result;
  switch (data?.resultType) {
    case 'vector':
      if (!Array.isArray(result)) break;
      return result.map((series) => sampleValue((series as { value?: unknown }).value, type));
    case 'scalar':
      return sampleValue(result, type);
    case 'string':
      if (Array.isArray(result) && typeof result[1] === 'string') return result[1];
      break;
    case 'matrix':
      throw new ProviderError('bad-response', type, 'the query returned a range vector (matrix); an instant query must return a vector or a scalar');
    default:
      break;
  }
  throw new ProviderError('bad-response', type, `unexpected result ${JSON.stringify(data).slice(0, 200)}`);
}

/** `[timestamp, "value"]` → number; Prometheus spells NaN and infinities as strings. */
function sampleValue(sample: unknown, type: string): number {
  if (!Array.isArray(sample) || typeof sample[1] !== 'string') throw new ProviderError('bad-response', type, `malformed sample ${JSON.stringify(sample)}`);
  const text = sample[1];
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return text === 'NaN' ? NaN : Number(text);
}
