import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiException, CoordinationV1Api, KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { LeaderElectionError, LeaderElector, type LeaderElectorOptions } from '../../src/kube/leader-election.js';
import { MICRO_TIME_PATTERN, parseMicroTime } from '../../src/kube/micro-time.js';
import { FakeApiServer } from '../fixtures/kube/fake-api-server.js';
import { kubeConfigFor } from '../fixtures/kube/kubeconfig.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';

// Short durations so that expiry is seconds: lease 2 s (a Lease states whole seconds), renew
// deadline 1 s, an attempt every 200 ms.
const leaseDurationMs = 2000;
const renewDeadlineMs = 1000;
const retryPeriodMs = 200;
/** Scheduling slack on a shared two-core machine. */
const slackMs = 500;
const namespace = 'default';
const name = 'graylane-controller';
const leasePath = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`;

let server: FakeApiServer;
let leases: CoordinationV1Api;
const electors: LeaderElector[] = [];
const proxies: FaultProxy[] = [];

beforeEach(async () => {
  server = await FakeApiServer.start();
  leases = kubeConfigFor({ server }).makeApiClient(CoordinationV1Api);
});
afterEach(async () => {
  for (const e of electors.splice(0)) await e.stop({ release: false });
  for (const p of proxies.splice(0)) await p.close();
  await server.close();
});

/** What a candidate saw, with wall-clock times, for assertions on order and timing. */
interface Candidate {
  elector: LeaderElector;
  started: number[];
  stopped: number[];
  leaders: string[];
  errors: LeaderElectionError[];
}

function candidate(identity: string, options: Partial<LeaderElectorOptions> = {}): Candidate {
  const c: Candidate = { started: [], stopped: [], leaders: [], errors: [] } as unknown as Candidate;
  c.elector = new LeaderElector({
    kubeConfig: kubeConfigFor({ server }),
    namespace,
    name,
    identity,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    onStartedLeading: () => c.started.push(Date.now()),
    onStoppedLeading: () => c.stopped.push(Date.now()),
    onNewLeader: (leader) => c.leaders.push(leader),
    onError: (error) => c.errors.push(error),
    ...options,
  });
  electors.push(c.elector);
  return c;
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function readLease(): Promise<V1Lease> {
  return leases.readNamespacedLease({ namespace, name });
}

/** The Lease as the server holds it, times as text. */
async function rawLease(): Promise<{ spec: { holderIdentity?: string; renewTime?: string; acquireTime?: string; leaseTransitions?: number; leaseDurationSeconds?: number } }> {
  const response = await rawRequest({ server, path: leasePath });
  expect(response.status).toBe(200);
  return response.body as never;
}

/**
 * Stands between one candidate and the fake API server: passes requests on, or answers 500,
 * or never answers, or is gone (connection refused), as a broken network or server would.
 */
class FaultProxy {
  mode: 'pass' | 'fail' | 'hang' = 'pass';
  /** Runs before a request is passed on (a test's chance to write first). */
  beforeForward: ((request: { method: string; path: string }) => Promise<void>) | undefined;
  /** Status of every answer passed back. */
  readonly answers: Array<{ method: string; path: string; status: number }> = [];
  readonly url: string;
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  static async start(target: string): Promise<FaultProxy> {
    const http = createServer();
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const proxy = new FaultProxy(http);
    http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      proxy.#forward(target, req, res).catch((error: unknown) => {
        res.writeHead(502);
        res.end(String(error));
      });
    });
    return proxy;
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'proxy', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'user' }],
      contexts: [{ name: 'proxy', cluster: 'proxy', user: 'user', namespace }],
      currentContext: 'proxy',
    });
    return kc;
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #forward(target: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (this.mode === 'hang') return;
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    if (this.mode === 'fail') {
      const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'etcdserver: request timed out', reason: 'InternalError', code: 500 });
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(body);
      this.answers.push({ method, path, status: 500 });
      return;
    }
    await this.beforeForward?.({ method, path });
    const headers: Record<string, string> = {};
    for (const h of ['content-type', 'accept']) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h];
    const answer = await fetch(`${target}${path}`, { method, headers, ...(chunks.length === 0 ? {} : { body: Buffer.concat(chunks) }) });
    const text = await answer.text();
    this.answers.push({ method, path, status: answer.status });
    res.writeHead(answer.status, { 'Content-Type': answer.headers.get('content-type') ?? 'application/json' });
    res.end(text);
  }
}

async function proxied(): Promise<FaultProxy> {
  const proxy = await FaultProxy.start(server.url);
  proxies.push(proxy);
  return proxy;
}

describe('LeaderElector against the fake API server', () => {
  it('of two candidates one leads and the other follows, naming the leader', async () => {
    const a = candidate('a');
    const b = candidate('b');
    a.elector.start();
    b.elector.start();
    await waitFor('a leader', () => a.elector.isLeader() || b.elector.isLeader());
    // Several rounds later, still exactly one leader, and both agree who it is.
    await sleep(4 * retryPeriodMs);
    const [leader, follower] = a.elector.isLeader() ? [a, b] : [b, a];
    expect(follower.elector.isLeader()).toBe(false);
    expect(leader.started).toHaveLength(1);
    expect(follower.started).toHaveLength(0);
    const identity = leader === a ? 'a' : 'b';
    expect(follower.elector.leaderIdentity()).toBe(identity);
    expect(follower.leaders).toEqual([identity]);
    const lease = await rawLease();
    expect(lease.spec.holderIdentity).toBe(identity);
    expect(lease.spec.leaseDurationSeconds).toBe(2);
    expect(lease.spec.leaseTransitions).toBe(0);
    expect(leader.elector.figures()).toMatchObject({ state: 'leading', acquisitions: 1, lostLeases: 0 });
    expect(follower.elector.figures()).toMatchObject({ state: 'candidate', acquisitions: 0 });
  });

  it('writes renewTime and acquireTime with exactly six fractional digits, renewing while acquireTime stays', async () => {
    const a = candidate('a');
    a.elector.start();
    await waitFor('a to lead', () => a.elector.isLeader());
    const first = await rawLease();
    await sleep(3 * retryPeriodMs);
    const later = await rawLease();
    for (const lease of [first, later]) {
      expect(lease.spec.renewTime).toMatch(MICRO_TIME_PATTERN);
      expect(lease.spec.acquireTime).toMatch(MICRO_TIME_PATTERN);
    }
    expect(later.spec.acquireTime).toBe(first.spec.acquireTime);
    expect(parseMicroTime(later.spec.renewTime!)).toBeGreaterThan(parseMicroTime(first.spec.renewTime!));
  });

  it('is needed: the fake refuses a Lease whose MicroTime has milliseconds, as client-node writes a Date', async () => {
    const error = await leases.createNamespacedLease({ namespace, body: { metadata: { name: 'plain' }, spec: { holderIdentity: 'x', renewTime: new Date() } } })
      .then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ApiException);
    expect((error as ApiException<string>).code).toBe(400);
    expect(String((error as ApiException<string>).body)).toContain('MicroTime');
  });

  it('takes over from a leader that stopped renewing after the lease expires, and not before', async () => {
    const a = candidate('a');
    a.elector.start();
    await waitFor('a to lead', () => a.elector.isLeader());
    const b = candidate('b');
    b.elector.start();
    await sleep(3 * retryPeriodMs);
    expect(b.elector.isLeader()).toBe(false);
    // A crash: no more renewals, nothing handed over.
    await a.elector.stop({ release: false });
    const lastRenewMs = parseMicroTime((await rawLease()).spec.renewTime!);
    const tookOver = await waitFor('b to lead', () => b.elector.isLeader(), leaseDurationMs + 3000);
    expect(tookOver).toBeGreaterThanOrEqual(lastRenewMs + leaseDurationMs);
    expect(tookOver).toBeLessThanOrEqual(lastRenewMs + leaseDurationMs + 2 * retryPeriodMs + slackMs);
    const lease = await rawLease();
    expect(lease.spec.holderIdentity).toBe('b');
    expect(lease.spec.leaseTransitions).toBe(1);
    expect(parseMicroTime(lease.spec.acquireTime!)).toBeGreaterThanOrEqual(lastRenewMs + leaseDurationMs);
    expect(b.elector.figures().leaseTransitions).toBe(1);
    expect(b.leaders).toEqual(['a', 'b']);
  });

  it('hands over within one retry period on a clean stop, the old leader stopping first', async () => {
    const a = candidate('a');
    a.elector.start();
    await waitFor('a to lead', () => a.elector.isLeader());
    const b = candidate('b');
    b.elector.start();
    await sleep(2 * retryPeriodMs);
    const stoppedAt = Date.now();
    await a.elector.stop();
    expect(a.stopped).toHaveLength(1);
    expect((await rawLease()).spec.holderIdentity).toBe('');
    const tookOver = await waitFor('b to lead', () => b.elector.isLeader());
    expect(tookOver - stoppedAt).toBeLessThanOrEqual(retryPeriodMs + slackMs);
    expect(b.started[0]).toBeGreaterThanOrEqual(a.stopped[0]!);
    expect(a.elector.figures().state).toBe('stopped');
    expect((await rawLease()).spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  const breakages: Array<[string, (p: FaultProxy) => void]> = [
    ['answers 500', (p) => { p.mode = 'fail'; }],
    ['never answers', (p) => { p.mode = 'hang'; }],
    ['is unreachable', (p) => void p.close()],
  ];
  it.each(breakages)('steps down within renewDeadline when the server %s, before anyone else may lead', async (_what, breakIt) => {
    const proxy = await proxied();
    const a = candidate('a', { kubeConfig: proxy.kubeConfig() });
    a.elector.start();
    await waitFor('a to lead', () => a.elector.isLeader());
    const b = candidate('b');
    b.elector.start();
    await sleep(2 * retryPeriodMs);
    breakIt(proxy);
    const brokenAt = Date.now();
    const steppedDown = await waitFor('a to step down', () => a.stopped.length > 0, renewDeadlineMs + 2000);
    const lastRenewMs = a.elector.figures().lastRenewMs!;
    expect(steppedDown - lastRenewMs).toBeLessThanOrEqual(renewDeadlineMs + slackMs);
    // Not at the first failure: it kept trying until the deadline.
    expect(steppedDown - brokenAt).toBeGreaterThanOrEqual(renewDeadlineMs - retryPeriodMs - 50);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.elector.figures()).toMatchObject({ state: 'candidate', lostLeases: 1 });
    // The successor starts only after the Lease expired, well after the old leader stopped.
    await waitFor('b to lead', () => b.elector.isLeader(), leaseDurationMs + 3000);
    expect(b.started[0]! - a.stopped[0]!).toBeGreaterThanOrEqual(leaseDurationMs - renewDeadlineMs - retryPeriodMs);
    if (proxy.mode !== 'hang') {
      expect(a.errors.length).toBeGreaterThan(0);
      expect(a.errors.every((e) => e.code === 'request-failed')).toBe(true);
      expect(a.elector.figures().failedRequests).toBeGreaterThan(0);
    }
    if (proxy.mode === 'fail') expect(a.errors[0]!.message).toContain('HTTP 500');
  });

  it('survives a conflict: re-reads and renews, keeping what the other writer wrote', async () => {
    const proxy = await proxied();
    const a = candidate('a', { kubeConfig: proxy.kubeConfig() });
    a.elector.start();
    await waitFor('a to lead', () => a.elector.isLeader());
    let interfered = false;
    proxy.beforeForward = async ({ method, path }) => {
      if (interfered || method !== 'PUT' || !path.startsWith(leasePath)) return;
      interfered = true;
      // Someone else writes between a's read and a's update: a's resourceVersion is now stale.
      const lease = await readLease();
      lease.metadata!.annotations = { 'example.com/touched': 'yes' };
      const response = await rawRequest({ server, method: 'PUT', path: leasePath, body: { ...lease, spec: (await rawLease()).spec } });
      expect(response.status).toBe(200);
    };
    await waitFor('the conflict', () => proxy.answers.some((x) => x.status === 409));
    const renewedAfter = proxy.answers.findIndex((x) => x.status === 409);
    await waitFor('a renewal after the conflict', () => proxy.answers.slice(renewedAfter + 1).some((x) => x.method === 'PUT' && x.status === 200));
    expect(a.elector.isLeader()).toBe(true);
    expect(a.stopped).toHaveLength(0);
    const lease = await readLease();
    expect(lease.spec?.holderIdentity).toBe('a');
    expect(lease.metadata?.annotations).toEqual({ 'example.com/touched': 'yes' });
    expect(a.errors).toEqual([]);
  });

  it('waits out a holder whose clock runs behind instead of trusting its renewTime alone', async () => {
    // a writes renewTimes a minute in the past: by them alone its Lease always looks expired.
    const a = candidate('a', { nowMs: () => Date.now() - 60_000 });
    a.elector.start();
    await waitFor('a to lead', () => a.elector.isLeader());
    const b = candidate('b');
    b.elector.start();
    await sleep(leaseDurationMs + 3 * retryPeriodMs);
    expect(b.elector.isLeader()).toBe(false);
    expect(a.elector.isLeader()).toBe(true);
    expect((await rawLease()).spec.holderIdentity).toBe('a');
  });

  it('takes over a Lease left by a holder long gone, after one lease duration of its own', async () => {
    const old = '2020-01-01T00:00:00.000000Z';
    const created = await rawRequest({
      server, method: 'POST', path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
      body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec: { holderIdentity: 'ghost', leaseDurationSeconds: 3, acquireTime: old, renewTime: old, leaseTransitions: 4 } },
    });
    expect(created.status).toBe(201);
    const b = candidate('b');
    const startedAt = Date.now();
    b.elector.start();
    const tookOver = await waitFor('b to lead', () => b.elector.isLeader(), 3000 + 3000);
    // The Lease states 3 s: b has to see it unchanged that long itself, however old its renewTime.
    expect(tookOver - startedAt).toBeGreaterThanOrEqual(3000);
    expect(tookOver - startedAt).toBeLessThanOrEqual(3000 + 2 * retryPeriodMs + slackMs);
    expect((await rawLease()).spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 5, leaseDurationSeconds: 2 });
  }, 10_000);
});

describe('LeaderElector errors', () => {
  it.each([
    [{ leaseDurationMs: 1500 }, 'whole number of seconds'],
    [{ renewDeadlineMs: 2000 }, 'must be below leaseDurationMs'],
    [{ renewDeadlineMs: 220 }, 'must exceed 1.2'],
    [{ retryPeriodMs: 0 }, 'retryPeriodMs must be positive'],
    [{ identity: ' ' }, 'identity must not be empty'],
    [{ name: '' }, 'name must not be empty'],
  ] as Array<[Partial<LeaderElectorOptions>, string]>)('refuses options %o', (options, message) => {
    expect(() => candidate('a', options)).toThrow(expect.objectContaining({ code: 'invalid-options', message: expect.stringContaining(message) }));
  });

  it('refuses a second start', () => {
    const a = candidate('a');
    a.elector.start();
    expect(() => a.elector.start()).toThrow(expect.objectContaining({ code: 'already-started' }));
  });

  it('releases nothing when it does not hold the Lease', async () => {
    const a = candidate('a');
    a.elector.start();
    await waitFor('a to lead', () => a.elector.isLeader());
    const b = candidate('b');
    b.elector.start();
    await sleep(2 * retryPeriodMs);
    expect(await b.elector.release()).toBe(false);
    expect((await rawLease()).spec.holderIdentity).toBe('a');
    expect(b.stopped).toHaveLength(0);
  });

  it('reports a failed release: release() throws, stop() completes and tells onError', async () => {
    const proxy = await proxied();
    const a = candidate('a', { kubeConfig: proxy.kubeConfig() });
    a.elector.start();
    await waitFor('a to lead', () => a.elector.isLeader());
    proxy.mode = 'fail';
    const error = await a.elector.release().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(LeaderElectionError);
    expect(error).toMatchObject({ code: 'release-failed' });
    // It stepped down before trying to hand over.
    expect(a.stopped).toHaveLength(1);
    expect((await rawLease()).spec.holderIdentity).toBe('a');

    const proxy2 = await proxied();
    const c = candidate('c', { kubeConfig: proxy2.kubeConfig(), name: 'other' });
    c.elector.start();
    await waitFor('c to lead', () => c.elector.isLeader());
    await proxy2.close();
    await c.elector.stop();
    expect(c.errors.map((e) => e.code)).toContain('release-failed');
    expect(c.elector.figures().state).toBe('stopped');
  });

  it('keeps leading when a callback throws, and reports it', async () => {
    const a = candidate('a', { onStartedLeading: () => { throw new Error('boom'); } });
    a.elector.start();
    await waitFor('a to lead', () => a.elector.isLeader());
    await sleep(3 * retryPeriodMs);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.errors).toHaveLength(1);
    expect(a.errors[0]).toMatchObject({ code: 'callback-failed', message: expect.stringContaining('boom') });
  });
});
