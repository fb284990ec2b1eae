/**
 * `npm run bench -- rollback [--json] [--runs 3] [--other-runs 1] [--healthy-runs 50]
 *   [--healthy-s 10] [--healthy-parallel 5] [--rates 50,200,1000] [--timeout-s 30]
 *   [--faults errors100,errors5,latency3x]`
 *
 * `--runs` bad runs per fault at 200 requests/s (where the median is judged), `--other-runs` at
 * the other rates; defaults keep the whole benchmark near 5 minutes on 2 cores.
 *
 * A canary at 10% (`steps: [{setWeight: 10}, {pause: {}}]`, builtin traffic routing) behind the
 * router of a real daemon, 3 replicas of the e2e fixture app, under constant-rate keep-alive load
 * from this process (undici, every request timestamped). The canary is bad from its first
 * request, through its environment: 100% errors (FAIL_RATE=1), 5% errors (FAIL_RATE=0.05), or 3×
 * the latency stable shows to the client (EXTRA_LATENCY_MS = 2 × stable's median, measured
 * first at that rate). Per run:
 *
 * - time to stable: from the first bad response received (first 5xx; for latency, the first
 *   answer from the canary, every one of which is slow by construction) to the send time of the
 *   first request after the last one the canary answered (resolution: one request interval);
 * - blast radius: bad responses (5xx; for latency, every canary answer), also as % of the
 *   requests the canary answered and of all requests of the run.
 *
 * Healthy runs: `--healthy-parallel` services in one daemon, each with its own healthy 10%
 * canary (same code, new revision) under 200 requests/s for `--healthy-s` seconds; a run is a
 * false abort when the guard aborts it. Goals (DESIGN.md, issue 5): ≤ 1 s median at 200
 * requests/s, blast radius ≤ 1% of canary traffic, zero false aborts in 50 healthy runs.
 */
import { loadavg } from 'node:os';
import type { BenchOptions } from './main.js';
import {
  countFlag, done, failed, latencies, makeAppDir, numberFlag, quantile, round, sentBetween, sleep, startDaemon, startLoadLoop, stopAll, waitFor, writeAppFile,
  type BenchDaemon, type BenchService, type RequestLog,
} from './lib-daemon.js';

const REPLICAS = 3;
const CANARY_WEIGHT = 10;
const STRATEGY = [
  '      canary:',
  '        trafficRouting: {builtin: {}}',
  '        abortScaleDownDelaySeconds: 1',
  `        steps: [{setWeight: ${CANARY_WEIGHT}}, {pause: {}}]`,
].join('\n');

type Fault = 'errors100' | 'errors5' | 'latency3x';
const FAULTS: Fault[] = ['errors100', 'errors5', 'latency3x'];
const FAULT_LABEL: Record<Fault, string> = { errors100: '100% errors', errors5: '5% errors', latency3x: '3× latency' };

/**
 * What the minute-based tools' documented defaults give on the same scenario. Flagger: analysis
 * `interval: 1m`, `threshold: 5` failed checks before rollback, builtin checks success rate ≥ 99%
 * and p99 ≤ 500 ms (docs' example). Argo Rollouts: a typical AnalysisTemplate with `interval: 1m`
 * and `failureLimit: 2`, i.e. 3 failed measurements → abort.
 */
const BASELINES = {
  flagger: { seconds: 5 * 60, assumption: 'Flagger: interval 1m × threshold 5 failed checks → ≥ 5 min; checks success rate ≥ 99%, p99 ≤ 500 ms' },
  argo: { seconds: 3 * 60, assumption: 'Argo Rollouts: AnalysisTemplate interval 1m, failureLimit 2 → 3 failed measurements → ≥ 3 min' },
} as const;

interface RunFigures {
  rate: number;
  fault: Fault;
  /** The guard aborted (false: not within --timeout-s, aborted by hand afterwards). */
  caught: boolean;
  timeToStableMs: number;
  badResponses: number;
  canaryAnswered: number;
  requests: number;
  blastPctOfCanary: number;
  blastPctOfAll: number;
  extraLatencyMs?: number;
}

interface Row {
  rate: number;
  fault: Fault;
  runs: number;
  caught: number;
  medianTimeToStableMs: number;
  maxTimeToStableMs: number;
  medianBadResponses: number;
  medianBlastPctOfCanary: number;
  medianBlastPctOfAll: number;
  flaggerBadResponses: number | null;
  argoBadResponses: number | null;
}

