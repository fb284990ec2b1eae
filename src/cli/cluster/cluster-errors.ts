/** Failures of talking to a cluster that the CLI reports as sentences. */
import { ApiError } from '../../api/client.js';
import type { ClusterTarget } from './cluster-target.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, isRequestTimeout, requestTimeoutOf } from '../../kube/request-timeout.js';

/** The API server could not be reached at all: exit 3, as a daemon that is not running. */
export class ClusterUnreachableError extends Error {
  readonly code = 'ClusterUnreachable';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ClusterUnreachableError';
  }
}

/** What client-node's `ApiException` carries; matched by shape so the CLI need not load the client. */
interface AnsweredError extends Error {
  code: number;
  body: unknown;
}

/** Whether `error` is an answer from the API server (client-node's `ApiException`). */
function isAnswered(error: unknown): error is AnsweredError {
  return error instanceof Error && error.constructor.name === 'ApiException' && typeof (error as Partial<AnsweredError>).code === 'number';
}

/** The HTTP status of a client-node error, or undefined when the request got no answer. */
export function httpStatusOf(error: unknown): number | undefined {
  return isAnswered(error) ? error.code : undefined;
}

/** The API server's own sentence in an error answer (its Status `message`), else the error's. */
function serverMessage(error: AnsweredError): string {
  const body: unknown = error.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      // Not a Status: the body itself says it.
      if (body !== '') return body;
    }
  }
  return error.message.split('\n')[0] ?? error.message;
}

/**
 * A failed request as the CLI reports it: no answer → {@link ClusterUnreachableError}; any answer
 * the caller did not handle → `ApiError` `ClusterError` naming what was asked and the server's words.
 */
export function clusterFailure(error: unknown, target: ClusterTarget, what: string): Error {
  if (isAnswered(error)) {
    const status = httpStatusOf(error) ?? 0;
    return new ApiError('ClusterError', `the cluster answered ${status} to ${what}: ${serverMessage(error)}`, status);
  }
  if (isRequestTimeout(error)) {
    return new ClusterUnreachableError(`the Kubernetes API server at ${target.server} (context ${target.context}) did not answer ${what} within ${(requestTimeoutOf(target.kubeConfig) ?? DEFAULT_REQUEST_TIMEOUT_MS) / 1000} s`, { cause: error });
  }
  const cause = error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : String(error);
  return new ClusterUnreachableError(`cannot reach the Kubernetes API server at ${target.server} (context ${target.context}): ${cause}. Is the cluster up, and is this the right context?`, { cause: error });
}
