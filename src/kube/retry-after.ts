/**
 * The delay a Kubernetes API server asks for when it sheds load: API priority and fairness
 * answers 429 with `Retry-After`, an overloaded or starting server 503. Read from a client-node
 * `ApiException` (its lower-cased response headers), in seconds or as an HTTP-date.
 */
import { parseRetryAfterMs } from '../lib/retry-after.js';

/** The longest wait taken from a server: the work queue's longest back-off. A longer ask (or a clock far off) is not a reason to stall a Rollout. */
export const MAX_SERVER_RETRY_AFTER_MS = 30_000;

/** The statuses whose Retry-After asks a client to come back later (a 3xx's is about redirects). */
const THROTTLING_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/** Options of {@link serverRetryAfterMs}. */
export interface ServerRetryAfterOptions {
  /** The clock an HTTP-date is counted from (epoch ms); default `Date.now`. */
  nowMs?: (() => number) | undefined;
  /** The cap; default {@link MAX_SERVER_RETRY_AFTER_MS}. */
  maxMs?: number | undefined;
}

/**
 * The wait in ms a 429 or 503 answer asked for with `Retry-After`, capped at `maxMs`; undefined
 * for any other error, or when the header is absent or unreadable (then the caller's own back-off
 * stands). Duck-typed on `code` and `headers`, as client-node's `ApiException` has them, so that
 * a watch's error is read the same way.
 */
export function serverRetryAfterMs(error: unknown, options: ServerRetryAfterOptions = {}): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, headers } = error as { code?: unknown; headers?: unknown };
  if (typeof code !== 'number' || !THROTTLING_STATUSES.has(code)) return undefined;
  if (typeof headers !== 'object' || headers === null) return undefined;
  const raw = (headers as Record<string, unknown>)['retry-after'] ?? (headers as Record<string, unknown>)['Retry-After'];
  if (typeof raw !== 'string') return undefined;
  const ms = parseRetryAfterMs(raw, options.nowMs ?? Date.now);
  return ms === undefined ? undefined : Math.min(options.maxMs ?? MAX_SERVER_RETRY_AFTER_MS, ms);
}