function faultEnv(fault: Fault, extraLatencyMs: number): Record<string, string> {
  if (fault === 'errors100') return { FAIL_RATE: '1' };
  if (fault === 'errors5') return { FAIL_RATE: '0.05' };
  return { EXTRA_LATENCY_MS: String(extraLatencyMs) };
}

const median = (xs: number[]) => quantile(xs, 0.5);

/** Figures of one bad-canary run from its request log. */
function analyse(log: RequestLog, fault: Fault, rate: number, caught: boolean): RunFigures {
  const all = sentBetween(log, 0, Infinity);
  const canary = all.filter((i) => log.servedBy[i]!.startsWith('app@v2'));
  const bad = fault === 'latency3x' ? canary : all.filter((i) => failed(log, i));
  const firstBadAt = Math.min(...bad.map((i) => log.doneMs[i]!));
  const lastCanary = canary.length > 0 ? canary[canary.length - 1]! : -1;
  const stableFrom = lastCanary + 1 < log.sentMs.length ? log.sentMs[lastCanary + 1]! : NaN;
  return {
    rate, fault, caught,
    timeToStableMs: bad.length > 0 ? stableFrom - firstBadAt : NaN,
    badResponses: bad.length,
    canaryAnswered: canary.length,
    requests: all.length,
    blastPctOfCanary: canary.length > 0 ? (100 * bad.length) / canary.length : NaN,
    blastPctOfAll: (100 * bad.length) / all.length,
  };
}

/** Stable alone again: 100% on revision 1, the aborted canary's instances gone. */
async function waitStableAlone(d: BenchDaemon, service: string): Promise<void> {
  let last = '';
  await waitFor(async () => {
    const v = await d.api.get(service);
    last = `${v.phase}: ${v.message}; ${v.revisions.map((r) => `#${r.number} ${r.role} ${r.weight}% ${r.ready}/${r.total}`).join(', ')}`;
    // An aborted canary stays listed (0% and no instances) until the next revision replaces it.
    const stable = v.revisions.find((r) => r.number === 1);
    return stable?.weight === 100 && stable.ready === REPLICAS && v.revisions.every((r) => r === stable || (r.total === 0 && r.weight === 0));
  }, 30_000, `${service}: only stable left`).catch((err: unknown) => {
    throw new Error(`${err instanceof Error ? err.message : String(err)} (last seen: ${last})`);
  });
}

async function badRuns(rate: number, runs: number, timeoutS: number, faults: readonly Fault[], log: (s: string) => void): Promise<RunFigures[]> {
  const dir = makeAppDir();
  const service = (env: Record<string, string>): BenchService[] => [{ name: 'app', pathPrefix: '/', replicas: REPLICAS, env: { VERSION: 'v1', ...env }, strategy: STRATEGY }];
  writeAppFile(dir, service({}));
  const d = await startDaemon(dir);
  const out: RunFigures[] = [];
  try {
    await waitStableAlone(d, 'app');
    // Stable's latency at this rate, as the client sees it, sets the 3× fault.
    const probe = startLoadLoop({ url: `${d.info.routerUrl}/`, ratePerSecond: rate });
    await sleep(1000);
    const from = performance.now();
    await sleep(2000);
    const probeLog = await probe.stop();
    const stableMedianMs = median(latencies(probeLog, sentBetween(probeLog, from, Infinity)));
    const extraLatencyMs = Math.max(1, Math.round(2 * stableMedianMs));
    let n = 0;
    for (let r = 0; r < runs; r++) {
      for (const fault of faults) {
        n += 1;
        const load = startLoadLoop({ url: `${d.info.routerUrl}/`, ratePerSecond: rate });
        await sleep(1000);
        // VERSION names the canary (app@v2-…) and makes each run a new revision.
        const { file, text } = writeAppFile(dir, service({ VERSION: `v2-${n}`, ...faultEnv(fault, extraLatencyMs) }));
        await d.api.apply(text, file);
        const canaryNumber = n + 1;
        let caught = true;
        try {
          await waitFor(async () => {
            const v = await d.api.get('app');
            return v.aborted && v.revisions.some((rev) => rev.number === canaryNumber);
          }, timeoutS * 1000, 'the guard to abort');
        } catch {
          caught = false;
          await d.api.operate('app', { type: 'abort' });
        }
        await sleep(1000);
        const requests = await load.stop();
        const figures = analyse(requests, fault, rate, caught);
        if (fault === 'latency3x') figures.extraLatencyMs = extraLatencyMs;
        out.push(figures);
        log(`  ${rate} rps, ${FAULT_LABEL[fault]}, run ${r + 1}: ${caught ? `stable after ${round(figures.timeToStableMs)} ms` : `NOT aborted by the guard within ${timeoutS} s`}, ${figures.badResponses} bad of ${figures.canaryAnswered} canary answers`);
        await waitStableAlone(d, 'app');
      }
    }
    return out;
  } finally {
    await stopAll();
  }
}

