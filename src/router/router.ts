/**
 * graylane's built-in HTTP router: the single-host data plane. See `createRouter`.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { BlockList, isIP, type AddressInfo } from 'node:net';
import { CompiledRelease } from './compiled-release.js';
import { CompiledService, CompiledTable, RevisionGroup } from './compiled-table.js';
import { RouterError } from './errors.js';
import { Exchange, sendPlain, type ExchangeEnvironment } from './exchange.js';
import { ROUTER_STARTING_TEXT } from './router-answers.js';
import { markFromTrustedProxy } from './headers.js';
import { admitRequest, type Refusal, type RefusalReason } from './inbound.js';
import { Instance, type InstanceEnvironment } from './instance.js';
import type { MetricsSource } from './metrics.js';
import { MirrorLimiter } from './mirror.js';
import { ReleaseCounters } from './release-counters.js';
import { ReleasePositions } from './release-positions.js';
import { FINE_BOUNDS_MS, RevisionCounters, totalsOf } from './revision-stats.js';
import { assertRouteTable, parseAddress } from './route-table-check.js';
import type {
  CircuitBreakerOptions,
  LatencyCounts,
  ReleaseStats,
  ReleaseTraffic,
  RevisionStats,
  RevisionTotals,
  RouteTable,
  RouterEvent,
  RouterOptions,
  StatsQuery,
  TimeoutOptions,
} from './types.js';
import { FRESH_CONNECTION_GRACE_MS, FreshConnections } from './fresh-connections.js';
import { proxyUpgrade, refuseUpgrade } from './upgrade.js';
import { CertificateStore } from './tls/certificate-store.js';
import { loadCertificates, type LoadedCertificate } from './tls/certificates.js';
import { createHttpsServer, type HttpsServer } from './tls/https-listener.js';
import { httpsLocation, sendRedirect } from './tls/redirect.js';
import { FastFront } from './server/fast-front.js';
import type { InboundRequest, InboundResponse } from './server/inbound-types.js';

/** Addresses the router listens on once started. */
export interface RouterAddresses {
  /** Proxy base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** Admin API base URL, when an admin listener is configured. */
  adminUrl?: string;
  /** HTTPS base URL, e.g. `https://127.0.0.1:8443`, when a TLS listener is configured. */
  httpsUrl?: string;
}

/**
 * Listening sockets bound elsewhere (raw handles as node passes them between processes, e.g.
 * `server._handle`), for a router to listen on rather than bind its `listen` addresses.
 */
export interface ListeningHandles {
  http: object;
  https?: object | undefined;
}

