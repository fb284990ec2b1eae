/**
 * An instance's keep-alive connections to its upstream: undici `Client`s with pipelining 1, one
 * request each at a time, handed out last-in first-out. A pool of our own rather than undici's
 * `Pool` because a retry needs to know whether the connection a request went out on was a reused
 * one (a reset there means the request never got processed), and `Pool` does not say.
 */
import { undiciClient, type Client } from './undici-client.js';

/** One upstream connection (reconnecting on demand) and whether it is connected now. */
export class UpstreamConnection {
  /** True between undici's `connect` and `disconnect` events. */
  connected = false;
  /** Set when the connection is torn down on purpose; it is not pooled again. */
  discarded = false;

  constructor(readonly client: Client) {
    client.on('connect', () => {
      this.connected = true;
    });
    client.on('disconnect', () => {
      this.connected = false;
    });
    // Connection errors reach the request that was waiting; nothing else listens.
    client.on('connectionError', () => undefined);
  }

  /** Tears the connection down, failing whatever it carries with `err`. */
  discard(err?: Error): void {
    if (this.discarded) return;
    this.discarded = true;
    this.client.destroy(err ?? null).catch(() => undefined);
  }
}

/** Options of {@link UpstreamPool}. */
export interface UpstreamPoolOptions {
  /** `http://host:port` of the instance. */
  origin: string;
  /** Establishing a new connection; undici fails the request with `UND_ERR_CONNECT_TIMEOUT`. */
  connectMs: number;
  /** No response bytes for this long (headers or body); undici fails with `UND_ERR_*_TIMEOUT`. */
  idleMs: number;
}

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
    const conn = new UpstreamConnection(
      new (undiciClient())(o.origin, {
        pipelining: 1,
        connect: { timeout: o.connectMs, noDelay: true },
        headersTimeout: o.idleMs,
        bodyTimeout: o.idleMs,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
      }),
    );
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
