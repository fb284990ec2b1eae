/**
 * Why a request to an upstream instance failed, as the router's own HTTP/1.1 client reports it.
 * Failures of the socket itself keep the system's errno code (`ECONNREFUSED`, `ECONNRESET`,
 * `EPIPE`): the exchange tells "never sent" from "sent, then lost" by them.
 */
export type UpstreamErrorCode =
  /** No connection within `connectMs`. */
  | 'UPSTREAM_CONNECT_TIMEOUT'
  /** Connected and sent, but no response head within `idleMs`. */
  | 'UPSTREAM_HEADERS_TIMEOUT'
  /** The response body stopped for `idleMs`. */
  | 'UPSTREAM_BODY_TIMEOUT'
  /** The upstream closed the connection before the response was complete. */
  | 'UPSTREAM_CLOSED'
  /** The upstream's bytes are not an HTTP/1.1 response this router forwards (see response-parser.ts). */
  | 'UPSTREAM_BAD_RESPONSE'
  /** The request itself cannot be written as HTTP/1.1 (a target or header value the wire cannot carry). */
  | 'UPSTREAM_INVALID_REQUEST'
  /** The router gave the request up itself (a timeout of its own, the client left, a drain). */
  | 'UPSTREAM_ABORTED';

/** A failed upstream request; see {@link UpstreamErrorCode}. */
export class UpstreamError extends Error {
  constructor(
    readonly code: UpstreamErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}
