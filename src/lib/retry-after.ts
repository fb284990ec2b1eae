/**
 * The contract by which an adapter tells the controller core how long a server asked it to wait
 * before trying again (a 429's or a 503's Retry-After): the error carries `retryAfterMs`. The core
 * reads it without knowing which server, client library or protocol the adapter speaks.
 */

/** An error whose server asked for a delay before the next attempt. */
export interface RetryAfterHint {
  /** How long the server asked to be left alone, in ms (already capped by the adapter). */
  readonly retryAfterMs: number;
}

/** How deep {@link retryAfterMsOf} follows `cause`: adapters wrap once or twice, never more. */
const MAX_CAUSE_DEPTH = 4;

/**
 * The delay the server asked for, from `error` or an error it wraps (`cause`), or undefined when
 * none asked. The first hint found wins: the outermost adapter knows best what it waited for.
 */
export function retryAfterMsOf(error: unknown): number | undefined {
  let current: unknown = error;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH; depth += 1) {
    if (typeof current !== 'object' || current === null) return undefined;
    const hint = (current as { retryAfterMs?: unknown }).retryAfterMs;
    if (typeof hint === 'number' && Number.isFinite(hint) && hint >= 0) return hint;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * A Retry-After header's value in ms: delay-seconds or an HTTP-date (RFC 9110; servers send seconds,
 * proxies in front of them may send a date). Undefined when absent or unreadable.
 */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: () => number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[a-z]/i.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs());
}
