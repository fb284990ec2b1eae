/**
 * The `web` provider: an HTTP GET, POST or PUT whose JSON answer (or a JSONPath into it) is the
 * measurement's `result`. Argo's `{$.data.ok}` JSONPath form is accepted as well as `$.data.ok`.
 * A non-2xx status is an Error measurement (the endpoint did not answer the question). Filter
 * expressions run in jsonpath-plus's own safe evaluator, never in JavaScript's eval.
 */
import { JSONPath } from 'jsonpath-plus';
import type { Static } from '@sinclair/typebox';
import type { WebProvider as WebProviderSchema } from '../../documents/schema.js';
import type { ResolvedMetric } from '../../analysis/judge/types.js';
import { headerObject, httpCall } from '../http.js';
import { providerConfig, ProviderError, type MeasureRequest, type MeasureResult, type MetricProvider, type ProviderCapability } from '../provider.js';

type WebConfig = Static<typeof WebProviderSchema>;

/** Argo's default web timeout. */
export const DEFAULT_WEB_TIMEOUT_MS = 10_000;

/** Reads a JSON endpoint. */
export class WebMetricProvider implements MetricProvider {
  readonly type = 'web';
  readonly capabilities: readonly ProviderCapability[] = ['headers', 'request-body', 'json-path', 'insecure-tls', 'timeout'];

  validate(metric: ResolvedMetric): void {
    const c = providerConfig<WebConfig>(metric, this.type);
    const fail = (msg: string) => new ProviderError('invalid-config', this.type, `metric "${metric.name}": ${msg}`);
    let url: URL;
    try {
      url = new URL(c.url);
    } catch {
      throw fail(`url ${JSON.stringify(c.url)} is not an absolute URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw fail(`url must be http or https, got ${url.protocol}`);
    if (c.body !== undefined && c.jsonBody !== undefined) throw fail('give body or jsonBody, not both');
    if ((c.body !== undefined || c.jsonBody !== undefined) && (c.method ?? 'GET') === 'GET') throw fail('a body needs method POST or PUT');
    if (c.jsonPath !== undefined) {
      try {
        JSONPath.toPathArray(normalisePath(c.jsonPath));
      } catch (err) {
        throw fail(`jsonPath ${JSON.stringify(c.jsonPath)} is invalid: ${(err as Error).message}`);
      }
    }
  }

  async measure({ metric, signal }: MeasureRequest): Promise<MeasureResult> {
    this.validate(metric);
    const c = providerConfig<WebConfig>(metric, this.type);
    const headers = headerObject(c.headers);
    let body = c.body;
    if (c.jsonBody !== undefined) {
      body = JSON.stringify(c.jsonBody);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    const answer = await httpCall({
      url: c.url,
      method: c.method ?? 'GET',
      headers,
      ...(body !== undefined ? { body } : {}),
      insecure: c.insecure ?? false,
      timeoutMs: (c.timeoutSeconds ?? DEFAULT_WEB_TIMEOUT_MS / 1000) * 1000,
      signal,
      providerType: this.type,
    });
    if (answer.status < 200 || answer.status > 299) {
      throw new ProviderError('bad-status', this.type, `${c.method ?? 'GET'} ${c.url} answered ${answer.status}: ${answer.text.slice(0, 200)}`);
    }
    let json: unknown;
    try {
      json = answer.text.trim() === '' ? null : JSON.parse(answer.text);
    } catch {
      if (c.jsonPath === undefined) return { value: answer.text, metadata: { status: String(answer.status) } };
      throw new ProviderError('bad-response', this.type, `${c.url} did not answer JSON, so jsonPath ${c.jsonPath} cannot apply: ${answer.text.slice(0, 200)}`);
    }
    if (c.jsonPath === undefined) return { value: json, metadata: { status: String(answer.status) } };
    const matches: unknown[] = JSONPath<unknown[]>({ path: normalisePath(c.jsonPath), json: json as object, wrap: true, eval: 'safe' });
    if (matches.length === 0) throw new ProviderError('no-data', this.type, `jsonPath ${c.jsonPath} matched nothing in the answer of ${c.url}`);
    return { value: matches.length === 1 ? matches[0] : matches, metadata: { status: String(answer.status) } };
  }
}

/** Argo (Kubernetes JSONPath) wraps paths in braces: `{$.data}`. */
function normalisePath(path: string): string {
  const t = path.trim();
  return t.startsWith('{') && t.endsWith('}') ? t.slice(1, -1).trim() : t;
}