interface HealthyFigures {
  runs: number;
  parallel: number;
  falseAborts: number;
  secondsEach: number;
  ratePerSecond: number;
  inconclusive: number;
  canaryRequests: number;
  /** Requests sent per second per service during the holds (the load generator keeps up or not). */
  achievedRatePerSecond: number;
  /** Requests answered by something else than 2xx, or not at all, during the holds. */
  failedRequests: number;
  /** Answers during the holds by HTTP status ('0': no answer). */
  statusCounts: Record<string, number>;
}

/** Healthy canaries, `parallel` services at a time, each under 200 requests/s. */
async function healthyRuns(total: number, parallel: number, holdS: number, log: (s: string) => void): Promise<HealthyFigures> {
  const rate = 200;
  const figures: HealthyFigures = { runs: 0, parallel, falseAborts: 0, secondsEach: holdS, ratePerSecond: rate, inconclusive: 0, canaryRequests: 0, achievedRatePerSecond: 0, failedRequests: 0, statusCounts: {} };
  if (total === 0) return figures;
  const dir = makeAppDir();
  const names = Array.from({ length: Math.min(parallel, total) }, (_, i) => `s${i}`);
  const app = (round: number) => names.map((name): BenchService => ({ name, pathPrefix: `/${name}`, replicas: REPLICAS, env: { VERSION: `v${round === 0 ? 1 : `2-${round}`}` }, strategy: STRATEGY }));
  writeAppFile(dir, app(0));
  const d = await startDaemon(dir);
  try {
    for (const name of names) await waitStableAlone(d, name);
    let sentInHolds = 0;
    let secondsOfHolds = 0;
    const loads = names.map((name) => startLoadLoop({ url: `${d.info.routerUrl}/${name}/`, ratePerSecond: rate }));
    await sleep(1000);
    for (let round = 1; figures.runs < total; round++) {
      const inRound = names.slice(0, total - figures.runs);
      const { file, text } = writeAppFile(dir, app(round));
      await d.api.apply(text, file);
      // Each canary counts from the moment it takes its 10%.
      await waitFor(async () => {
        const views = await Promise.all(inRound.map((name) => d.api.get(name)));
        return views.every((v) => v.revisions.some((r) => r.number === round + 1 && (v.aborted || (v.phase === 'Paused' && r.role === 'canary' && r.weight === CANARY_WEIGHT && r.ready > 0))));
      }, 60_000, 'every healthy canary at 10%');
      const from = loads.map((l) => l.log.sentMs.length);
      const holdFrom = performance.now();
      await sleep(holdS * 1000);
      const heldS = (performance.now() - holdFrom) / 1000;
      const views = await Promise.all(inRound.map((name) => d.api.get(name)));
      for (const [k, v] of views.entries()) {
        figures.runs += 1;
        const l = loads[k]!.log;
        sentInHolds += l.sentMs.length - from[k]!;
        secondsOfHolds += heldS;
        for (let i = from[k]!; i < l.sentMs.length; i++) {
          if (!done(l, i)) continue;
          if (l.servedBy[i]!.startsWith('app@v2')) figures.canaryRequests += 1;
          if (failed(l, i)) figures.failedRequests += 1;
          const key = l.status[i] === 0 ? `0 ${l.errors.get(i) ?? ''}` : String(l.status[i]);
          figures.statusCounts[key] = (figures.statusCounts[key] ?? 0) + 1;
        }
        const guard = v.analysis.find((a) => a.name === 'guard');
        if (v.aborted) {
          figures.falseAborts += 1;
          log(`  healthy run ${figures.runs}: FALSE ABORT: ${v.message}`);
        } else if (guard?.phase === 'Inconclusive') figures.inconclusive += 1;
      }
      log(`  healthy runs ${figures.runs}/${total}: ${figures.falseAborts} false aborts`);
    }
    await Promise.all(loads.map((l) => l.stop()));
    figures.achievedRatePerSecond = round(sentInHolds / secondsOfHolds);
    return figures;
  } finally {
    await stopAll();
  }
}

