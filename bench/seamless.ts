/**
 * `npm run bench -- seamless [--json] [--rps 300] [--duration-s 5] [--router-workers 2] [--worker-priority -10] [--client wrk|node] [--client-priority -15]`
 *
 * Every strategy is run twice, side by side: the router in the daemon's process (`spec.router.workers: 0`),
 * and the router in its own supervisor with `--router-workers` workers (`--router-workers 0`:
 * the first only); with `--worker-priority N` a third time, the workers at that nice value
 * (`spec.router.workerPriority`; below 0 needs root). The supervisor takes the data plane off the daemon's event loop, where
 * spawning, applying and probing otherwise stall it.
 *
 * For each strategy (rolling update, blue-green with auto-promotion, canary with steps): a real
 * daemon (`graylane up`, from dist/) runs the e2e fixture app with 3 replicas behind its router;
 * Debian's wrk holds constant-rate keep-alive load on the router (`lib-wrk-log.ts`: every request
 * logged, latency from when it was due; `--client node`: this process's undici loop, which stalls
 * with the machine while app processes boot, and so measured itself too), measures p99 for `--duration-s`
 * seconds before the rollout, then applies v2 and measures until the rollout is complete (v2
 * alone, all replicas ready, 100% weight, v1's instances gone). Goals (DESIGN.md): 0 failed
 * requests, p99 during ≤ 1.5× before.
 *
 * The canary's last step is an indefinite pause with the canary already at full size
 * (`setCanaryScale`), then `promote --full` through the API: "promote → all new requests on the
 * new revision" is the time from the promote call returning to the send time of the first
 * request from which on every request was answered by v2 (resolution: one request interval).
 * Goal ≤ 10 ms.
 *
 * The load generator shares the host's 2 cores with what it measures, and a rollout's booting
 * processes deschedule it too, so its own delays count as latency. `--client-priority N` runs wrk
 * at nice N (below 0 needs root), closer to a client on another machine; said in the output.
 *
 * Diagnostics: `BENCH_TRACE=1` lists the rollout's slow requests and the load generator's own
 * event-loop lags; `BENCH_DAEMON_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR"` profiles the daemon.
 */
import { loadavg } from 'node:os';
import type { BenchOptions } from './main.js';
import { clientFlag, startLoad, type LoadClient } from './lib-load.js';
import {
  failed, latencies, makeAppDir, numberFlag, quantile, round, sentBetween, sleep, startDaemon, stopAll, waitForView, waitSettledOn, writeAppFile,
  type RequestLog,
} from './lib-daemon.js';

const REPLICAS = 3;

interface Strategy {
  name: string;
  block: string;
  /** Promote --full when paused at the last step, and time the switch. */
  promoteAtPause: boolean;
}

const STRATEGIES: Strategy[] = [
  { name: 'rolling update', block: '      canary: {maxSurge: 1, maxUnavailable: 0}', promoteAtPause: false },
  { name: 'blue-green, auto-promotion', block: '      blueGreen: {autoPromotionSeconds: 1, scaleDownDelaySeconds: 1}', promoteAtPause: false },
  {
    name: 'canary with steps',
    block: [
      '      canary:',
      '        trafficRouting: {builtin: {}}',
      '        scaleDownDelaySeconds: 1',
      `        steps: [{setWeight: 20}, {pause: {duration: 1s}}, {setWeight: 60}, {pause: {duration: 1s}}, {setCanaryScale: {replicas: ${REPLICAS}}}, {pause: {}}]`,
    ].join('\n'),
    promoteAtPause: true,
  },
];

interface StrategyFigures {
  strategy: string;
  requestsPerSecondHeld: number;
  sent: number;
  failed: number;
  dropped: number;
  /** wrk's connect, read and write errors and timeouts (each also a failed request in the log). */
  socketErrors: number;
  p99BeforeMs: number;
  p99DuringMs: number;
  p99Ratio: number;
  rolloutSeconds: number;
  servedByDuring: Record<string, number>;
  /** p99 during the rollout of the answers each revision gave: tells a cold new revision from a starved old one. */
  p99DuringByRevisionMs: Record<string, number>;
  /** Canary only: promote --full call returning → every new request on v2. */
  promoteToAllNewMs?: number;
  /** Canary only: how long the promote call itself took. */
  promoteCallMs?: number;
  /** Canary only: promote --full call starting → every new request on v2. */
  promoteStartToAllNewMs?: number;
  met: { zeroFailed: boolean; p99Ratio: boolean; promoteToAllNew?: boolean };
}

