import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanaryStrategy } from '../../documents/schema.js';
import { CountersUnavailableError, PrometheusCounters, histogramFromBuckets, type CanaryCounterTarget } from './prometheus-counters.js';

/** A loopback server speaking Prometheus's instant-query API, answering from a table keyed by query text. */
let server: Server;
let address: string;
let answers: (query: string) => { status: number; body: unknown };
const seen: string[] = [];
beforeEach(async () => {
  seen.length = 0;
  server = createServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? '';
    seen.push(query);
    const a = answers(query);
    res.writeHead(a.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(a.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const vector = (...samples: Array<[Record<string, string>, number]>) => ({ status: 200, body: { status: 'success', data: { resultType: 'vector', result: samples.map(([metric, v]) => ({ metric, value: [0, String(v)] })) } } });
const istio: CanaryStrategy = { trafficRouting: { istio: { virtualService: { name: 'vs' } } }, guard: {} };
const target: CanaryCounterTarget = { key: 'shop/web', namespace: 'shop', rollout: 'web', strategy: istio, canaryRevision: 'c1', stableRevision: 's1' };

/** Figures per revision: requests, errors, and latency buckets (ms). */
function figures(table: Record<string, { requests: number; errors: number; buckets?: Array<[string, number]> }>): (q: string) => { status: number; body: unknown } {
  return (q) => {
    const revision = /destination_canonical_revision="([^"]+)"/.exec(q)?.[1] ?? '';
    const f = table[revision];
    if (!f) return vector();
    if (q.includes('_bucket')) return vector(...(f.buckets ?? []).map(([le, v]) => [{ le }, v] as [Record<string, string>, number]));
    return q.includes('response_code') ? vector([{}, f.errors]) : vector([{}, f.requests]);
  };
}

describe('PrometheusCounters', () => {
  it('reads both sides of a canary into cumulative totals and a latency histogram in ms', async () => {
    answers = figures({ c1: { requests: 40, errors: 4, buckets: [['5', 10], ['25', 30], ['+Inf', 40]] }, s1: { requests: 400, errors: 1 } });
    const counters = new PrometheusCounters({ addressOf: () => address });
    expect(await counters.refresh([target])).toEqual([]);
    const canary = counters.totals('shop/web', 'c1');
    expect([canary.requests, canary.failed]).toEqual([40, 4]);
    expect(canary.latency).toEqual({ boundsMs: [5, 25], counts: [10, 20, 10] });
    expect(counters.totals('shop/web', 's1').requests).toBe(400);
    expect(seen.some((q) => q.includes('destination_canonical_revision="c1"') && q.includes('reporter="destination"'))).toBe(true);
  });

  it('a data-plane restart (the sum drops) is read as fresh requests added, never as fewer', async () => {
    let canary = 100;
    answers = (q) => (q.includes('"c1"') ? vector([{}, q.includes('response_code') ? 0 : canary]) : vector([{}, 10]));
    const counters = new PrometheusCounters({ addressOf: () => address });
    await counters.refresh([target]);
    canary = 30;
    await counters.refresh([target]);
    expect(counters.totals('shop/web', 'c1').requests).toBe(130);
  });

  it.each([
    ['a failing query', () => ({ status: 400, body: { status: 'error', errorType: 'bad_data', error: 'parse error' } }), /query .* failed \(400\): parse error/],
    ['an answer without status success', () => ({ status: 200, body: 'nope' }), /failed \(200\): no error message/],
    ['a range vector', () => ({ status: 200, body: { status: 'success', data: { resultType: 'matrix', result: [] } } }), /returned matrix, not an instant vector/],
  ])('%s: the canary has no figures (and says why) until a read succeeds', async (_name, answer, message) => {
    answers = figures({ c1: { requests: 1, errors: 0 }, s1: { requests: 1, errors: 0 } });
    const counters = new PrometheusCounters({ addressOf: () => address });
    await counters.refresh([target]);
    answers = answer;
    const failures = await counters.refresh([target]);
    expect(failures).toEqual([{ key: 'shop/web', message: expect.stringMatching(message) as unknown }]);
    expect(counters.has('shop/web', ['c1', 's1'])).toBe(false);
    expect(() => counters.totals('shop/web', 'c1')).toThrow(CountersUnavailableError);
  });

  it('an unreachable Prometheus is a failure naming it, not a verdict', async () => {
    const counters = new PrometheusCounters({ addressOf: () => 'http://127.0.0.1:9', timeoutMs: 2000 });
    const failures = await counters.refresh([target]);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.message).toMatch(/127\.0\.0\.1:9/);
  });

  it('no address: a failure saying what to set', async () => {
    const counters = new PrometheusCounters({ addressOf: () => undefined });
    expect((await counters.refresh([target]))[0]?.message).toMatch(/--prometheus-url or set strategy\.canary\.guard\.prometheus\.address/);
  });

  it('answers the builtin provider over a window: increase over a subquery of the same queries', async () => {
    answers = (q) => (q.startsWith('increase(') ? (q.includes('_bucket') ? vector([{ le: '10' }, 90], [{ le: '100' }, 100], [{ le: '+Inf' }, 100]) : q.includes('response_code') ? vector([{}, 5]) : vector([{}, 100])) : vector());
    const counters = new PrometheusCounters({ addressOf: () => address, lookup: (s) => Promise.resolve(s === 'web' ? target : undefined) });
    const stats = await counters.stats({ service: 'web', revision: 'c1', windowMs: 60_000 });
    expect([stats.requests, stats.failed, stats.requestsPerSecond, stats.latencyMs.p50, stats.latencyMs.p99]).toEqual([100, 5, 100 / 60, 10, 100]);
    expect(seen[0]).toMatch(/^increase\(\(sum\(istio_requests_total\{.*\}\)\)\[60s:5s\]\)$/);
    await expect(counters.stats({ service: 'other', revision: 'c1', windowMs: 60_000 })).rejects.toThrow(CountersUnavailableError);
    await expect(counters.stats({ service: 'web', revision: 'zzz', windowMs: 60_000 })).rejects.toThrow(CountersUnavailableError);
  });
});

describe('histogramFromBuckets', () => {
  it.each([
    ['seconds to ms, cumulative to bins', [['0.1', 5], ['0.5', 8], ['+Inf', 10]], 'seconds', { boundsMs: [100, 500], counts: [5, 3, 2] }],
    ['unsorted buckets', [['+Inf', 10], ['50', 8], ['5', 5]], 'milliseconds', { boundsMs: [5, 50], counts: [5, 3, 2] }],
    ['no buckets', [], 'seconds', { boundsMs: [], counts: [0] }],
  ] as const)('%s', (_name, buckets, unit, want) => {
    expect(histogramFromBuckets(buckets.map(([le, value]) => ({ labels: { le }, value })), unit)).toEqual(want);
  });
});