/** A running (or startable) router. */
export interface Router {
  /**
   * Binds the listeners, or listens on sockets already bound (`handles`: what another router's
   * {@link listeningHandles} gave, passed over IPC), so that many processes accept from one socket.
   */
  start(options?: { handles?: ListeningHandles | undefined }): Promise<RouterAddresses>;
  /** The raw handles of the listening sockets, once started (see {@link start}). */
  listeningHandles(): ListeningHandles | undefined;
  /**
   * Stops accepting, lets in-flight requests and streams finish up to `drainTimeoutMs`
   * (default: the router's), then closes everything.
   */
  stop(options?: { drainTimeoutMs?: number }): Promise<void>;
  /**
   * Replaces the whole route table atomically; requests already routed keep their instance.
   * Instances that stay keep their pools and state; removed or draining ones are drained.
   * Throws `RouterError` `INVALID_ROUTE_TABLE` (and changes nothing) when the table is invalid.
   * Until the first table is set, every request is answered 503 `router-starting` with
   * `Retry-After`: the router is not yet told what it serves, so "no route" would be a lie.
   */
  setRouteTable(table: RouteTable): void;
  /** Whether a route table was set (false until the first `setRouteTable`: the router answers "starting"). */
  hasRouteTable(): boolean;
  /** A copy of the current route table. */
  getRouteTable(): RouteTable;
  /**
   * Another worker of the same supervisor ejected (`ejectionMs`) or readmitted (no `ejectionMs`)
   * an instance: this router keeps it out as well, so a failing instance leaves every worker's
   * balancing at once, and only the worker that ejected it probes it.
   */
  followPeerEjection(peer: { instance: string; address: string; ejectionMs?: number | undefined }): void;
  /** Sliding-window figures of one revision of one service (zeros when it never had traffic); `NO_PER_SECOND_STATS` without per-second stats. */
  stats(query: StatsQuery): RevisionStats;
  /** Cumulative counters of one revision since the router started (zeros when it never had traffic). */
  totals(query: { service: string; revision: string }): RevisionTotals;
  /**
   * Latency histogram of one revision over the sliding window `windowMs` (default 60 s), in the
   * fine bins of {@link RevisionTotals.latency}; zeros when it had no traffic. The guard fixes its
   * latency threshold from stable's recent traffic with it. `NO_PER_SECOND_STATS` without per-second stats.
   */
  recentLatency(query: StatsQuery): LatencyCounts;
  /** Cumulative figures of a release since the router started (zeros for an unknown release). */
  releaseStats(name: string): ReleaseStats;
  /**
   * Page loads and requests of a release by the side that served them over the last `windowMs`
   * (default 30 s, at most 300 s): the share the canary really gets (zeros for an unknown release).
   */
  releaseTraffic(query: { release: string; windowMs?: number }): ReleaseTraffic;
  /**
   * The revisions and releases the router keeps counters for: those in the table, and those that
   * left it less than a statistics window ago. What a snapshot of every counter walks.
   */
  counted(): { revisions: { service: string; revision: string }[]; releases: string[] };
  /**
   * What `/metrics` reads, live: the admin listener's source, and what a supervised worker
   * reports beyond {@link totals} so that its supervisor's exposition is the same.
   */
  metricsSource(): MetricsSource;
  /** Subscribes to notable events (ejections, readmissions, drains). */
  on(event: 'event', listener: (e: RouterEvent) => void): this;
  /** Unsubscribes. */
  off(event: 'event', listener: (e: RouterEvent) => void): this;
}

const DEFAULT_TIMEOUTS: TimeoutOptions = {
  connectMs: 2000,
  responseHeaderMs: 30_000,
  idleMs: 60_000,
  clientHeaderMs: 60_000,
  clientBodyMs: 60_000,
  sendMs: 60_000,
  tunnelIdleMs: 300_000,
};
/** Larger than nginx's 1 MiB: graylane fronts apps that take uploads; the limit is a guard, not a policy. */
const DEFAULT_MAX_REQUEST_BODY_BYTES = 1024 * 1024 * 1024;
const DEFAULT_MAX_CLIENT_CONNECTIONS = 10_000;
const DEFAULT_BREAKER: CircuitBreakerOptions = {
  maxConcurrentRequests: 1024,
  maxPendingRequests: 1024,
  consecutiveErrors: 5,
  baseEjectionMs: 5000,
  maxEjectionMs: 300_000,
  probePath: '/',
};

const LOOPBACK = /^(127\.[0-9]+\.[0-9]+\.[0-9]+|::1|localhost)$/;

function positive(name: string, v: number | undefined, min = 1): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= min)) {
    throw new RouterError('INVALID_OPTIONS', `${name} must be an integer ≥ ${min}, got ${String(v)}`, [{ path: name.split('.'), message: `must be an integer ≥ ${min}` }]);
  }
}

