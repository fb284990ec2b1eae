/**
 * `/metrics` over the supervisor's merged figures: each row feeds worker reports (and deaths) to
 * the supervisor's merger and reads the exposition the daemon serves; then the exposition of one
 * worker's report against the in-process router it came from, line for line.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { send, serviceTable, startRouter, startUpstream } from '../../../../test/fixtures/router/support.js';
import { createMetricsRegistry } from '../../metrics.js';
import { FINE_BOUNDS_MS, PROM_BUCKETS_S } from '../../revision-stats.js';
import { emptyReport, FigureMerger, zeroTotals, type ReportedRevision, type WorkerReport } from './figures.js';
import { mergedMetricsSource } from './merged-metrics-source.js';
import { workerReport } from './worker-report.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The exposition as `series → value`, `# HELP`/`# TYPE` lines apart. */
async function scrape(merger: FigureMerger): Promise<{ values: Map<string, number>; types: string[] }> {
  const text = await createMetricsRegistry(mergedMetricsSource(() => merger.merged({ atMs: 0, tableVersion: 1 }))).metrics();
  const values = new Map<string, number>();
  const types: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE')) types.push(line);
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    values.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return { values, types };
}

/** A revision of `web` with `ok` 2xx and `bad` 5xx responses, each observed at `latencyS`. */
function revision(revision: string, o: { ok: number; bad?: number; latencyS?: number; fallbacks?: number; unreadyServed?: number }): ReportedRevision {
  const bad = o.bad ?? 0;
  const totals = zeroTotals([...FINE_BOUNDS_MS]);
  totals.requests = o.ok + bad;
  totals.fallbacks = o.fallbacks ?? 0;
  totals.unreadyServed = o.unreadyServed ?? 0;
  totals.responses['2xx'] = o.ok;
  totals.responses['5xx'] = bad;
  totals.failed = bad;
  const buckets = new Array<number>(PROM_BUCKETS_S.length + 1).fill(0);
  const latencyS = o.latencyS ?? 0.002;
  buckets[PROM_BUCKETS_S.findIndex((le) => latencyS <= le)] = o.ok + bad;
  return { service: 'web', revision, totals, prom: { buckets, sumS: (o.ok + bad) * latencyS } };
}

const report = (extra: Partial<WorkerReport>): WorkerReport => ({ ...emptyReport(), ...extra });
const web = (rev: string, name: string, labels = '') => `graylane_router_${name}{service="web",revision="${rev}"${labels}}`;

type Step = { worker: number; report: WorkerReport } | { retire: number };

