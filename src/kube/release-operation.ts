/**
 * A person's operation on a Release, asked of the leading controller through the Release itself
 * (the CLI never operates a release's members on its own: the release loop commits the release's
 * state and then operates every member, and only the leader runs it). The request is an
 * annotation carrying an id, the operation and the version of the release's memory the person saw;
 * the answer is another annotation carrying the same id.
 *
 * Exactly once: the loop carries out a request only while the memory is still at the version it
 * names, and an operation that changes the release commits a new version, so the same request can
 * never be carried out twice, even by a new leader after a crash; one that changes nothing is
 * answered, and an answered id is never carried out again. A request made stale by a pass of the
 * loop is answered `stale`, and the CLI asks again on the new version (once).
 */

/** On a Release: JSON {@link ReleaseOperationRequest}. */
export const RELEASE_OPERATION_ANNOTATION = 'graylane.dev/operation';
/** On a Release: JSON {@link ReleaseOperationResult}, the answer to the last request. */
export const RELEASE_OPERATION_RESULT_ANNOTATION = 'graylane.dev/operation-result';

/** What a person asked. */
export interface ReleaseOperationRequest {
  /** Unique per request. */
  id: string;
  /** The engine's operation (`promote`, `promoteFull`, `pause`, `resume`, `abort`, `retry`, `setWeight`…), as JSON. */
  operation: { type: string; [field: string]: unknown };
  /** The version of the release's memory (`status.graylane.version`) the request is for. */
  version: number;
}

/** How a request ended. */
export type ReleaseOperationOutcome =
  /** Carried out. */
  | 'done'
  /** It makes no sense now (the message says why); nothing was done. */
  | 'refused'
  /** The release changed since the request was made; nothing was done. */
  | 'stale';

/** The controller's answer. */
export interface ReleaseOperationResult {
  /** The request's id. */
  id: string;
  /** See {@link ReleaseOperationOutcome}. */
  outcome: ReleaseOperationOutcome;
  /** For people. */
  message: string;
}

function parse(raw: string | undefined): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  try {
    const value = JSON.parse(raw) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    // Not ours, or hand-edited beyond use: no request.
    return undefined;
  }
}

/** The request an annotation value holds, or undefined when it holds none that can be read. */
export function parseReleaseOperationRequest(raw: string | undefined): ReleaseOperationRequest | undefined {
  const v = parse(raw);
  const op = v?.operation as ReleaseOperationRequest['operation'] | undefined;
  if (typeof v?.id !== 'string' || typeof v.version !== 'number' || typeof op?.type !== 'string') return undefined;
  return { id: v.id, operation: op, version: v.version };
}

/** The result an annotation value holds, or undefined. */
export function parseReleaseOperationResult(raw: string | undefined): ReleaseOperationResult | undefined {
  const v = parse(raw);
  if (typeof v?.id !== 'string' || (v.outcome !== 'done' && v.outcome !== 'refused' && v.outcome !== 'stale')) return undefined;
  return { id: v.id, outcome: v.outcome, message: typeof v.message === 'string' ? v.message : '' };
}
