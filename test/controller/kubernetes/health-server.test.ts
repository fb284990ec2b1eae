import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ControllerMetrics, type InformerFigures } from '../../../src/controller/kubernetes/controller-metrics.js';
import { HealthServer, HealthServerError, type HealthChecks } from '../../../src/controller/kubernetes/health-server.js';
import { ListenAddressError, parseListenAddress } from '../../../src/controller/kubernetes/listen-address.js';

interface Sample { name: string; labels: Record<string, string>; value: number }

/**
 * Parses Prometheus' text exposition format strictly: every line is a HELP, a TYPE or a sample,
 * and every sample belongs to a family with a TYPE. Throws on anything else.
 */
function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) { types.set(type[1]!, type[2]!); continue; }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').split(',').filter(Boolean)) {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"$/.exec(pair);
      if (!lm) throw new Error(`bad label ${pair} in ${line}`);
      labels[lm[1]!] = lm[2]!;
    }
    const family = [...types.keys()].find((t) => m[1] === t || m[1]!.startsWith(`${t}_`));
    if (!family) throw new Error(`sample without a TYPE: ${line}`);
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { types, samples };
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

let servers: HealthServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function start(checks: HealthChecks, metrics = new ControllerMetrics()): Promise<HealthServer> {
  const s = await HealthServer.start({ healthAddr: '127.0.0.1:0', metricsAddr: '127.0.0.1:0', checks, metrics });
  servers.push(s);
  return s;
}

async function get(url: string, method = 'GET'): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(url, { method });
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

