/**
 * A deadline on every request `@kubernetes/client-node` 1.x makes through a KubeConfig's API
 * clients. The client sets none, and its fetch has no timeout: a request sent on a connection a
 * load balancer dropped without a word, or to an API server that stopped answering, waits until
 * the kernel gives up on the socket (15 minutes and more on Linux). A reconcile pass waiting on
 * it holds its Rollout all that time, and every change to it queues behind. client-go finds such
 * connections with HTTP/2 pings within about 45 s; the API server itself ends a request after
 * 60 s (its `--request-timeout`), so no answer can be longer in coming than that.
 *
 * Watches are not affected: client-node opens them through `applyToFetchOptions`, and the
 * informer asks the server to end each one after its own `timeoutSeconds`.
 */
import type { KubeConfig } from '@kubernetes/client-node';

/** The API server's own default request timeout: an answer later than this cannot come. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

const LIMITED = Symbol('graylane.requestTimeout');

/** Options of {@link limitRequestTime}. */
export interface RequestTimeoutOptions {
  /** How long one request may wait for its answer (default {@link DEFAULT_REQUEST_TIMEOUT_MS}). */
  requestTimeoutMs?: number | undefined;
}

/**
 * Makes every request of `kubeConfig`'s API clients that carries no abort signal of its own
 * fail once it has waited `requestTimeoutMs`. Calling it again only changes the timeout (the
 * last call's holds); returns the same KubeConfig.
 */
export function limitRequestTime(kubeConfig: KubeConfig, options: RequestTimeoutOptions = {}): KubeConfig {
  const marked = kubeConfig as KubeConfig & { [LIMITED]?: number };
  const wrapped = marked[LIMITED] !== undefined;
  marked[LIMITED] = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (wrapped) return kubeConfig;
  const original = kubeConfig.applySecurityAuthentication.bind(kubeConfig);
  kubeConfig.applySecurityAuthentication = async (context) => {
    await original(context);
    // A caller's own signal (a watch, a cancelled command) decides for itself.
    if (context.getSignal() === undefined) context.setSignal(AbortSignal.timeout(marked[LIMITED] ?? DEFAULT_REQUEST_TIMEOUT_MS));
  };
  return kubeConfig;
}

/** The timeout {@link limitRequestTime} put on `kubeConfig`, if any. */
export function requestTimeoutOf(kubeConfig: KubeConfig): number | undefined {
  return (kubeConfig as KubeConfig & { [LIMITED]?: number })[LIMITED];
}

/**
 * Whether `error` is a request cut by its abort signal: client-node's fetch (node-fetch 2)
 * rejects with an `AbortError` of type `aborted`, whose own message ("The user aborted a
 * request.") blames a user who did nothing.
 */
export function isRequestTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError' && (error as Error & { type?: unknown }).type === 'aborted';
}

/**
 * `error`'s message, the words of a request cut by the timeout replaced by a sentence that says
 * so, also where an adapter wrapped it (found through `cause`).
 */
export function requestFailureMessage(error: unknown, timeoutMs: number | undefined = DEFAULT_REQUEST_TIMEOUT_MS): string {
  const sentence = `the Kubernetes API server did not answer within ${timeoutMs === undefined ? 'the request timeout' : `${timeoutMs / 1000} s`}`;
  if (isRequestTimeout(error)) return sentence;
  const message = error instanceof Error ? error.message : String(error);
  let cause: unknown = error instanceof Error ? error.cause : undefined;
  for (let depth = 0; cause instanceof Error && depth < 8; depth += 1, cause = cause.cause) {
    if (isRequestTimeout(cause)) return message.replace(cause.message, sentence);
  }
  return message;
}