function checkOptions(o: RouterOptions): void {
  if (!o.listen || typeof o.listen.host !== 'string' || !Number.isInteger(o.listen.port) || o.listen.port < 0 || o.listen.port > 65535) {
    throw new RouterError('INVALID_OPTIONS', 'listen must be { host, port } with port 0–65535', [{ path: ['listen'], message: 'must be { host, port }' }]);
  }
  if (o.admin) {
    if (!LOOPBACK.test(o.admin.host)) {
      throw new RouterError('INVALID_OPTIONS', `admin.host must be a loopback address (the admin API can rewrite routes), got "${o.admin.host}"`, [{ path: ['admin', 'host'], message: 'must be a loopback address' }]);
    }
    if (typeof o.admin.token !== 'string' || o.admin.token.length < 16) {
      throw new RouterError('INVALID_OPTIONS', 'admin.token must be at least 16 characters', [{ path: ['admin', 'token'], message: 'must be at least 16 characters' }]);
    }
  }
  for (const k of ['connectMs', 'responseHeaderMs', 'idleMs', 'clientHeaderMs', 'clientBodyMs', 'sendMs', 'tunnelIdleMs'] as const) positive(`timeouts.${k}`, o.timeouts?.[k]);
  positive('maxRequestBodyBytes', o.maxRequestBodyBytes, 0);
  positive('maxClientConnections', o.maxClientConnections, 0);
  trustedProxyList(o.trustedProxies);
  for (const k of ['maxConcurrentRequests', 'consecutiveErrors', 'baseEjectionMs', 'maxEjectionMs'] as const) positive(`circuitBreaker.${k}`, o.circuitBreaker?.[k]);
  positive('circuitBreaker.maxPendingRequests', o.circuitBreaker?.maxPendingRequests, 0);
  positive('drainTimeoutMs', o.drainTimeoutMs, 0);
  positive('mirrorMaxConcurrent', o.mirrorMaxConcurrent, 0);
  positive('statsWindowSeconds', o.statsWindowSeconds, 60);
  if (o.tls) {
    const l = o.tls.listen;
    if (!l || typeof l.host !== 'string' || !Number.isInteger(l.port) || l.port < 0 || l.port > 65535) {
      throw new RouterError('INVALID_OPTIONS', 'tls.listen must be { host, port } with port 0–65535', [{ path: ['tls', 'listen'], message: 'must be { host, port }' }]);
    }
    positive('tls.reloadIntervalMs', o.tls.reloadIntervalMs);
  }
}

/** The trusted proxies as a BlockList; throws `RouterError` `INVALID_OPTIONS` naming a bad entry. */
function trustedProxyList(entries: string[] | undefined): BlockList | undefined {
  if (entries === undefined || entries.length === 0) return undefined;
  const list = new BlockList();
  entries.forEach((e, i) => {
    const [address = '', bits, extra] = e.split('/');
    const family = isIP(address);
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (family === 0 || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32) || (bits !== undefined && !/^[0-9]+$/.test(bits))) {
      throw new RouterError('INVALID_OPTIONS', `trustedProxies[${i}] must be an IP address or CIDR, got "${e}"`, [{ path: ['trustedProxies', i], message: 'must be an IP address or CIDR' }]);
    }
    list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
  });
  return list;
}

