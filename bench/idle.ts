/**
 * `npm run bench -- idle [--json] [--seconds 10] [--router-workers 2]`
 *
 * What graylane costs while nothing happens: a real `graylane up` (from dist/) runs one service of
 * one replica of the e2e fixture app, no traffic, and the CPU its processes use over `--seconds`
 * is read from `/proc/PID/stat`: the daemon, and the router supervisor and its workers. Side by
 * side, the router in the daemon (`spec.router.workers: 0`) and in a supervisor with
 * `--router-workers` workers (the default is one per core). The app's own CPU is not counted; the
 * daemon's includes its readiness probes (every 0.2 s in this App, as in the e2e tests).
 */
import type { BenchOptions } from './main.js';
import { readProcessCpuSeconds } from './lib-process-cpu.js';
import { recordedSupervisorPid, supervisorChildren } from '../test/fixtures/router/supervisor-children.js';
import { makeAppDir, numberFlag, round, sleep, startDaemon, stopAll, waitSettledOn, writeAppFile } from './lib-daemon.js';

interface IdleRow {
  mode: string;
  /** CPU as a percentage of one core, by process. */
  daemonPercent: number;
  supervisorPercent: number | undefined;
  workerPercents: number[];
  totalPercent: number;
}

/** The supervisor's pid and its workers', when the daemon of `stateDir` runs one. */
function routerPids(stateDir: string): { supervisor: number; workers: number[] } | undefined {
  let pid: number;
  try {
    pid = recordedSupervisorPid(stateDir);
  } catch {
    return undefined;
  }
  return { supervisor: pid, ...supervisorChildren(pid) };
}

async function runMode(options: { mode: string; routerWorkers: number | undefined; seconds: number; log: (s: string) => void }): Promise<IdleRow> {
  const dir = makeAppDir();
  writeAppFile(dir, [{ name: 'app', pathPrefix: '/', replicas: 1, env: { VERSION: 'v1' }, strategy: '      canary: {maxSurge: 1, maxUnavailable: 0}' }]);
  try {
    const daemon = await startDaemon(dir, { routerWorkers: options.routerWorkers });
    await waitSettledOn(daemon.api, 'app', 1, 1, 30_000);
    // Start-up is over: code compiled, first reports sent.
    await sleep(3000);
    const router = routerPids(daemon.stateDir);
    const pids = [daemon.pid, ...(router ? [router.supervisor, ...router.workers] : [])];
    options.log(`  ${options.mode}: ${options.seconds} s idle…`);
    const before = await Promise.all(pids.map((pid) => readProcessCpuSeconds({ pid })));
    const startMs = performance.now();
    await sleep(options.seconds * 1000);
    const after = await Promise.all(pids.map((pid) => readProcessCpuSeconds({ pid })));
    const elapsedS = (performance.now() - startMs) / 1000;
    const percent = (i: number) => round(((after[i]! - before[i]!) / elapsedS) * 100, 2);
    const all = pids.map((_, i) => percent(i));
    return {
      mode: options.mode,
      daemonPercent: all[0]!,
      supervisorPercent: router ? all[1] : undefined,
      workerPercents: router ? all.slice(2, 2 + router.workers.length) : [],
      totalPercent: round(all.reduce((a, b) => a + b, 0), 2),
    };
  } finally {
    await stopAll();
  }
}

export async function run(options: BenchOptions): Promise<Record<string, unknown>> {
  const seconds = numberFlag(options.args, 'seconds', 10);
  const routerWorkers = numberFlag(options.args, 'router-workers', 2);
  const log = (s: string) => {
    if (!options.json) console.log(s);
  };
  const rows = [
    await runMode({ mode: 'router in the daemon', routerWorkers: undefined, seconds, log }),
    await runMode({ mode: `supervisor, ${routerWorkers} workers`, routerWorkers, seconds, log }),
  ];
  if (!options.json) {
    const width = [22, ...rows.map((r) => Math.max(24, r.mode.length + 2))];
    const line = (cells: string[]) => console.log(`  ${cells.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('')}`);
    console.log(`\n  CPU of graylane's processes while idle (one service, one replica, no traffic), % of one core over ${seconds} s (10 ms ticks)`);
    line(['', ...rows.map((r) => r.mode)]);
    line(['daemon', ...rows.map((r) => r.daemonPercent.toFixed(2))]);
    line(['router supervisor', ...rows.map((r) => (r.supervisorPercent === undefined ? '-' : r.supervisorPercent.toFixed(2)))]);
    line(['router workers', ...rows.map((r) => (r.workerPercents.length === 0 ? '-' : r.workerPercents.map((p) => p.toFixed(2)).join(' + ')))]);
    line(['all', ...rows.map((r) => r.totalPercent.toFixed(2))]);
  }
  return { seconds, modes: rows };
}