function summarise(runs: RunFigures[]): Row[] {
  const rows: Row[] = [];
  for (const rate of [...new Set(runs.map((r) => r.rate))]) {
    for (const fault of FAULTS) {
      const rs = runs.filter((r) => r.rate === rate && r.fault === fault);
      if (rs.length === 0) continue;
      const caught = rs.filter((r) => r.caught);
      const badShare = fault === 'errors5' ? 0.05 : 1;
      // Bad answers the minute-based tools would let through: the canary's share of the rate, for as long as their defaults take.
      const flaggerDetects = fault !== 'latency3x';
      rows.push({
        rate, fault, runs: rs.length, caught: caught.length,
        medianTimeToStableMs: round(median(rs.map((r) => (r.caught ? r.timeToStableMs : Infinity)))),
        maxTimeToStableMs: round(Math.max(...rs.map((r) => (r.caught ? r.timeToStableMs : Infinity)))),
        medianBadResponses: median(rs.map((r) => r.badResponses)),
        medianBlastPctOfCanary: round(median(rs.map((r) => r.blastPctOfCanary)), 2),
        medianBlastPctOfAll: round(median(rs.map((r) => r.blastPctOfAll)), 2),
        flaggerBadResponses: flaggerDetects ? Math.round(rate * (CANARY_WEIGHT / 100) * badShare * BASELINES.flagger.seconds) : null,
        argoBadResponses: Math.round(rate * (CANARY_WEIGHT / 100) * badShare * BASELINES.argo.seconds),
      });
    }
  }
  return rows;
}

const pf = (b: boolean) => (b ? 'pass' : 'FAIL');

