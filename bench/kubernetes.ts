/**
 * `npm run bench -- kubernetes [--json] [--sizes 100,1000,2000] [--pin] [--workers N (default: the controller's)] [--namespaces 10]
 *   [--strategy mixed|blue-green|canary] [--pod-ready-ms 50] [--scale-down-delay-s 0]
 *   [--timeout-s SECONDS] [--skip-build]`
 *
 * For each size N: the fake API server in this process (graylane's CRDs, the simulated
 * ReplicaSet controller and kubelets, pods ready after `--pod-ready-ms`) holding N Rollouts
 * (replicas 1, spread over `--namespaces`; `mixed` alternates blue-green with one Service and
 * automatic promotion, and a canary going to 100% in one step), and `graylane controller
 * --all-namespaces` as a child process (from dist/, built first unless `--skip-build`), so that
 * its memory is its own. Figures:
 *
 * - time to first all-Healthy: from the controller's start to every Rollout Healthy;
 * - converge: from the template change of all N Rollouts to all Healthy on the new revision;
 * - reconcile p50/p99: from the controller's `graylane_reconcile_duration_seconds` histogram
 *   (over the whole run, and over the converge phase alone), as Prometheus would estimate them;
 * - memory: the controller's RSS from /proc (peak, kernel high-water mark, at the end);
 * - CPU seconds of the controller and of this process (the fake): which side the time went to,
 *   and this process's event-loop delay (a busy fake answers late).
 *
 * Each phase gives up after `--timeout-s` (default 60 s + 60 ms per Rollout) and reports a miss.
 * Every Healthy claim is checked against the fake (a ready ReplicaSet of that hash; the blue-green
 * Service selecting it). `BENCH_CONTROLLER_NODE_FLAGS` (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`)
 * are passed to the controller's node, for profiling it under the benchmark.
 * `--pin` gives the controller one core of its own and this process (the fake API server, the
 * simulated kubelets) the others, with `taskset`, as a controller pod with its own CPU beside an
 * API server on other machines; without it both float over the same cores, and on a 2-core machine
 * the fake's work (about as much CPU as the controller's) shows up in the controller's latency.
 * `BENCH_GRAYLANE_BIN=/other/tree/bin/graylane.js` runs another tree's controller (built there;
 * no build here), to compare branches; the figures name the binary.
 *
 * Goal (issue 14): 2,000 Rollouts with reconcile p99 ≤ 100 ms and memory ≤ 300 MB. Argo Rollouts'
 * documentation cites a user running 1,290 Rollouts with one controller (it publishes no latency).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { BenchOptions } from './main.js';
import { numberFlag, round, sleep } from './lib-daemon.js';
import { KubeFleet, type FleetStrategy } from './lib-kube-fleet.js';
import { readProcessCpuSeconds } from './lib-process-cpu.js';
import { sampleProcessMemory } from './lib-process-memory.js';
import { histogramDelta, histogramQuantile, parseHistogram, type Histogram } from './lib-prometheus.js';
import { writeKubeconfig } from '../test/fixtures/kube/kubeconfig.js';
import { signalChild } from '../src/lib/signal-child.js';

const ROOT = resolve(import.meta.dirname, '..');
const OWN_BIN = join(ROOT, 'bin/graylane.js');
const BIN = process.env.BENCH_GRAYLANE_BIN ?? OWN_BIN;
const HISTOGRAM = 'graylane_reconcile_duration_seconds';
const MB = 1024 * 1024;

const GOAL = { size: 2000, p99Ms: 100, memoryMb: 300 } as const;
const BASELINE = 'Argo Rollouts: its docs cite a user with 1,290 Rollouts on one controller; no latency or memory figures published';

/** The figures of one size. */
interface SizeFigures {
  size: number;
  /** Workers asked for; null: the controller's default. */
  workers: number | null;
  /** Why the size stopped early (timeout, controller exit), or null when it ran through. */
  miss: string | null;
  firstAllHealthyS: number | null;
  convergeS: number | null;
  /** Time spent writing the N template changes (inside convergeS). */
  templateChangeWriteS: number | null;
  /** Rollouts converged when the size stopped. */
  convergedAtEnd: number;
  phasesAtEnd: Record<string, number>;
  reconcile: { passes: number; p50Ms: number; p99Ms: number; convergePasses: number; convergeP50Ms: number; convergeP99Ms: number; bucketsMs: number[] } | null;
  memory: { sampledPeakMb: number; kernelPeakMb: number; endMb: number };
  cpuSeconds: { controller: number | null; benchAndFake: number };
  fakeEventLoopDelayP99Ms: number;
  /** What the first few Rollouts that never converged show (when the size missed). */
  stuck: string[];
  /** Healthy claims the fake contradicts (first few). */
  verifyProblems: string[];
  objectsInFake: Record<string, number>;
}