function isTrusted(list: BlockList, address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : undefined;
  if (v4 !== undefined) return list.check(v4, 'ipv4');
  return list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

class RouterImpl extends EventEmitter implements Router {
  private readonly timeouts: TimeoutOptions;
  private readonly breaker: CircuitBreakerOptions;
  private readonly drainTimeoutMs: number;
  private readonly windowSeconds: number;
  /** Seconds of per-second figures kept per revision: the window, or 0 without per-second stats. */
  private readonly ringSeconds: number;
  private readonly random: () => number;
  private readonly nowMs: () => number;
  private readonly instances = new Map<string, Instance>();
  private readonly counters = new Map<string, { counters: RevisionCounters; lastInTableMs: number }>();
  private readonly releaseCounters = new Map<string, ReleaseCounters>();
  private readonly releasePositions = new Map<string, ReleasePositions>();
  private readonly mirrors: MirrorLimiter;
  private readonly maxRequestBodyBytes: number;
  private readonly trustedProxies: BlockList | undefined;
  /** Requests refused before routing, by reason: the client's fault, charged to no revision. */
  private readonly refused = new Map<RefusalReason, number>();
  private readonly env: ExchangeEnvironment;
  private readonly instanceEnv: InstanceEnvironment;
  private table: RouteTable = { services: [] };
  private compiled = new CompiledTable([]);
  /** No table was set yet: a request with no route is early, not misdirected. */
  private awaitingTable = true;
  private server: http.Server | undefined;
  private admin: http.Server | undefined;
  private https: HttpsServer | undefined;
  private readonly certificates: LoadedCertificate[] | undefined;
  private certificateStore: CertificateStore | undefined;
  private readonly redirectServices: ReadonlySet<string>;
  private httpsPort = 0;
  private stopping = false;
  /** The plain listener's accepted connections that have not carried a request yet (see fresh-connections.ts; the HTTPS listener follows its own). */
  private freshConnections: FreshConnections | undefined;
  private fastFront: FastFront | undefined;

  constructor(private readonly options: RouterOptions) {
    super();
    checkOptions(options);
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.breaker = { ...DEFAULT_BREAKER, ...options.circuitBreaker };
    this.drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    this.windowSeconds = options.statsWindowSeconds ?? 300;
    this.ringSeconds = options.perSecondStats === false ? 0 : this.windowSeconds;
    this.random = options.random ?? Math.random;
    this.nowMs = options.nowMs ?? Date.now;
    this.mirrors = new MirrorLimiter(options.mirrorMaxConcurrent ?? 64);
    this.maxRequestBodyBytes = options.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES;
    this.trustedProxies = trustedProxyList(options.trustedProxies);
    this.env = { timeouts: this.timeouts, maxReplayBytes: 64 * 1024, maxRequestBodyBytes: this.maxRequestBodyBytes, mirrors: this.mirrors, closingConnections: false };
    this.instanceEnv = {
      breaker: this.breaker,
      connectMs: this.timeouts.connectMs,
      idleMs: this.timeouts.idleMs,
      drainTimeoutMs: this.drainTimeoutMs,
      probeTimeoutMs: this.timeouts.connectMs + this.timeouts.responseHeaderMs,
      emit: (e) => {
        options.onEvent?.(e);
        this.emit('event', e);
      },
      forget: (inst) => {
        if (this.instances.get(`${inst.id}|${inst.address}`) === inst) this.instances.delete(`${inst.id}|${inst.address}`);
      },
    };
    if (options.routes) this.setRouteTable(options.routes);
    this.certificates = options.tls ? loadCertificates(options.tls.certificates) : undefined;
    this.redirectServices = new Set(options.tls?.redirectServices ?? []);
  }

  listeningHandles(): ListeningHandles | undefined {
    // node's own handle objects: what child_process.send passes as a socket another process can listen on.
    const handle = (s: import('node:net').Server | undefined) => (s as { _handle?: object | null } | undefined)?._handle ?? undefined;
    const http = handle(this.server);
    return http ? { http, https: handle(this.https?.server) } : undefined;
  }

  async start(options: { handles?: ListeningHandles | undefined } = {}): Promise<RouterAddresses> {
    if (this.server) throw new RouterError('ALREADY_STARTED', 'the router is already started');
    const server = http.createServer(
      {
        keepAliveTimeout: this.timeouts.idleMs,
        noDelay: true,
        requestTimeout: 0,
        headersTimeout: this.timeouts.clientHeaderMs,
        // Header timeouts are only checked on this period: keep it well under the timeout itself.
        connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(this.timeouts.clientHeaderMs / 4))),
      },
      this.onPlainRequest,
    );
    this.server = server;
    if (this.options.fastPath ?? process.env.GRAYLANE_ROUTER_FAST_PATH !== '0') {
      this.fastFront = new FastFront({
        server, onRequest: this.onPlainRequest, idleMs: this.timeouts.idleMs, headerMs: this.timeouts.clientHeaderMs,
        onHeaderTimeout: () => this.countRefusal('header-timeout'),
      });
    }
    this.freshConnections = new FreshConnections(server);
    const maxConnections = this.options.maxClientConnections ?? DEFAULT_MAX_CLIENT_CONNECTIONS;
    if (maxConnections > 0) server.maxConnections = maxConnections;
    server.on('upgrade', this.onUpgrade);
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      // As nginx: 408 for a client too slow to send its headers, 431 for headers too large.
      const [status, text, reason]: [number, string, RefusalReason] =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout', 'header-timeout']
        : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large', 'malformed-request']
        : [400, 'Bad Request', 'malformed-request'];
      this.countRefusal(reason);
      socket.end(`HTTP/1.1 ${status} ${text}\r\nx-graylane-error: ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    });
    await listen(server, options.handles?.http ?? this.options.listen);
    const out: RouterAddresses = { url: urlOf(server) };
    if (this.options.tls && this.certificates) {
      const tls = this.options.tls;
      const store = new CertificateStore({
        certificates: this.certificates,
        onEvent: (e) => tls.onCertificateEvent?.(e),
        onDefaultChanged: (cert) => this.https?.setFallback(cert),
      });
      this.certificateStore = store;
      this.https = createHttpsServer({
        store,
        fallback: this.certificates[0]!,
        idleMs: this.timeouts.idleMs,
        headerMs: this.timeouts.clientHeaderMs,
        maxConnections: maxConnections,
        onRequest: this.onSecureRequest,
        onUpgrade: this.onUpgrade,
      });
      try {
        await listen(this.https.server, options.handles?.https ?? tls.listen);
      } catch (err) {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        throw err;
      }
      store.watch(tls.reloadIntervalMs ?? 2000);
      this.httpsPort = (this.https.server.address() as AddressInfo).port;
      out.httpsUrl = urlOf(this.https.server).replace(/^http:/, 'https:');
    }
    if (this.options.admin) {
      // Loaded only here: a supervised worker has no admin listener, and prom-client alone is
      // ~13 MB of resident memory in each worker process.
      const [{ createMetricsRegistry }, { startAdminServer }] = await Promise.all([import('./metrics.js'), import('./admin-server.js')]);
      const registry = createMetricsRegistry(this.metricsSource());
      this.admin = startAdminServer({ admin: this.options.admin, router: this, registry });
      await listen(this.admin, this.options.admin);
      out.adminUrl = urlOf(this.admin);
    }
    return out;
  }

  async stop(options: { drainTimeoutMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.env.closingConnections = true;
    const deadline = Date.now() + (options.drainTimeoutMs ?? this.drainTimeoutMs);
    const server = this.server;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    server?.closeIdleConnections();
    this.fastFront?.closeIdle();
    this.certificateStore?.close();
    const https = this.https;
    const httpsClosed = https ? new Promise<void>((resolve) => https.server.close(() => resolve())) : Promise.resolve();
    https?.closeIdle();
    const inFlight = () => [...this.instances.values()].some((i) => i.inflight > 0 || i.active.size > 0 || i.queue.length > 0);
    const freshUntil = Math.min(deadline, Date.now() + FRESH_CONNECTION_GRACE_MS);
    const fresh = () => (this.freshConnections?.size ?? 0) + (https?.freshConnections ?? 0);
    const busy = () => inFlight() || (fresh() > 0 && Date.now() < freshUntil);
    while (busy() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      server?.closeIdleConnections();
      this.fastFront?.closeIdle();
      https?.closeIdle();
    }
    for (const inst of this.instances.values()) for (const a of [...inst.active]) a.abortForDrain();
    server?.closeAllConnections();
    this.fastFront?.closeAll();
    https?.destroyAll();
    for (const inst of [...this.instances.values()]) inst.close();
    if (this.admin) {
      const admin = this.admin;
      const adminClosed = new Promise<void>((resolve) => admin.close(() => resolve()));
      admin.closeAllConnections();
      await adminClosed;
    }
    await closed;
    await httpsClosed;
  }

  hasRouteTable(): boolean {
    return !this.awaitingTable;
  }

  setRouteTable(table: RouteTable): void {
    assertRouteTable(table);
    const copy = structuredClone(table);
    const now = Date.now();
    const seen = new Set<Instance>();
    const services: CompiledService[] = [];
    const releaseOf = new Map<string, CompiledRelease>();
    for (const r of copy.releases ?? []) {
      let counters = this.releaseCounters.get(r.name);
      if (!counters) this.releaseCounters.set(r.name, (counters = new ReleaseCounters(r.name)));
      let positions = this.releasePositions.get(r.name);
      if (!positions) this.releasePositions.set(r.name, (positions = new ReleasePositions()));
      const compiled = new CompiledRelease(r, counters, this.random, positions, this.nowMs);
      for (const member of r.services) releaseOf.set(member, compiled);
    }
    for (const s of copy.services) {
      const groups = new Map<string, RevisionGroup>();
      for (const [rev, r] of Object.entries(s.revisions)) {
        const list: Instance[] = [];
        for (const ir of r.instances) {
          const key = `${ir.id}|${ir.address}`;
          let inst = this.instances.get(key);
          if (!inst) {
            const { host, port } = parseAddress(ir.address)!;
            inst = new Instance(ir.id, ir.address, host, port, this.instanceEnv);
            this.instances.set(key, inst);
          }
          inst.service = s.name;
          inst.revision = rev;
          inst.ready = ir.ready;
          inst.lastResort = ir.lastResort === true;
          seen.add(inst);
          if (ir.draining) inst.drain();
          else inst.undrain();
          list.push(inst);
        }
        for (const inst of list) inst.peers = list;
        groups.set(rev, new RevisionGroup(rev, list, this.countersFor(s.name, rev, now), s.balancer ?? 'least-request'));
      }
      services.push(new CompiledService(s, groups, this.random, releaseOf.get(s.name)));
    }
    for (const inst of [...this.instances.values()]) if (!seen.has(inst)) inst.drain();
    for (const [key, c] of this.counters) {
      if (c.lastInTableMs < now && now - c.lastInTableMs > this.windowSeconds * 1000) this.counters.delete(key);
    }
    this.table = copy;
    this.compiled = new CompiledTable(services);
    this.awaitingTable = false;
  }

  // The hold lapses by itself after the ejection, the probe and a second, should the readmission never come.
  followPeerEjection(peer: { instance: string; address: string; ejectionMs?: number | undefined }): void {
    const inst = this.instances.get(`${peer.instance}|${peer.address}`);
    if (!inst) return;
    if (peer.ejectionMs === undefined) inst.endHold();
    else inst.holdOut(peer.ejectionMs + this.instanceEnv.probeTimeoutMs + 1000);
  }

  private needPerSecondStats(): void {
    if (this.ringSeconds === 0) throw new RouterError('NO_PER_SECOND_STATS', 'this router keeps no per-second figures (perSecondStats: false): read its cumulative totals');
  }

  getRouteTable(): RouteTable {
    return structuredClone(this.table);
  }

  stats(query: StatsQuery): RevisionStats {
    this.needPerSecondStats();
    const windowMs = query.windowMs ?? 60_000;
    const entry = this.counters.get(`${query.service}\n${query.revision}`);
    if (entry) return entry.counters.read(windowMs);
    return new RevisionCounters(query.service, query.revision, this.windowSeconds).read(windowMs);
  }

  totals(query: { service: string; revision: string }): RevisionTotals {
    const t = this.counters.get(`${query.service}\n${query.revision}`)?.counters.totals;
    return totalsOf(t);
  }

  recentLatency(query: StatsQuery): LatencyCounts {
    this.needPerSecondStats();
    const entry = this.counters.get(`${query.service}\n${query.revision}`);
    const counts = entry ? entry.counters.recentLatency(query.windowMs ?? 60_000) : new Array<number>(FINE_BOUNDS_MS.length + 1).fill(0);
    return { boundsMs: [...FINE_BOUNDS_MS], counts };
  }

  releaseStats(name: string): ReleaseStats {
    return (this.releaseCounters.get(name) ?? new ReleaseCounters(name)).snapshot();
  }

  releaseTraffic(query: { release: string; windowMs?: number }): ReleaseTraffic {
    return (this.releaseCounters.get(query.release) ?? new ReleaseCounters(query.release)).recent(query.windowMs ?? 30_000, this.nowMs());
  }

  counted(): { revisions: { service: string; revision: string }[]; releases: string[] } {
    return {
      revisions: [...this.counters.values()].map(({ counters }) => ({ service: counters.service, revision: counters.revision })),
      releases: [...this.releaseCounters.keys()],
    };
  }

  metricsSource(): MetricsSource {
    return {
      revisions: () => [...this.counters.values()].map((c) => c.counters),
      instances: () => this.instances.values(),
      mirrorsSkipped: () => this.mirrors.skipped,
      releases: () => this.releaseCounters.values(),
      refused: () => this.refused,
    };
  }

  private countersFor(service: string, revision: string, now: number): RevisionCounters {
    const key = `${service}\n${revision}`;
    let entry = this.counters.get(key);
    if (!entry) this.counters.set(key, (entry = { counters: new RevisionCounters(service, revision, this.ringSeconds), lastInTableMs: now }));
    entry.lastInTableMs = now;
    return entry.counters;
  }

  private countRefusal(reason: RefusalReason): void {
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
  }

  /** Checks and normalises a request before routing; the refusal (counted) when it must not be routed. */
  private refuse(req: InboundRequest): Refusal | undefined {
    if (this.trustedProxies && isTrusted(this.trustedProxies, req.socket.remoteAddress)) markFromTrustedProxy(req);
    const refusal = admitRequest(req, { maxRequestBodyBytes: this.maxRequestBodyBytes });
    if (refusal) this.countRefusal(refusal.reason);
    return refusal;
  }

  /** The plain listener: as {@link onRequest}, but services that ask for HTTPS are sent there. */
  private readonly onPlainRequest = (req: InboundRequest, res: InboundResponse): void => {
    this.freshConnections?.served(req.socket);
    // A request that came while the router stops is served, on a connection that then closes.
    if (this.stopping) res.shouldKeepAlive = false;
    if (this.redirectServices.size > 0 && this.https) {
      const refusal = this.refuse(req);
      if (refusal) {
        res.shouldKeepAlive = false;
        sendPlain(res, refusal.status, refusal.reason, refusal.text);
        return;
      }
      const svc = this.compiled.match(req);
      const location = svc && this.redirectServices.has(svc.route.name) ? httpsLocation(req, this.httpsPort) : undefined;
      if (location !== undefined) {
        // The body, if any, is not forwarded: read it so the keep-alive connection stays usable.
        req.resume();
        sendRedirect(res, location);
        return;
      }
      this.route(req, res, svc);
      return;
    }
    this.onRequest(req, res);
  };

  /** The HTTPS listener (HTTP/1.1 and, reshaped, HTTP/2): as the plain one, a request that came while the router stops is served on a connection that then closes. */
  private readonly onSecureRequest = (req: InboundRequest, res: InboundResponse): void => {
    if (this.stopping) res.shouldKeepAlive = false;
    this.onRequest(req, res);
  };

  private readonly onRequest = (req: InboundRequest, res: InboundResponse): void => {
    const refusal = this.refuse(req);
    if (refusal) {
      // Whatever body follows is not read: close rather than parse it as the next request.
      res.shouldKeepAlive = false;
      sendPlain(res, refusal.status, refusal.reason, refusal.text);
      return;
    }
    this.route(req, res, this.compiled.match(req));
  };

  /** Forwards an admitted request to the service it matched (404 when none; 503 before the first table). */
  private route(req: InboundRequest, res: InboundResponse, svc: CompiledService | undefined): void {
    if (!svc) {
      req.resume();
      if (this.awaitingTable) sendPlain(res, 503, 'router-starting', ROUTER_STARTING_TEXT);
      else sendPlain(res, 404, 'no-route', `graylane: no service routes ${req.headers.host ?? ''}${req.url ?? ''}`);
      return;
    }
    const decision = svc.decide(req);
    new Exchange(this.env, req, res, decision, svc.mirror ? svc.mirrorTarget(req, decision.group) : undefined);
  }

  private readonly onUpgrade = (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer): void => {
    this.freshConnections?.served(req.socket);
    const r = this.refuse(req);
    if (r) {
      refuseUpgrade(socket, r.status, r.reason);
      return;
    }
    const svc = this.compiled.match(req);
    if (!svc || this.stopping) {
      // A tunnel opened while stopping would hold the stop until its drain deadline: the client reconnects instead.
      if (!svc) refuseUpgrade(socket, this.awaitingTable ? 503 : 404, this.awaitingTable ? 'router-starting' : 'no-route');
      else refuseUpgrade(socket, 503, 'router-stopping');
      return;
    }
    proxyUpgrade(this.timeouts, req, socket, head, svc.decide(req).group);
  };
}

/** Listens on an address, or on a socket bound elsewhere (a raw handle). */
function listen(server: http.Server | import('node:net').Server, on: { host: string; port: number } | object): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if ('host' in on && 'port' in on) server.listen(on.port, on.host, done);
    else server.listen(on, done);
  });
}

function urlOf(server: http.Server | import('node:net').Server): string {
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `http://${host}:${a.port}`;
}

/** Creates a router; call `start()` to listen. Throws `RouterError` `INVALID_OPTIONS`. */
export function createRouter(options: RouterOptions): Router {
  return new RouterImpl(options);
}