function printTables(rows: Row[], runs: RunFigures[], healthy: HealthyFigures, met: Met): void {
  console.log(`\n  canary at ${CANARY_WEIGHT}% of ${REPLICAS} replicas, bad from its first request; load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const head = ['rate', 'fault', 'aborted', 'median → stable ms', 'max ms', '≤ 1 s @200', 'bad answers', '% of canary', '≤ 1%', '% of all', 'Flagger', 'bad', 'Argo', 'bad'];
  const w = [6, 13, 8, 19, 10, 11, 12, 12, 6, 9, 9, 8, 9, 7];
  const line = (cells: string[]) => console.log(`  ${cells.map((c, i) => (i < 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('')}`);
  if (rows.length > 0) line(head);
  for (const r of rows) {
    line([
      String(r.rate), FAULT_LABEL[r.fault], `${r.caught}/${r.runs}`,
      String(r.medianTimeToStableMs), String(r.maxTimeToStableMs), r.rate === 200 ? pf(r.medianTimeToStableMs <= 1000) : '',
      String(r.medianBadResponses), r.medianBlastPctOfCanary.toFixed(2), pf(r.medianBlastPctOfCanary <= 1), r.medianBlastPctOfAll.toFixed(2),
      '≥ 5 min', r.flaggerBadResponses === null ? 'never*' : String(r.flaggerBadResponses), '≥ 3 min', String(r.argoBadResponses),
    ]);
  }
  const extras = [...new Map(runs.filter((r) => r.extraLatencyMs !== undefined).map((r) => [r.rate, r.extraLatencyMs])).entries()];
  if (extras.length > 0) console.log(`  3× latency: EXTRA_LATENCY_MS = 2 × stable's client-side median: ${extras.map(([rate, ms]) => `${ms} ms at ${rate} rps`).join(', ')}`);
  console.log('  medians over runs; "→ stable": first bad answer received → first request after the last one the canary answered; Infinity = not aborted within --timeout-s');
  console.log(`  baselines (assumed, the canary equally bad from the start; bad = canary share × bad share × time): ${BASELINES.flagger.assumption}; ${BASELINES.argo.assumption}.`);
  console.log('  * a 3× slowdown of a few-ms app stays far under Flagger\'s documented p99 ≤ 500 ms check: never rolled back. Argo\'s figure assumes a template that catches it.');
  console.log(`\n  healthy canaries: ${healthy.runs} runs of ${healthy.secondsEach} s at ${healthy.ratePerSecond} requests/s each, up to ${healthy.parallel} at once (achieved ${healthy.achievedRatePerSecond} requests/s each; ${healthy.canaryRequests} canary requests, ${healthy.failedRequests} failed, in all): ${healthy.falseAborts} false aborts, ${healthy.inconclusive} left Inconclusive`);
  if (healthy.failedRequests > 0) console.log(`  answers by status during the healthy holds: ${JSON.stringify(healthy.statusCounts)}`);
  console.log('\n  goals');
  const judged = (ok: boolean, any: boolean) => (any ? pf(ok) : 'not judged: no bad runs');
  console.log(`    time to stable ≤ 1 s median at 200 requests/s, every fault    ${judged(met.timeToStable, rows.some((r) => r.rate === 200))}`);
  console.log(`    blast radius ≤ 1% of canary traffic, every row                ${judged(met.blastRadius, rows.length > 0)}  (a canary bad from its first request: bad ÷ canary answers ≥ its own error share)`);
  console.log(`    zero false aborts in 50 healthy runs                          ${healthy.runs >= 50 ? pf(met.falseAborts) : `not judged: only ${healthy.runs} runs (${healthy.falseAborts} false aborts)`}`);
}

interface Met {
  timeToStable: boolean;
  blastRadius: boolean;
  falseAborts: boolean;
}

export async function run(options: BenchOptions): Promise<Record<string, unknown>> {
  const args = options.args;
  const runs = countFlag(args, 'runs', 3);
  const otherRuns = countFlag(args, 'other-runs', 1);
  const healthyTotal = countFlag(args, 'healthy-runs', 50);
  const healthyS = numberFlag(args, 'healthy-s', 10);
  const parallel = countFlag(args, 'healthy-parallel', 5) || 1;
  const timeoutS = numberFlag(args, 'timeout-s', 30);
  const ratesArg = args.indexOf('--rates');
  const rates = ratesArg >= 0 ? (args[ratesArg + 1] ?? '').split(',').map(Number) : [50, 200, 1000];
  if (rates.some((r) => !Number.isFinite(r) || r <= 0)) throw new Error('--rates needs positive numbers separated by commas, e.g. 50,200,1000');
  const faultsArg = args.indexOf('--faults');
  const faults = (faultsArg >= 0 ? (args[faultsArg + 1] ?? '').split(',') : FAULTS) as Fault[];
  const unknown = faults.filter((f) => !(FAULTS as string[]).includes(f));
  if (unknown.length > 0 || faults.length === 0) throw new Error(`--faults takes some of ${FAULTS.join(',')}; got ${unknown.join(',') || 'nothing'}`);
  const log = (s: string) => {
    if (!options.json) console.log(s);
  };
  const all: RunFigures[] = [];
  let healthy: HealthyFigures;
  try {
    for (const rate of rates) {
      const n = rate === 200 ? runs : otherRuns;
      if (n > 0) all.push(...(await badRuns(rate, n, timeoutS, faults, log)));
    }
    healthy = await healthyRuns(healthyTotal, parallel, healthyS, log);
  } finally {
    await stopAll();
  }
  const rows = summarise(all);
  const at200 = rows.filter((r) => r.rate === 200);
  const goals: Met = {
    timeToStable: at200.length > 0 && at200.every((r) => r.medianTimeToStableMs <= 1000),
    blastRadius: rows.length > 0 && rows.every((r) => r.medianBlastPctOfCanary <= 1),
    falseAborts: healthy.runs >= 50 && healthy.falseAborts === 0,
  };
  if (!options.json) printTables(rows, all, healthy, goals);
  return {
    canaryWeightPercent: CANARY_WEIGHT,
    replicas: REPLICAS,
    rows,
    runs: all.map((r) => ({ ...r, timeToStableMs: round(r.timeToStableMs), blastPctOfCanary: round(r.blastPctOfCanary, 2), blastPctOfAll: round(r.blastPctOfAll, 3) })),
    healthy,
    baselines: { flagger: BASELINES.flagger, argo: BASELINES.argo },
    loadAverage: loadavg().map((l) => round(l, 2)),
    goals: { medianTimeToStableMsAt200: '≤ 1000', blastRadiusPctOfCanary: '≤ 1', falseAbortsIn50HealthyRuns: 0 },
    met: goals,
  };
}