function listFlag(args: readonly string[], name: string, fallback: number[]): number[] {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const values = (args[i + 1] ?? '').split(',').map(Number);
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v <= 0)) throw new Error(`--${name} needs whole numbers separated by commas, got "${args[i + 1] ?? ''}"`);
  return values;
}

function strategyFlag(args: readonly string[]): FleetStrategy {
  const i = args.indexOf('--strategy');
  if (i < 0) return 'mixed';
  const v = args[i + 1];
  if (v === 'mixed' || v === 'blue-green' || v === 'canary') return v;
  throw new Error(`--strategy is mixed, blue-green or canary, not "${v ?? ''}"`);
}

/** A free loopback port (listen on 0, close): the controller's flags need one up front. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function scrape(metricsAddr: string): Promise<Histogram> {
  const res = await fetch(`http://${metricsAddr}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return parseHistogram({ text: await res.text(), name: HISTOGRAM });
}

/** A controller child process. */
interface Controller {
  proc: ChildProcess;
  /** The last few kB it printed. */
  tail(): string;
  /** Why it exited, once it has. */
  exited(): string | undefined;
  stop(): Promise<void>;
}

/** The cores of `--pin`: the last for the controller, the rest for this process. */
export function pinnedCores(cores: number): { controller: string; bench: string } | undefined {
  if (cores < 2) return undefined;
  return { controller: String(cores - 1), bench: cores === 2 ? '0' : `0-${cores - 2}` };
}