describe('health server: /healthz and /readyz', () => {
  it('answers 200 ok while alive and ready, and 503 with the reason when not', async () => {
    const state: { alive?: string; ready?: string } = {};
    const s = await start({ notAlive: () => state.alive, notReady: () => state.ready });
    expect(await get(`${s.healthUrl}/healthz`)).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get(`${s.healthUrl}/readyz`)).toMatchObject({ status: 200, body: 'ok\n' });
    state.ready = 'the ReplicaSet cache has not listed yet';
    expect(await get(`${s.healthUrl}/readyz`)).toEqual({ status: 503, body: 'the ReplicaSet cache has not listed yet\n', type: 'text/plain; charset=utf-8' });
    expect((await get(`${s.healthUrl}/healthz`)).status).toBe(200);
    state.alive = 'no reconcile loop turn for 120 s';
    expect(await get(`${s.healthUrl}/healthz`)).toMatchObject({ status: 503, body: 'no reconcile loop turn for 120 s\n' });
  });

  it('serves the probes only on the health address and the figures only on the metrics address', async () => {
    const s = await start({ notAlive: () => undefined, notReady: () => undefined });
    expect(s.healthUrl).not.toBe(s.metricsUrl);
    expect((await get(`${s.healthUrl}/metrics`)).status).toBe(404);
    expect((await get(`${s.metricsUrl}/healthz`)).status).toBe(404);
    expect((await get(`${s.healthUrl}/`)).status).toBe(404);
    expect((await get(`${s.healthUrl}/readyz?verbose`)).status).toBe(200);
  });

  it('refuses other methods with 405', async () => {
    const s = await start({ notAlive: () => undefined, notReady: () => undefined });
    expect((await get(`${s.healthUrl}/healthz`, 'POST')).status).toBe(405);
    expect((await get(`${s.metricsUrl}/metrics`, 'DELETE')).status).toBe(405);
  });

  it('an address in use is a HealthServerError naming it, and leaves nothing listening', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const error = await HealthServer.start({ healthAddr: '127.0.0.1:0', metricsAddr: `127.0.0.1:${port}`, checks: { notAlive: () => undefined, notReady: () => undefined }, metrics: new ControllerMetrics() }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HealthServerError);
      expect(error).toMatchObject({ code: 'HealthServerListen' });
      expect((error as Error).message).toMatch(new RegExp(`^the metrics server cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    } finally {
      blocker.close();
    }
  });
});

describe('/metrics', () => {
  it('parses as Prometheus text with the reconcile, queue, leader, phase and informer figures', async () => {
    let depth = 3;
    const informers: InformerFigures[] = [
      { kind: 'Rollout', objects: 2, synced: true, lists: 1, watchRestarts: 0 },
      { kind: 'ReplicaSet', objects: 5, synced: false, lists: 2, watchRestarts: 4 },
    ];
    const metrics = new ControllerMetrics({ queueDepth: () => depth, rolloutsByPhase: () => ({ Healthy: 1, Paused: 1 }), informers: () => informers, requestsRetried: () => 2 });
    metrics.observeReconcile({ outcome: 'success', durationSeconds: 0.02 });
    metrics.observeReconcile({ outcome: 'error', durationSeconds: 0.3 });
    metrics.observeReconcile({ outcome: 'error', durationSeconds: 1.5 });
    metrics.setLeader(true);
    const s = await start({ notAlive: () => undefined, notReady: () => undefined }, metrics);
    const res = await get(`${s.metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const { types, samples } = parsePrometheus(res.body);
    expect(types.get('graylane_reconcile_duration_seconds')).toBe('histogram');
    expect(value(samples, 'graylane_reconcile_duration_seconds_count', { outcome: 'error' })).toBe(2);
    expect(value(samples, 'graylane_reconcile_duration_seconds_sum', { outcome: 'error' })).toBeCloseTo(1.8);
    expect(value(samples, 'graylane_reconcile_duration_seconds_bucket', { outcome: 'success', le: '0.025' })).toBe(1);
    expect(value(samples, 'graylane_reconcile_errors_total')).toBe(2);
    expect(value(samples, 'graylane_work_queue_depth')).toBe(3);
    expect(types.get('graylane_kube_requests_retried_total')).toBe('counter');
    expect(value(samples, 'graylane_kube_requests_retried_total')).toBe(2);
    expect(value(samples, 'graylane_leader')).toBe(1);
    expect(value(samples, 'graylane_rollouts', { phase: 'Healthy' })).toBe(1);
    expect(value(samples, 'graylane_rollouts', { phase: 'Degraded' })).toBe(0);
    expect(value(samples, 'graylane_informer_objects', { kind: 'ReplicaSet' })).toBe(5);
    expect(value(samples, 'graylane_informer_synced', { kind: 'ReplicaSet' })).toBe(0);
    expect(value(samples, 'graylane_informer_synced', { kind: 'Rollout' })).toBe(1);
    expect(value(samples, 'graylane_informer_lists_total', { kind: 'ReplicaSet' })).toBe(2);
    expect(value(samples, 'graylane_informer_watch_restarts_total', { kind: 'ReplicaSet' })).toBe(4);
    // Hooks are read at each scrape, and a leader that steps down says so.
    depth = 0;
    informers[1] = { ...informers[1]!, lists: 3 };
    metrics.setLeader(false);
    const again = parsePrometheus((await get(`${s.metricsUrl}/metrics`)).body).samples;
    expect(value(again, 'graylane_work_queue_depth')).toBe(0);
    expect(value(again, 'graylane_informer_lists_total', { kind: 'ReplicaSet' })).toBe(3);
    expect(value(again, 'graylane_leader')).toBe(0);
  });

  it('two controllers in one process keep their own figures', async () => {
    const a = new ControllerMetrics();
    const b = new ControllerMetrics();
    a.observeReconcile({ outcome: 'error', durationSeconds: 0.1 });
    expect(value(parsePrometheus(await b.text()).samples, 'graylane_reconcile_errors_total')).toBe(0);
    expect(value(parsePrometheus(await a.text()).samples, 'graylane_reconcile_errors_total')).toBe(1);
  });

  it('a hook that fails makes the scrape a 500 with its message, not a crash', async () => {
    const metrics = new ControllerMetrics({ informers: () => { throw new Error('the informers are gone'); } });
    const s = await start({ notAlive: () => undefined, notReady: () => undefined }, metrics);
    expect(await get(`${s.metricsUrl}/metrics`)).toMatchObject({ status: 500, body: expect.stringContaining('the informers are gone') });
    expect((await get(`${s.healthUrl}/healthz`)).status).toBe(200);
  });
});

describe('parseListenAddress', () => {
  it.each<[string, { host: string; port: number }]>([
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    [':8081', { host: '0.0.0.0', port: 8081 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['[::1]:9090', { host: '::1', port: 9090 }],
  ])('%s', (text, expected) => expect(parseListenAddress(text)).toEqual(expected));

  it.each<[string, string]>([
    ['8080', '"8080" is not host:port: expected one ":" between host and port'],
    ['host:', '"host:" is not host:port: the port must be a number from 0 to 65535, not ""'],
    ['host:http', '"host:http" is not host:port: the port must be a number from 0 to 65535, not "http"'],
    ['host:70000', '"host:70000" is not host:port: the port must be a number from 0 to 65535, not "70000"'],
    ['::1:80', '"::1:80" is not host:port: expected one ":" between host and port'],
  ])('refuses %s', (text, message) => {
    expect(() => parseListenAddress(text)).toThrow(ListenAddressError);
    expect(() => parseListenAddress(text)).toThrow(message);
  });
});
