/**
 * A second try for a request that met a kept-alive connection the server had just closed.
 *
 * A server, or a load balancer in front of it, closes an idle connection when it chooses; a client
 * that sends its next request in the same instant gets a reset (ECONNRESET, EPIPE) and no answer.
 * No timer on the client can rule that out, only a retry can. Go's transport, under client-go,
 * sends such a request again when it is idempotent; node's agents never do, and client-node 1.x
 * passes the error straight up, so a controller pass or a console page failed with "ECONNRESET"
 * on a healthy cluster.
 *
 * Only idempotent methods (RFC 9110: GET, HEAD, OPTIONS, PUT, DELETE) are sent again: a POST or a
 * PATCH that reached the server before the reset must not be applied twice. The second try runs
 * under the request's own abort signal, so it stays inside the request's deadline.
 */
import {
  createConfiguration,
  IsomorphicFetchHttpLibrary,
  ServerConfiguration,
  wrapHttpLibrary,
  type ApiConstructor,
  type ApiType,
  type HttpLibrary,
  type KubeConfig,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';

/** Methods whose repetition has the effect of one request (RFC 9110, section 9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** The codes of a connection the other side closed under the request. */
const STALE_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE']);

const RETRYING = Symbol('graylane.staleConnectionRetry');

/** What a wrapped KubeConfig carries: whom to tell of a retry (the last caller that named one). */
interface Retrying {
  onRetry: StaleConnectionRetryOptions['onRetry'];
}

/** Whether `error` (node-fetch's FetchError, or an error it wraps) says the connection was reset under the request. */
export function isStaleConnection(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; e instanceof Error && depth < 4; depth += 1, e = e.cause) {
    const code = (e as Error & { code?: unknown }).code;
    if (typeof code === 'string' && STALE_CONNECTION_CODES.has(code)) return true;
  }
  return false;
}

/** Whether a request with `method` may be sent a second time after a reset. */
export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT.has(method.toUpperCase());
}

/** One request {@link retryStaleConnections} sent again. */
export interface StaleConnectionRetried {
  /** The request's method. */
  method: string;
  /** The request's URL. */
  url: string;
  /** What the first try failed with. */
  error: unknown;
}

/** Options of {@link retryStaleConnections}. */
export interface StaleConnectionRetryOptions {
  /** Told of each request sent again, for a log or a counter. */
  onRetry?: ((retried: StaleConnectionRetried) => void) | undefined;
  /** The library that sends one try (default client-node's own, node-fetch). */
  httpLibrary?: HttpLibrary | undefined;
}

/**
 * An HTTP library for client-node's generated clients that sends an idempotent request once more
 * when its connection was reset before the answer.
 */
export function staleConnectionRetryLibrary(options: StaleConnectionRetryOptions = {}): HttpLibrary {
  const inner = options.httpLibrary ?? new IsomorphicFetchHttpLibrary();
  return wrapHttpLibrary({
    async send(request: RequestContext): Promise<ResponseContext> {
      try {
        return await inner.send(request).toPromise();
      } catch (error) {
        const method = request.getHttpMethod().toString();
        if (!isStaleConnection(error) || !isIdempotentMethod(method) || request.getSignal()?.aborted === true) throw error;
        options.onRetry?.({ method, url: request.getUrl(), error });
        return inner.send(request).toPromise();
      }
    },
  });
}

/**
 * Makes every API client `kubeConfig` builds from now on (`makeApiClient`, also through
 * `KubernetesObjectApi.makeApiClient`) send an idempotent request a second time when its
 * connection was reset before the answer. Calling it again wraps nothing more: an `onRetry` it
 * names replaces the one before (the controller counts what the loader set up). Returns the same
 * KubeConfig.
 */
export function retryStaleConnections(kubeConfig: KubeConfig, options: StaleConnectionRetryOptions = {}): KubeConfig {
  const marked = kubeConfig as KubeConfig & { [RETRYING]?: Retrying };
  const existing = marked[RETRYING];
  if (existing) {
    if (options.onRetry) existing.onRetry = options.onRetry;
    return kubeConfig;
  }
  const retrying: Retrying = (marked[RETRYING] = { onRetry: options.onRetry });
  const httpApi = staleConnectionRetryLibrary({ httpLibrary: options.httpLibrary, onRetry: (retried) => retrying.onRetry?.(retried) });
  // client-node's own makeApiClient, with the one part it does not let a caller choose.
  kubeConfig.makeApiClient = <T extends ApiType>(apiClientType: ApiConstructor<T>): T => {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('No active cluster!');
    return new apiClientType(createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kubeConfig },
      httpApi,
    }));
  };
  return kubeConfig;
}