const rows: { name: string; steps: Step[]; expected: Record<string, number | undefined> }[] = [
  {
    name: 'two live workers: requests, response classes, failures and the histogram are summed',
    steps: [
      { worker: 1, report: report({ revisions: [revision('v1', { ok: 3, latencyS: 0.002 })] }) },
      { worker: 2, report: report({ revisions: [revision('v1', { ok: 2, bad: 2, latencyS: 0.02 })] }) },
    ],
    expected: {
      [web('v1', 'requests_total')]: 7,
      [web('v1', 'responses_total', ',class="2xx"')]: 5,
      [web('v1', 'responses_total', ',class="5xx"')]: 2,
      [web('v1', 'failed_total')]: 2,
      [web('v1', 'request_duration_seconds_bucket', ',le="0.001"')]: 0,
      [web('v1', 'request_duration_seconds_bucket', ',le="0.0025"')]: 3,
      [web('v1', 'request_duration_seconds_bucket', ',le="0.025"')]: 7,
      [web('v1', 'request_duration_seconds_bucket', ',le="+Inf"')]: 7,
      [web('v1', 'request_duration_seconds_count')]: 7,
      [web('v1', 'request_duration_seconds_sum')]: 3 * 0.002 + 4 * 0.02,
    },
  },
  {
    name: 'a dead worker\'s last report stays, once; its replacement counting from zero never lowers the counter',
    steps: [
      { worker: 1, report: report({ revisions: [revision('v1', { ok: 5 })] }) },
      { worker: 2, report: report({ revisions: [revision('v1', { ok: 1 })] }) },
      { retire: 1 },
      { retire: 1 },
      { worker: 3, report: report({ revisions: [revision('v1', { ok: 0 })] }) },
      { worker: 3, report: report({ revisions: [revision('v1', { ok: 2 })] }) },
    ],
    expected: { [web('v1', 'requests_total')]: 8, [web('v1', 'request_duration_seconds_count')]: 8 },
  },
  {
    name: 'instances: requests in flight summed over live workers only; ejected while any worker ejects',
    steps: [
      { worker: 1, report: report({ instances: [{ id: 'a', service: 'web', revision: 'v1', inflight: 2, ejected: false }] }) },
      { worker: 2, report: report({ instances: [{ id: 'a', service: 'web', revision: 'v1', inflight: 3, ejected: true }, { id: 'b', service: 'web', revision: 'v1', inflight: 1, ejected: false }] }) },
    ],
    expected: {
      [web('v1', 'instance_inflight_requests', ',instance="a"')]: 5,
      [web('v1', 'instance_ejected', ',instance="a"')]: 1,
      [web('v1', 'instance_inflight_requests', ',instance="b"')]: 1,
    },
  },
  {
    name: 'a dead worker\'s instance gauges leave with it',
    steps: [
      { worker: 1, report: report({ instances: [{ id: 'a', service: 'web', revision: 'v1', inflight: 2, ejected: false }] }) },
      { worker: 2, report: report({ instances: [{ id: 'a', service: 'web', revision: 'v1', inflight: 3, ejected: true }, { id: 'b', service: 'web', revision: 'v1', inflight: 1, ejected: false }] }) },
      { retire: 2 },
    ],
    expected: {
      [web('v1', 'instance_inflight_requests', ',instance="a"')]: 2,
      [web('v1', 'instance_ejected', ',instance="a"')]: 0,
      [web('v1', 'instance_inflight_requests', ',instance="b"')]: undefined,
    },
  },
  {
    name: 'fallbacks and requests served by unready instances are summed per revision, a dead worker\'s included',
    steps: [
      { worker: 1, report: report({ revisions: [revision('v2', { ok: 4, fallbacks: 1, unreadyServed: 3 })] }) },
      { worker: 2, report: report({ revisions: [revision('v2', { ok: 2, unreadyServed: 2 })] }) },
      { retire: 2 },
    ],
    expected: {
      [web('v2', 'fallbacks_total')]: 1,
      [web('v2', 'unready_served_total')]: 5,
    },
  },
  {
    name: 'refusals by reason and skipped mirrors are summed, a dead worker\'s included',
    steps: [
      { worker: 1, report: report({ refused: { 'duplicate-host': 2 }, mirrorsSkipped: 4 }) },
      { worker: 2, report: report({ refused: { 'duplicate-host': 1, 'body-too-large': 3 }, mirrorsSkipped: 1 }) },
      { retire: 1 },
    ],
    expected: {
      'graylane_router_refused_total{reason="duplicate-host"}': 3,
      'graylane_router_refused_total{reason="body-too-large"}': 3,
      graylane_router_mirror_skipped_total: 5,
    },
  },
  {
    name: 'releases: assignments, pins, forged tokens and skew per member revision are summed',
    steps: [1, 2].map((worker) => ({
      worker,
      report: report({
        releases: [{
          release: 'shop',
          stats: { assigned: { stable: worker, canary: 1 }, pinned: { stable: 0, canary: 2 }, fallbacks: 0, unreadyServed: worker, forgedTokens: 1, skewErrors: 1, lastPinnedMs: {} },
          seconds: [],
          skew: [{ service: 'web', revision: 'v2', count: worker }],
        }],
      }),
    })),
    expected: {
      'graylane_router_release_requests_total{release="shop",side="stable",how="assigned"}': 3,
      'graylane_router_release_requests_total{release="shop",side="canary",how="pinned"}': 4,
      'graylane_router_release_forged_tokens_total{release="shop"}': 2,
      'graylane_router_release_unready_served_total{release="shop"}': 3,
      'graylane_router_skew_errors_total{release="shop",service="web",revision="v2"}': 3,
    },
  },
];

describe('/metrics over the supervisor\'s merged figures', () => {
  for (const row of rows) {
    it(row.name, async () => {
      const merger = new FigureMerger();
      for (const step of row.steps) {
        if ('retire' in step) merger.retire(step.retire);
        else merger.report(step.worker, step.report);
      }
      const { values } = await scrape(merger);
      for (const [series, value] of Object.entries(row.expected)) {
        if (value === undefined) expect(values.has(series), series).toBe(false);
        else expect(values.get(series), series).toBeCloseTo(value, 9);
      }
    });
  }

  it('before the first report there is no series of any revision, and every metric keeps its type', async () => {
    const { values, types } = await scrape(new FigureMerger());
    expect([...values.keys()].filter((k) => k.includes('revision='))).toEqual([]);
    expect(types).toContain('# TYPE graylane_router_requests_total counter');
    expect(types).toContain('# TYPE graylane_router_request_duration_seconds histogram');
    expect(types).toContain('# TYPE graylane_router_instance_inflight_requests gauge');
  });

  it('one worker\'s report gives, line for line, the exposition of the in-process router it came from', async () => {
    const a = await startUpstream('a');
    cleanups.push(() => a.close());
    const r = await startRouter({ routes: serviceTable({ stable: [a] }) });
    cleanups.push(r.close);
    for (let i = 0; i < 5; i++) expect((await send(`${r.url}/x`)).status).toBe(200);
    // A refusal: two Host headers, refused before routing.
    await new Promise<void>((resolve, reject) => {
      const { port } = new URL(r.url);
      const socket = connect(Number(port), '127.0.0.1', () => socket.end('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'));
      socket.on('data', () => undefined);
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    const inProcess = await createMetricsRegistry(r.router.metricsSource()).metrics();
    expect(inProcess).toContain('graylane_router_requests_total{service="web",revision="v1"} 5');
    expect(inProcess).toContain('graylane_router_refused_total{reason="duplicate-host"} 1');
    expect(inProcess).toContain('graylane_router_instance_inflight_requests{service="web",revision="v1",instance="a"} 0');
    const merger = new FigureMerger();
    merger.report(1, JSON.parse(JSON.stringify(workerReport(r.router, Date.now()))) as WorkerReport);
    const merged = await createMetricsRegistry(mergedMetricsSource(() => merger.merged({ atMs: Date.now(), tableVersion: 1 }))).metrics();
    expect(merged).toBe(inProcess);
  });
});