// BENCH_TRACE=1: every slow request of the rollout (sent when, how slow, served by whom) and
// this process's own event-loop lags, to tell a stalled router from a stalled load generator.
let lags: Array<[number, number]> = [];
let traceTimer: NodeJS.Timeout | undefined;
function traceLoop(): void {
  lags = [];
  let last = performance.now();
  traceTimer = setInterval(() => {
    const now = performance.now();
    if (now - last > 8) lags.push([now, now - last - 2]);
    last = now;
  }, 2);
}
function stopTrace(): void {
  clearInterval(traceTimer);
}

/** Send time of the first request, sent at `fromMs` or later, from which on every request was answered by `servedBy`. */
function allOnFrom(log: RequestLog, servedBy: string, fromMs: number): number {
  let first = NaN;
  for (let i = log.sentMs.length - 1; i >= 0 && log.sentMs[i]! >= fromMs; i--) {
    if (log.servedBy[i] !== servedBy) break;
    first = log.sentMs[i]!;
  }
  return first;
}

interface RunOptions {
  rps: number;
  beforeS: number;
  client: LoadClient;
  routerWorkers: number | undefined;
  workerPriority: number | undefined;
  clientPriority: number | undefined;
  log: (line: string) => void;
}

async function runStrategy(s: Strategy, o: RunOptions): Promise<StrategyFigures> {
  const { rps, beforeS, routerWorkers, workerPriority, log } = o;
  const dir = makeAppDir();
  const service = (version: string) => [{ name: 'app', pathPrefix: '/', replicas: REPLICAS, env: { VERSION: version }, strategy: s.block }];
  const router = workerPriority === undefined ? {} : { router: `{workerPriority: ${workerPriority}}` };
  writeAppFile(dir, service('v1'), router);
  const daemon = await startDaemon(dir, { routerWorkers });
  try {
    await waitSettledOn(daemon.api, 'app', 1, REPLICAS, 30_000);
    const load = startLoad({ client: o.client, origin: daemon.info.routerUrl, paths: ['/'], ratePerSecond: rps, clientPriority: o.clientPriority });
    await sleep(1000); // warm-up: connections opened, JIT warm
    const beforeFrom = performance.now();
    await sleep(beforeS * 1000);
    const applyAt = performance.now();
    if (process.env.BENCH_TRACE) traceLoop();
    const { file, text } = writeAppFile(dir, service('v2'), router);
    await daemon.api.apply(text, file);
    let promote: { startMs: number; endMs: number } | undefined;
    if (s.promoteAtPause) {
      await waitForView(daemon.api, 'app', (v) => v.phase === 'Paused' && v.step === v.steps && v.revisions.find((r) => r.role === 'canary')?.ready === REPLICAS,
        60_000, 'the canary paused at its last step at full size');
      await sleep(500); // let requests on both revisions settle before timing the switch
      const startMs = performance.now();
      await daemon.api.operate('app', { type: 'promote', full: true });
      promote = { startMs, endMs: performance.now() };
    }
    await waitSettledOn(daemon.api, 'app', 2, REPLICAS, 60_000);
    const doneAt = performance.now();
    await sleep(200);
    const { log: requests, dropped, socketErrors } = await load.stop();
    if (process.env.BENCH_TRACE) {
      stopTrace();
      for (const i of sentBetween(requests, applyAt, doneAt)) {
        const ms = requests.doneMs[i]! - requests.sentMs[i]!;
        if (ms > 15) console.log(`    slow: sent +${round(requests.sentMs[i]! - applyAt)} ms, ${round(ms)} ms, ${requests.servedBy[i]}`);
      }
      for (const [at, lag] of lags) console.log(`    client loop lag at +${round(at - applyAt)} ms: ${round(lag)} ms`);
    }
    const before = sentBetween(requests, beforeFrom, applyAt);
    const during = sentBetween(requests, applyAt, doneAt);
    const all = sentBetween(requests, 0, Infinity);
    const failedCount = all.filter((i) => failed(requests, i)).length;
    const p99BeforeMs = quantile(latencies(requests, before), 0.99);
    const p99DuringMs = quantile(latencies(requests, during.filter((i) => !failed(requests, i))), 0.99);
    const servedByDuring: Record<string, number> = {};
    for (const i of during) servedByDuring[requests.servedBy[i] || '(none)'] = (servedByDuring[requests.servedBy[i] || '(none)'] ?? 0) + 1;
    const p99DuringByRevisionMs: Record<string, number> = {};
    for (const by of Object.keys(servedByDuring)) {
      p99DuringByRevisionMs[by] = round(quantile(latencies(requests, during.filter((i) => (requests.servedBy[i] || '(none)') === by && !failed(requests, i))), 0.99), 2);
    }
    const figures: StrategyFigures = {
      strategy: `${s.name}${routerWorkers ? `, ${routerWorkers}w` : ''}${workerPriority === undefined ? '' : `, nice ${workerPriority}`}`,
      requestsPerSecondHeld: round(during.length / ((doneAt - applyAt) / 1000)),
      sent: all.length,
      failed: failedCount,
      dropped,
      socketErrors,
      p99BeforeMs: round(p99BeforeMs, 2),
      p99DuringMs: round(p99DuringMs, 2),
      p99Ratio: round(p99DuringMs / p99BeforeMs, 2),
      rolloutSeconds: round((doneAt - applyAt) / 1000),
      servedByDuring,
      p99DuringByRevisionMs,
      met: { zeroFailed: failedCount === 0 && dropped === 0 && socketErrors === 0, p99Ratio: p99DuringMs <= 1.5 * p99BeforeMs },
    };
    if (promote) {
      const allNewAt = allOnFrom(requests, 'app@v2', promote.startMs);
      figures.promoteCallMs = round(promote.endMs - promote.startMs, 2);
      figures.promoteToAllNewMs = round(allNewAt - promote.endMs, 2);
      figures.promoteStartToAllNewMs = round(allNewAt - promote.startMs, 2);
      figures.met.promoteToAllNew = allNewAt - promote.endMs <= 10;
    }
    log(`  ${s.name}: ${figures.sent} requests, ${figures.failed} failed, rollout ${figures.rolloutSeconds} s`);
    return figures;
  } finally {
    await stopAll();
  }
}

