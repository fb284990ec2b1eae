/**
 * An instance's keep-alive connections to its upstream: the router's own HTTP/1.1 connections
 * (upstream/upstream-connection.ts), one request each at a time, handed out last-in first-out. A
 * retry needs to know whether the connection a request went out on was a reused one (a reset
 * there means the request never got processed): `connected` says so at `acquire`.
 */
import { UpstreamConnection } from './upstream/upstream-connection.js';

export { UpstreamConnection };

/** Options of {@link UpstreamPool}. */
export interface UpstreamPoolOptions {
  host: string;
  port: number;
  /** Establishing a new connection; then `UPSTREAM_CONNECT_TIMEOUT`. */
  connectMs: number;
  /** No response bytes for this long (head or body); then `UPSTREAM_HEADERS_TIMEOUT` or `UPSTREAM_BODY_TIMEOUT`. */
  idleMs: number;
}

// An idle connection is kept 30 s when the upstream names no keep-alive timeout, 10 min at most.
const KEEP_ALIVE_MS = 30_000;
const KEEP_ALIVE_MAX_MS = 600_000;

/** Keep-alive connections of one instance; see the module comment. */
export class UpstreamPool {
  private readonly idle: UpstreamConnection[] = [];
  private readonly all = new Set<UpstreamConnection>();
  private closing = false;

  constructor(private readonly options: UpstreamPoolOptions) {}

  /** Connections open or pooled (for tests and metrics). */
  get size(): number {
    return this.all.size;
  }

  /** A connection for one request: the most recently used idle one, else a new one. */
  acquire(): UpstreamConnection {
    const idle = this.idle.pop();
    if (idle) return idle;
    const o = this.options;
    const conn = new UpstreamConnection({ host: o.host, port: o.port, connectMs: o.connectMs, idleMs: o.idleMs, keepAliveMs: KEEP_ALIVE_MS, keepAliveMaxMs: KEEP_ALIVE_MAX_MS });
    this.all.add(conn);
    return conn;
  }

  /** Returns a connection once its request is over (completed or failed). */
  release(conn: UpstreamConnection): void {
    if (conn.discarded || this.closing) {
      this.all.delete(conn);
      conn.discard();
      return;
    }
    this.idle.push(conn);
  }

  /** Closes the connections nobody is using. */
  closeIdle(): void {
    for (const conn of this.idle.splice(0)) {
      this.all.delete(conn);
      conn.discard();
    }
  }

  /** From now on connections close as their requests finish (draining). */
  closeAsReleased(on: boolean): void {
    this.closing = on;
    if (on) this.closeIdle();
  }

  /** Tears every connection down, busy ones included. */
  destroy(): void {
    this.closing = true;
    this.idle.length = 0;
    for (const conn of this.all) conn.discard();
    this.all.clear();
  }
}
