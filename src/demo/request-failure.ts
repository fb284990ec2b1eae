/** Why a request failed, as a load report counts it. 4xx answers are answers, not failures. */
export type FailureReason = 'connection' | 'timeout' | 'http5xx';

/** All reasons, for building zeroed counters. */
export const FAILURE_REASONS: readonly FailureReason[] = ['connection', 'timeout', 'http5xx'];

/** Zeroed counters, one per reason. */
export function emptyFailureCounts(): Record<FailureReason, number> {
  return { connection: 0, timeout: 0, http5xx: 0 };
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/** Classifies an error thrown by an HTTP client: a timeout, or else a connection failure. */
export function classifyRequestError(err: unknown): Exclude<FailureReason, 'http5xx'> {
  if (typeof err === 'object' && err !== null) {
    const { code, name } = err as { code?: unknown; name?: unknown };
    if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return 'timeout';
    if (name === 'TimeoutError') return 'timeout';
  }
  return 'connection';
}