const yes = (b: boolean | undefined) => (b === undefined ? '' : b ? 'pass' : 'FAIL');

function printTable(rows: StrategyFigures[], rps: number, beforeS: number, client: LoadClient, clientPriority: number | undefined): void {
  const cols = ['', ...rows.map((r) => r.strategy)];
  const width = [34, ...rows.map((r) => Math.max(14, r.strategy.length + 2))];
  const line = (cells: string[]) => console.log(`  ${cells.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('')}`);
  console.log(`\n  load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (2 cores shared with other work: p99s are sensitive to it)`);
  console.log(`  ${REPLICAS} replicas, keep-alive load at ${rps} requests/s from ${client === 'wrk' ? `wrk (16 connections, latency from when each request was due${clientPriority === undefined ? '' : `, at nice ${clientPriority}`})` : 'this process (undici)'}, p99 before over ${beforeS} s, during = apply → v2 alone and v1 gone`);
  console.log('  (a column named "…, Nw": the router in a supervisor with N worker processes; otherwise in the daemon)');
  line(cols);
  line(['requests/s held during', ...rows.map((r) => String(r.requestsPerSecondHeld))]);
  line(['requests sent (whole run)', ...rows.map((r) => String(r.sent))]);
  line(['failed requests (goal 0)', ...rows.map((r) => `${r.failed}${r.dropped ? ` +${r.dropped} dropped` : ''}${r.socketErrors ? ` (${r.socketErrors} socket errors)` : ''}`)]);
  line(['  goal met', ...rows.map((r) => yes(r.met.zeroFailed))]);
  line(['p99 before, ms', ...rows.map((r) => r.p99BeforeMs.toFixed(2))]);
  line(['p99 during, ms', ...rows.map((r) => r.p99DuringMs.toFixed(2))]);
  line(['  of answers from v1, ms', ...rows.map((r) => String(r.p99DuringByRevisionMs['app@v1'] ?? ''))]);
  line(['  of answers from v2, ms', ...rows.map((r) => String(r.p99DuringByRevisionMs['app@v2'] ?? ''))]);
  line(['ratio during/before (goal ≤ 1.5)', ...rows.map((r) => r.p99Ratio.toFixed(2))]);
  line(['  goal met', ...rows.map((r) => yes(r.met.p99Ratio))]);
  line(['rollout duration, s', ...rows.map((r) => String(r.rolloutSeconds))]);
  line(['promote --full call, ms', ...rows.map((r) => (r.promoteCallMs === undefined ? '' : r.promoteCallMs.toFixed(2)))]);
  line(['promote → all new on v2, ms (≤ 10)', ...rows.map((r) => (r.promoteToAllNewMs === undefined ? '' : r.promoteToAllNewMs.toFixed(2)))]);
  line(['  goal met', ...rows.map((r) => yes(r.met.promoteToAllNew))]);
  line(['promote call start → all new, ms', ...rows.map((r) => (r.promoteStartToAllNewMs === undefined ? '' : r.promoteStartToAllNewMs.toFixed(2)))]);
  console.log(`  (promote → all new: from the API call returning to the send time of the first request after which only v2 answered; resolution ${round(1000 / rps, 1)} ms; negative = switched before the call returned)`);
}

