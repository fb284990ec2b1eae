/**
 * The HTTP call shared by the web and Prometheus providers: undici, a timeout, optional
 * skipping of TLS verification, a cap on the body size, and errors classified as ProviderErrors.
 */
import { createRequire } from 'node:module';
import type { Dispatcher } from 'undici';
import { networkError, startDeadline, throwIfAborted } from './deadline.js';
import { ProviderError } from './provider.js';

/** Bodies larger than this are refused: a metric is a number or a small document. */
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** One HTTP request. */
export interface HttpCall {
  /** Absolute http(s) URL. */
  url: string;
  /** GET, POST or PUT. */
  method: 'GET' | 'POST' | 'PUT';
  /** Request headers. */
  headers?: Record<string, string>;
  /** Request body. */
  body?: string;
  /** Skip TLS certificate verification. */
  insecure?: boolean;
  /** Give up after this long. */
  timeoutMs: number;
  /** The caller's abort. */
  signal: AbortSignal;
  /** For error messages. */
  providerType: string;
}

/** Status and body text. */
export interface HttpAnswer {
  /** HTTP status code. */
  status: number;
  /** The body as UTF-8 text. */
  text: string;
}

// undici's index (fetch, WebSocket, the cache…) costs a daemon about 10 MB of memory: loaded at
// the first metric query, not by every daemon whether or not its analyses query anything over HTTP.
// Through require, as undici is a CommonJS package: a bundler's import() of one keeps only its
// default export (scripts/bundle.mjs refuses such a chunk), where node's also names the others.
const require = createRequire(import.meta.url);
let undici: typeof import('undici') | undefined;
const agents = new Map<boolean, Dispatcher>();
function agent(insecure: boolean): { request: (typeof import('undici'))['request']; dispatcher: Dispatcher } {
  const { Agent, request } = (undici ??= require('undici') as typeof import('undici'));
  let a = agents.get(insecure);
  if (!a) {
    a = new Agent({ keepAliveTimeout: 1_000, connect: { rejectUnauthorized: !insecure } });
    agents.set(insecure, a);
  }
  return { request, dispatcher: a };
}

/** Sends the request; rejects only with a ProviderError (unreachable, timeout, aborted, bad-response). */
export async function httpCall(call: HttpCall): Promise<HttpAnswer> {
  throwIfAborted(call.signal, call.providerType);
  let url: URL;
  try {
    url = new URL(call.url);
  } catch {
    throw new ProviderError('invalid-config', call.providerType, `not a URL: ${JSON.stringify(call.url)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProviderError('invalid-config', call.providerType, `only http and https URLs are supported, got ${url.protocol}`);
  }
  const deadline = startDeadline(call.signal, call.timeoutMs, call.providerType);
  try {
    const { request, dispatcher } = agent(Boolean(call.insecure));
    const res = await request(url, {
      method: call.method,
      headers: call.headers ?? {},
      body: call.body ?? null,
      signal: deadline.signal,
      dispatcher,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > MAX_RESPONSE_BYTES) {
        res.body.destroy();
        throw new ProviderError('bad-response', call.providerType, `response from ${url.host} is larger than ${MAX_RESPONSE_BYTES} bytes`);
      }
      chunks.push(buf);
    }
    return { status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') };
  } catch (err) {
    throw deadline.classify(err, networkError(call.providerType, url.host));
  } finally {
    deadline.dispose();
  }
}

/** `[{key, value}]` (the document's form) to a header object. */
export function headerObject(list: ReadonlyArray<{ key: string; value: string }> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of list ?? []) out[key] = value;
  return out;
}