function startController(options: { kubeconfig: string; healthAddr: string; metricsAddr: string; workers: number | undefined; core: string | undefined }): Controller {
  const nodeFlags = (process.env.BENCH_CONTROLLER_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const command = [process.execPath, ...nodeFlags, BIN, 'controller', '--kubeconfig', options.kubeconfig, '--all-namespaces',
    '--health-addr', options.healthAddr, '--metrics-addr', options.metricsAddr, ...(options.workers === undefined ? [] : ['--workers', String(options.workers)])];
  // taskset execs node in place: the pid (for memory and CPU figures) is the controller's.
  const [file, ...args] = options.core === undefined ? command : ['taskset', '-c', options.core, ...command];
  const proc = spawn(file!, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  // Only the tail is kept: 2,000 Rollouts log a lot, and the figures are about the controller's memory, not ours.
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-8192);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  let exit: string | undefined;
  const exited = new Promise<void>((r) => proc.once('exit', (code, signal) => {
    exit = signal ?? `code ${code}`;
    r();
  }));
  return {
    proc,
    tail: () => out,
    exited: () => exit,
    stop: async () => {
      if (exit !== undefined) return;
      signalChild(proc, 'SIGTERM');
      const killer = setTimeout(() => signalChild(proc, 'SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Waits until all Rollouts are converged; a reason string when it gave up instead. */
async function waitConverged(fleet: KubeFleet, controller: Controller, timeoutMs: number, what: string): Promise<string | null> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (fleet.converged() === fleet.members.length) return null;
    const exit = controller.exited();
    if (exit !== undefined) return `the controller exited (${exit}) before ${what}; its last output: ${controller.tail().trim().split('\n').slice(-3).join(' | ')}`;
    if (performance.now() > deadline) return `timed out after ${round(timeoutMs / 1000)} s waiting for ${what}: ${fleet.converged()}/${fleet.members.length} converged, phases ${JSON.stringify(fleet.phases())}`;
    await sleep(50);
  }
}

async function runSize(options: { size: number; workers: number | undefined; namespaces: number; strategy: FleetStrategy; podReadyMs: number; scaleDownDelaySeconds: number; timeoutS: number | undefined; controllerCore: string | undefined; log: (s: string) => void }): Promise<SizeFigures> {
  const { size, workers, log } = options;
  const timeoutMs = (options.timeoutS ?? 60 + 0.06 * size) * 1000;
  const dir = mkdtempSync(join(tmpdir(), 'graylane-bench-kube-'));
  const fleet = await KubeFleet.start({ size, namespaces: options.namespaces, strategy: options.strategy, podReadyMs: options.podReadyMs, scaleDownDelaySeconds: options.scaleDownDelaySeconds });
  const lag = monitorEventLoopDelay({ resolution: 10 });
  const cpuBefore = process.cpuUsage();
  let controller: Controller | undefined;
  let sampler: ReturnType<typeof sampleProcessMemory> | undefined;
  const figures: SizeFigures = {
    size, workers: workers ?? null, miss: null, firstAllHealthyS: null, convergeS: null, templateChangeWriteS: null, convergedAtEnd: 0, phasesAtEnd: {}, reconcile: null,
    memory: { sampledPeakMb: 0, kernelPeakMb: 0, endMb: 0 }, cpuSeconds: { controller: null, benchAndFake: 0 }, fakeEventLoopDelayP99Ms: 0, stuck: [], verifyProblems: [], objectsInFake: {},
  };
  try {
    fleet.fill();
    const kubeconfig = await writeKubeconfig({ server: fleet.server, dir });
    const healthAddr = `127.0.0.1:${await freePort()}`;
    const metricsAddr = `127.0.0.1:${await freePort()}`;
    lag.enable();
    const t0 = performance.now();
    controller = startController({ kubeconfig, healthAddr, metricsAddr, workers, core: options.controllerCore });
    sampler = sampleProcessMemory({ pid: controller.proc.pid!, everyMs: 250 });
    figures.miss = await waitConverged(fleet, controller, timeoutMs, `all ${size} Rollouts Healthy`);
    if (figures.miss === null) {
      figures.firstAllHealthyS = round((performance.now() - t0) / 1000, 2);
      log(`  ${size}: all Healthy after ${figures.firstAllHealthyS} s`);
      const before = await scrape(metricsAddr);
      const t1 = performance.now();
      fleet.changeTemplates();
      figures.templateChangeWriteS = round((performance.now() - t1) / 1000, 2);
      figures.miss = await waitConverged(fleet, controller, timeoutMs, `all ${size} Rollouts Healthy on the new template`);
      if (figures.miss === null) figures.convergeS = round((performance.now() - t1) / 1000, 2);
      const after = await scrape(metricsAddr);
      const phase = histogramDelta({ earlier: before, later: after });
      const ms = (h: Histogram, q: number) => round(histogramQuantile({ histogram: h, q }) * 1000, 1);
      figures.reconcile = {
        passes: after.count, p50Ms: ms(after, 0.5), p99Ms: ms(after, 0.99),
        convergePasses: phase.count, convergeP50Ms: ms(phase, 0.5), convergeP99Ms: ms(phase, 0.99),
        bucketsMs: after.upperBounds.filter(Number.isFinite).map((b) => round(b * 1000, 1)),
      };
      log(`  ${size}: ${figures.miss === null ? `converged after ${figures.convergeS} s` : figures.miss}`);
    } else {
      log(`  ${size}: ${figures.miss}`);
    }
    figures.cpuSeconds.controller = controller.exited() === undefined ? round(await readProcessCpuSeconds({ pid: controller.proc.pid! }), 2) : null;
    figures.convergedAtEnd = fleet.converged();
    figures.phasesAtEnd = fleet.phases();
    figures.verifyProblems = fleet.verify().slice(0, 5);
    if (figures.miss !== null) figures.stuck = fleet.stuck(3);
    figures.objectsInFake = fleet.objectCounts();
  } finally {
    lag.disable();
    await controller?.stop();
    if (sampler !== undefined) {
      await sampler.stop();
      const m = sampler.figures();
      figures.memory = { sampledPeakMb: round(m.sampledPeakRssBytes / MB), kernelPeakMb: round(m.kernelPeakRssBytes / MB), endMb: round(m.lastRssBytes / MB) };
    }
    const cpu = process.cpuUsage(cpuBefore);
    figures.cpuSeconds.benchAndFake = round((cpu.user + cpu.system) / 1e6, 2);
    figures.fakeEventLoopDelayP99Ms = round(lag.percentile(99) / 1e6, 1);
    await fleet.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}

function goalMet(f: SizeFigures): boolean {
  return f.miss === null && f.reconcile !== null && f.reconcile.p99Ms <= GOAL.p99Ms && Math.max(f.memory.sampledPeakMb, f.memory.kernelPeakMb) <= GOAL.memoryMb && f.verifyProblems.length === 0;
}

function printTable(all: SizeFigures[]): void {
  const cell = (v: number | null | undefined, unit = '') => (v === null || v === undefined || Number.isNaN(v) ? '—' : `${v}${unit}`);
  const rows = [
    ['Rollouts', 'first all-Healthy', 'converge', 'reconcile p50 / p99 (converge phase)', 'controller RSS peak / end', 'CPU ctrl / fake', 'fake lag p99', 'check'],
    ...all.map((f) => [
      String(f.size), cell(f.firstAllHealthyS, ' s'), f.miss === null ? cell(f.convergeS, ' s') : 'MISS',
      f.reconcile === null ? '—' : `${f.reconcile.p50Ms} / ${f.reconcile.p99Ms} ms (${f.reconcile.convergeP50Ms} / ${f.reconcile.convergeP99Ms})`,
      `${cell(Math.max(f.memory.sampledPeakMb, f.memory.kernelPeakMb))} / ${cell(f.memory.endMb)} MB`,
      `${cell(f.cpuSeconds.controller, ' s')} / ${cell(f.cpuSeconds.benchAndFake, ' s')}`, cell(f.fakeEventLoopDelayP99Ms, ' ms'),
      f.verifyProblems.length === 0 ? 'ok' : `${f.verifyProblems.length}+ wrong`,
    ]),
    [`goal: ${GOAL.size}`, '', '', `p99 ≤ ${GOAL.p99Ms} ms`, `≤ ${GOAL.memoryMb} MB`, '', '', ''],
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) console.log(r.map((v, c) => v.padEnd(widths[c]!)).join('  '));
  console.log(`baseline: ${BASELINE}`);
  for (const f of all) {
    if (f.miss !== null) console.log(`${f.size}: MISS: ${f.miss}`);
    for (const line of f.stuck) console.log(`${f.size}: not converged: ${line}`);
    for (const p of f.verifyProblems) console.log(`${f.size}: the fake contradicts a Healthy claim: ${p}`);
  }
  const at = all.find((f) => f.size === GOAL.size);
  console.log(at === undefined ? `goal not measured (no run at ${GOAL.size})` : `goal at ${GOAL.size}: ${goalMet(at) ? 'met' : 'NOT met'}`);
}

/** Runs the benchmark; see the file comment. */
export async function run(options: BenchOptions): Promise<Record<string, unknown>> {
  const { args } = options;
  const sizes = listFlag(args, 'sizes', [100, 1000, 2000]);
  // The controller's own default unless asked: the figures are of the controller as shipped.
  const workers = args.includes('--workers') ? numberFlag(args, 'workers', 4) : undefined;
  const namespaces = numberFlag(args, 'namespaces', 10);
  const podReadyMs = numberFlag(args, 'pod-ready-ms', 50);
  const scaleDownDelaySeconds = args.includes('--scale-down-delay-s') ? numberFlag(args, 'scale-down-delay-s', 0) : 0;
  const timeoutS = args.includes('--timeout-s') ? numberFlag(args, 'timeout-s', 0) : undefined;
  const strategy = strategyFlag(args);
  const pin = args.includes('--pin') ? pinnedCores(availableParallelism()) : undefined;
  if (args.includes('--pin') && pin === undefined) throw new Error('--pin needs at least 2 cores');
  if (pin !== undefined) {
    const self = spawnSync('taskset', ['-pc', pin.bench, String(process.pid)], { encoding: 'utf8' });
    if (self.status !== 0) throw new Error(`taskset could not pin this process to cores ${pin.bench}: ${self.stderr || self.error?.message || ''}`);
  }
  const log = (s: string) => (options.json ? console.error(s) : console.log(s));
  if (!args.includes('--skip-build') && BIN === OWN_BIN) {
    log('  building dist/ (npm run build) so that the controller runs the code of this tree…');
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`npm run build failed:\n${(build.stdout + build.stderr).slice(-2000)}`);
  }
  const all: SizeFigures[] = [];
  for (const size of sizes) {
    log(`  ${size} Rollouts (${strategy}, ${namespaces} namespaces, ${workers ?? 'the default number of'} workers)…`);
    all.push(await runSize({ size, workers, namespaces, strategy, podReadyMs, scaleDownDelaySeconds, timeoutS, controllerCore: pin?.controller, log }));
  }
  if (!options.json) {
    if (BIN !== OWN_BIN) console.log(`controller: ${BIN} (BENCH_GRAYLANE_BIN)`);
    console.log(pin === undefined ? 'cores: shared by the controller and the fake (no --pin)' : `cores: controller on ${pin.controller}, fake API server and kubelets on ${pin.bench} (--pin)`);
    printTable(all);
  }
  const at = all.find((f) => f.size === GOAL.size);
  return {
    settings: { controllerBin: BIN, pinned: pin ?? null, workers, namespaces, strategy, podReadyMs, scaleDownDelaySeconds, timeoutS: timeoutS ?? '60 + 0.06 × size' },
    sizes: all,
    goal: { rollouts: GOAL.size, reconcileP99Ms: `≤ ${GOAL.p99Ms}`, controllerMemoryMb: `≤ ${GOAL.memoryMb}` },
    baseline: BASELINE,
    met: at === undefined ? null : goalMet(at),
  };
}
