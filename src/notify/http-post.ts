/**
 * One JSON POST to a receiver, shared by the receiver types. Errors never carry the URL (a Slack
 * webhook's URL is its secret) and carry the server's Retry-After (429, 503) as `retryAfterMs`.
 */
import { parseRetryAfterMs, type RetryAfterHint } from '../lib/retry-after.js';

/** The longest Retry-After honoured: a receiver asking for more is retried after this. */
export const MAX_RECEIVER_RETRY_AFTER_MS = 60_000;

/** Why a delivery attempt failed. */
export type DeliveryFailure = 'HttpStatus' | 'Timeout' | 'Unreachable';

/** A delivery attempt failed; the message names the receiver, never its URL. */
export class DeliveryError extends Error implements Partial<RetryAfterHint> {
  /** Stable code for callers. */
  readonly code = 'DeliveryFailed';
  constructor(
    /** What went wrong. */
    readonly failure: DeliveryFailure,
    message: string,
    /** The HTTP status, when the receiver answered. */
    readonly status?: number,
    /** How long the receiver asked to be left alone (429 or 503 with Retry-After). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/** Options of {@link postJson}. */
export interface PostJsonOptions {
  /** Where (never logged). */
  url: string;
  /** The body, serialised as JSON. */
  body: unknown;
  /** Extra headers (never logged). */
  headers: Readonly<Record<string, string>>;
  /** Cancels the request (the attempt's timeout). */
  signal: AbortSignal;
  /** Who, for messages. */
  receiver: string;
  /** Clock for an HTTP-date Retry-After; default `Date.now`. */
  nowMs?: () => number;
}

/** POSTs `body` as JSON; resolves on a 2xx, rejects with a {@link DeliveryError} otherwise. */
export async function postJson(options: PostJsonOptions): Promise<void> {
  let response: Response;
  try {
    response = await fetch(options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      body: JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (err) {
    // fetch's own messages may quote the URL: say only what kind of failure it was.
    if (options.signal.aborted) throw new DeliveryError('Timeout', `receiver ${options.receiver}: no answer before the timeout`);
    const cause = (err as { cause?: { code?: unknown } }).cause?.code;
    throw new DeliveryError('Unreachable', `receiver ${options.receiver}: unreachable${typeof cause === 'string' ? ` (${cause})` : ''}`);
  }
  // Drained so that the keep-alive connection is reused.
  await response.arrayBuffer().catch(() => undefined);
  if (response.ok) return;
  const retryAfterMs = response.status === 429 || response.status === 503 ? parseRetryAfterMs(response.headers.get('retry-after'), options.nowMs ?? Date.now) : undefined;
  throw new DeliveryError('HttpStatus', `receiver ${options.receiver}: HTTP ${response.status}`, response.status, retryAfterMs === undefined ? undefined : Math.min(retryAfterMs, MAX_RECEIVER_RETRY_AFTER_MS));
}

