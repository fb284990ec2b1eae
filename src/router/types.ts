/**
 * The router's options (how one data-plane process is configured), and its contract types
 * (route tables, events, statistics: see `./contract/`) re-exported for the router's own files.
 */
import type { RouteTable, RouterEvent } from './contract/index.js';

export type * from './contract/index.js';

/**
 * Proxy timeouts. The upstream's (`connectMs`, `responseHeaderMs`, `idleMs`) give a 502/504
 * counted under `timeouts`; the client's (`clientHeaderMs`, `clientBodyMs`, `sendMs`) are the
 * client's fault and charged to no revision.
 */
export interface TimeoutOptions {
  /** Establishing a new upstream connection (504 when exceeded). */
  connectMs: number;
  /**
   * From dispatch (including time queued) to the upstream's response headers (504); while the
   * client is still sending the request body the clock waits, as the upstream cannot answer yet.
   */
  responseHeaderMs: number;
  /** No bytes in either direction on an exchange or an idle client connection. */
  idleMs: number;
  /** The client's whole request header section must arrive within this (else 408, nginx's client_header_timeout). */
  clientHeaderMs: number;
  /** No byte of the request body for this long gives 408 (nginx's client_body_timeout). */
  clientBodyMs: number;
  /** A client that reads none of its response for this long loses the connection (nginx's send_timeout). */
  sendMs: number;
  /** A WebSocket/upgrade tunnel with no bytes either way for this long is closed. */
  tunnelIdleMs: number;
}

/** Per-instance limits and outlier detection. */
export interface CircuitBreakerOptions {
  /** Concurrent requests per instance before queueing. */
  maxConcurrentRequests: number;
  /** Queued requests per instance before answering 503. */
  maxPendingRequests: number;
  /** Consecutive connect errors or 5xx that eject an instance. */
  consecutiveErrors: number;
  /** First ejection time; doubles with each consecutive ejection. */
  baseEjectionMs: number;
  /** Upper bound of the ejection time. */
  maxEjectionMs: number;
  /** Path probed (GET) before readmission; passes on any status below 500. */
  probePath: string;
}

/** Where the admin API listens; always loopback, always token-protected. */
export interface AdminOptions {
  /** A loopback address (127.0.0.0/8, ::1 or localhost). */
  host: string;
  /** Port; 0 lets the OS choose. */
  port: number;
  /** Bearer token required on every admin request (see `metricsWithoutToken`). */
  token: string;
  /** Serve `GET /metrics` without the token (off by default: loopback is shared by every local user). */
  metricsWithoutToken?: boolean;
}

/** One certificate and the hosts it serves, from PEM files. */
export interface CertificateFiles {
  /** Host names it serves (`shop.example.com`), or one-label wildcards (`*.example.com`). */
  hosts: string[];
  /** PEM certificate (its chain may follow it in the same file). */
  certFile: string;
  /** PEM private key of that certificate, without a passphrase. */
  keyFile: string;
}

/** A certificate reloaded from changed files, or a change refused (the old one stays in use). */
export interface CertificateEvent {
  /** `certificate-reloaded`: new connections get the new one; `certificate-rejected`: they keep the old one. */
  type: 'certificate-reloaded' | 'certificate-rejected';
  /** The hosts of the entry. */
  hosts: string[];
  /** The entry's certificate file. */
  certFile: string;
  /** Wall-clock time, ms since the epoch. */
  atMs: number;
  /** Why the change was refused, or the new certificate's subject. */
  reason: string;
  /**
   * The files' identity and modification the event is about: the same in every process that
   * watches them, so that router workers reporting one change can be told apart from two changes.
   */
  stamp?: string;
}

/**
 * The HTTPS listener: HTTP/2 and HTTP/1.1 by ALPN, one certificate per host by SNI. A client
 * naming no known host (or none: an IP address) gets the first certificate, as nginx's default
 * server, so it sees a name mismatch it can report rather than a handshake that just fails.
 */
export interface TlsOptions {
  /** Where it listens; port 0 lets the OS choose. */
  listen: { host: string; port: number };
  /** Certificates; a host is served by one entry. Read and checked by `createRouter`. */
  certificates: CertificateFiles[];
  /** How often the files are checked for changes; default 2000 ms. */
  reloadIntervalMs?: number;
  /** Services whose plain-HTTP requests get a 308 to the same URL over HTTPS. */
  redirectServices?: string[];
  /** Certificates reloaded or refused after a change on disk. */
  onCertificateEvent?: (event: CertificateEvent) => void;
}

/** Options of {@link createRouter}. */
export interface RouterOptions {
  /** The proxy listener. */
  listen: { host: string; port: number };
  /** The admin listener; none when absent. */
  admin?: AdminOptions;
  /** An HTTPS listener beside the plain one; none when absent. */
  tls?: TlsOptions;
  /**
   * Proxy timeouts; defaults connect 2000, responseHeader 30000, idle 60000, clientHeader 60000,
   * clientBody 60000, send 60000, tunnelIdle 300000 ms.
   */
  timeouts?: Partial<TimeoutOptions>;
  /** Request bodies larger than this get 413 and are charged to nobody; 0 = no limit. Default 1 GiB. */
  maxRequestBodyBytes?: number;
  /** Client connections open at once; more are closed on accept. 0 = no limit. Default 10000. */
  maxClientConnections?: number;
  /**
   * Serve a GET or HEAD without a body on the plain listener without node:http's server
   * (src/router/server/fast-front.ts); every other request, and the rest of its connection, is
   * node:http's. On by default; `GRAYLANE_ROUTER_FAST_PATH=0` in the environment turns it off
   * where this option is not given.
   */
  fastPath?: boolean;
  /**
   * Peers (addresses or CIDRs, IPv4 or IPv6) whose `X-Forwarded-*` and `Forwarded` headers are
   * kept and appended to; from everyone else they are replaced by what the router saw. None by
   * default: the router is the edge.
   */
  trustedProxies?: string[];
  /** Circuit breaking and outlier ejection. */
  circuitBreaker?: Partial<CircuitBreakerOptions>;
  /** How long removed/draining instances (and stop()) let in-flight work finish; default 30000. */
  drainTimeoutMs?: number;
  /** Mirrored requests in flight at once, router-wide; extra copies are skipped. Default 64. */
  mirrorMaxConcurrent?: number;
  /** Length of the statistics window in seconds (1-second buckets); default 300, minimum 60. */
  statsWindowSeconds?: number;
  /**
   * Keep each revision's figures per second for windowed reads (`stats`, the admin API); default
   * true. A router supervisor's worker runs without them (its cumulative totals are what its
   * supervisor merges and the daemon windows): no ring of 1-second buckets per revision (~1 MB
   * with 10 services) and no clock read per counted event. `stats` then throws
   * `NO_PER_SECOND_STATS`.
   */
  perSecondStats?: boolean;
  /** The initial route table. */
  routes?: RouteTable;
  /** Notable events (ejections, readmissions, drains). */
  onEvent?: (event: RouterEvent) => void;
  /** Source of randomness for weighted splits, mirroring and assignment; Math.random by default (tests pass a seeded one). */
  random?: () => number;
  /**
   * The wall clock (ms since the epoch) the release deadlines of a table (`skewUntilMs`,
   * `abortGraceUntilMs`) are compared with; Date.now by default (tests pass a fake one).
   */
  nowMs?: () => number;
}