export async function run(options: BenchOptions): Promise<Record<string, unknown>> {
  const rps = numberFlag(options.args, 'rps', 300);
  const beforeS = numberFlag(options.args, 'duration-s', 5);
  const log = (s: string) => {
    if (!options.json) console.log(s);
  };
  const workersAt = options.args.indexOf('--router-workers');
  const routerWorkers = workersAt >= 0 && options.args[workersAt + 1] === '0' ? 0 : numberFlag(options.args, 'router-workers', 2);
  const client = clientFlag(options.args);
  const priorityAt = options.args.indexOf('--worker-priority');
  const workerPriority = priorityAt >= 0 ? Number(options.args[priorityAt + 1]) : undefined;
  if (workerPriority !== undefined && !(Number.isInteger(workerPriority) && workerPriority >= -20 && workerPriority <= 19)) throw new Error('--worker-priority needs a nice value from -20 to 19');
  const clientAt = options.args.indexOf('--client-priority');
  const clientPriority = clientAt >= 0 ? Number(options.args[clientAt + 1]) : undefined;
  if (clientPriority !== undefined && !(Number.isInteger(clientPriority) && clientPriority >= -20 && clientPriority <= 19)) throw new Error('--client-priority needs a nice value from -20 to 19');
  if (clientPriority !== undefined && client !== 'wrk') throw new Error('--client-priority is for the wrk client: the node client runs in this process');
  const modes: { workers: number | undefined; priority: number | undefined }[] = [{ workers: undefined, priority: undefined }];
  if (routerWorkers > 0) modes.push({ workers: routerWorkers, priority: undefined });
  if (routerWorkers > 0 && workerPriority !== undefined) modes.push({ workers: routerWorkers, priority: workerPriority });
  const rows: StrategyFigures[] = [];
  try {
    for (const m of modes) for (const s of STRATEGIES) rows.push(await runStrategy(s, { rps, beforeS, client, routerWorkers: m.workers, workerPriority: m.priority, clientPriority, log }));
  } finally {
    await stopAll();
  }
  if (!options.json) printTable(rows, rps, beforeS, client, clientPriority);
  return {
    replicas: REPLICAS,
    routerWorkers,
    ratePerSecond: rps,
    client,
    clientPriority,
    beforeSeconds: beforeS,
    strategies: rows,
    loadAverage: loadavg().map((l) => round(l, 2)),
    goals: { failed: 0, p99Ratio: '≤ 1.5', promoteToAllNewMs: '≤ 10' },
  };
}
