/**
 * `npm run bench -- memory [--json] [--services 10] [--rps 1000] [--duration-s 300] [--router-workers 2] [--every-s 5] [--client wrk|node]`
 * (`--router-workers 0`: the router in the daemon only)
 *
 * Resident memory of graylane itself (the daemon, plus the router supervisor and its workers when
 * there are any; never the app processes) with `--services` services of one instance each, held
 * at `--rps` requests/s in total spread evenly over them, for `--duration-s` seconds, side by side:
 * the router in the daemon (`spec.router.workers: 0`) and the router in a supervisor with `--router-workers`
 * workers. Sampled from /proc every `--every-s` seconds. Goal (issue 17): ≤ 150 MB together, and
 * flat: the mean of the last fifth of the run at most 10% above the mean of the second fifth (the
 * first fifth is warm-up: JIT, buffers, the stats windows filling). "Together" counts each page
 * once (anonymous memory summed, each mapped file once: what a container holding just these
 * processes is charged); the RSS of each process summed is printed beside it, and counts the node
 * binary's resident pages once per process; so is the anonymous memory of each process at the peak
 * (where the memory is). The CPU each spent over the run is printed too: the
 * daemon alone (not its apps), the supervisor and its workers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchOptions } from './main.js';
import { countFlag, failureReasons, makeAppDir, numberFlag, round, sleep, startDaemon, stopAll, waitSettledOn, writeAppFile } from './lib-daemon.js';
import { clientFlag, startLoad, type LoadClient } from './lib-load.js';
import { childPids, readProcessCpuSeconds, readProcessTreeCpuSeconds } from './lib-process-cpu.js';
import { pageOnceBytes, readMappedMemory, readProcessMemory, type MappedMemory } from './lib-process-memory.js';

const MB = 1024 * 1024;

interface Sample {
  atS: number;
  /** RSS of the daemon. */
  daemonMb: number;
  /** RSS of the router's processes summed. */
  routerMb: number;
  /** Every process above, each page once. */
  togetherMb: number;
  /** Anonymous memory of each process (its own pages): the daemon, the supervisor (0 without one), each worker. */
  anonMb: { daemon: number; supervisor: number; workers: number[] };
}

interface ModeFigures {
  mode: string;
  routerWorkers: number | undefined;
  /** Router processes sampled (the supervisor and its workers), 0 in the daemon mode. */
  routerProcesses: number;
  samples: Sample[];
  startMb: number;
  endMb: number;
  /** Highest sample, each page once (the goal's figure). */
  peakMb: number;
  /** Highest sample of the processes' RSS summed. */
  peakRssSumMb: number;
  /** Mean of the last fifth over the mean of the second fifth. */
  growth: number;
  requestsPerSecondHeld: number;
  /** CPU over the run, % of one core: the daemon alone (not its apps), the supervisor, its workers together. */
  cpuPercent: { daemon: number; supervisor: number; workers: number };
  failed: number;
  /** Why requests failed: error codes and 5xx statuses, with counts. */
  errors: Record<string, number>;
  met: { underBudget: boolean; flat: boolean };
}

/** Resident memory of `pid` and every descendant alive now: RSS summed, their mappings, how many processes. */
async function treeMemory(pid: number): Promise<{ rssBytes: number; mapped: MappedMemory[]; processes: number }> {
  let rssBytes = 0;
  const mapped: MappedMemory[] = [];
  const visit = async (p: number) => {
    try {
      const [rss, maps] = await Promise.all([readProcessMemory({ pid: p }), readMappedMemory({ pid: p })]);
      rssBytes += rss.rssBytes;
      mapped.push(maps);
    } catch {
      return; // gone between the listing and the read
    }
    for (const c of await childPids(p)) await visit(c);
  };
  await visit(pid);
  return { rssBytes, mapped, processes: mapped.length };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

async function runMode(options: { mode: string; routerWorkers: number | undefined; services: number; rps: number; durationS: number; everyS: number; client: LoadClient; log: (s: string) => void }): Promise<ModeFigures> {
  const dir = makeAppDir();
  const services = Array.from({ length: options.services }, (_, i) => ({ name: `s${i}`, pathPrefix: `/s${i}`, replicas: 1, env: { VERSION: 'v1' }, strategy: '      canary: {maxSurge: 1, maxUnavailable: 0}' }));
  writeAppFile(dir, services);
  try {
    const daemon = await startDaemon(dir, { routerWorkers: options.routerWorkers });
    for (const s of services) await waitSettledOn(daemon.api, s.name, 1, 1, 60_000);
    const supervisorPid = (): number | undefined => {
      const file = join(daemon.stateDir, 'router.json');
      return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid : undefined;
    };
    const load = startLoad({ client: options.client, origin: daemon.info.routerUrl, paths: services.map((s) => `${s.pathPrefix}/`), ratePerSecond: options.rps });
    const samples: Sample[] = [];
    let routerProcesses = 0;
    // Who spends the CPU of serving the load: the daemon alone (its apps are its children), the supervisor, the workers.
    const cpuNow = async () => {
      const sup = supervisorPid();
      const supervisor = sup === undefined ? 0 : await readProcessCpuSeconds({ pid: sup });
      return { daemon: await readProcessCpuSeconds({ pid: daemon.pid }), supervisor, workers: sup === undefined ? 0 : (await readProcessTreeCpuSeconds({ pid: sup })) - supervisor };
    };
    const cpu0 = await cpuNow();
    const t0 = performance.now();
    options.log(`  ${options.mode}: ${options.services} services at ${options.rps} requests/s for ${options.durationS} s…`);
    while (performance.now() - t0 < options.durationS * 1000) {
      await sleep(options.everyS * 1000);
      const [daemonRss, daemonMapped] = await Promise.all([readProcessMemory({ pid: daemon.pid }), readMappedMemory({ pid: daemon.pid })]);
      const sup = supervisorPid();
      const router = sup === undefined ? { rssBytes: 0, mapped: [], processes: 0 } : await treeMemory(sup);
      routerProcesses = Math.max(routerProcesses, router.processes);
      // treeMemory lists the supervisor first, then its children: the workers.
      const [supervisorMapped, ...workersMapped] = router.mapped;
      samples.push({
        atS: round((performance.now() - t0) / 1000),
        daemonMb: round(daemonRss.rssBytes / MB),
        routerMb: round(router.rssBytes / MB),
        togetherMb: round(pageOnceBytes([daemonMapped, ...router.mapped]) / MB),
        anonMb: { daemon: round(daemonMapped.anonBytes / MB), supervisor: round((supervisorMapped?.anonBytes ?? 0) / MB), workers: workersMapped.map((m) => round(m.anonBytes / MB)) },
      });
    }
    const cpu1 = await cpuNow();
    const elapsedS = (performance.now() - t0) / 1000;
    const percent = (k: keyof typeof cpu0) => round(((cpu1[k] - cpu0[k]) / elapsedS) * 100, 2);
    const { log, dropped, socketErrors } = await load.stop();
    const sent = log.sentMs.length;
    const reasons = failureReasons(log);
    const failedCount = dropped + socketErrors + Object.values(reasons).reduce((a, b) => a + b, 0);
    const errors: Record<string, number> = {};
    if (dropped > 0) errors['not sent (too many in flight)'] = dropped;
    if (socketErrors > 0) errors['socket errors (wrk)'] = socketErrors;
    Object.assign(errors, reasons);
    const total = samples.map((s) => s.togetherMb);
    const fifth = Math.max(1, Math.floor(total.length / 5));
    const growth = mean(total.slice(-fifth)) / mean(total.slice(fifth, 2 * fifth));
    const figures: ModeFigures = {
      mode: options.mode,
      routerWorkers: options.routerWorkers,
      routerProcesses,
      samples,
      startMb: round(total[0] ?? 0),
      endMb: round(total.at(-1) ?? 0),
      peakMb: round(Math.max(...total)),
      peakRssSumMb: round(Math.max(...samples.map((s) => s.daemonMb + s.routerMb))),
      growth: round(growth, 3),
      requestsPerSecondHeld: round(sent / elapsedS),
      cpuPercent: { daemon: percent('daemon'), supervisor: percent('supervisor'), workers: percent('workers') },
      failed: failedCount,
      errors,
      met: { underBudget: Math.max(...total) <= 150, flat: growth <= 1.1 },
    };
    return figures;
  } finally {
    await stopAll();
  }
}

/** The anonymous memory of each process in the sample where all of them together peaked: where the memory is. */
function anonAtPeak(figures: ModeFigures): string {
  const peak = figures.samples.reduce<Sample | undefined>((best, s) => (best === undefined || s.togetherMb > best.togetherMb ? s : best), undefined);
  if (peak === undefined) return '-';
  const { daemon, supervisor, workers } = peak.anonMb;
  return figures.routerWorkers === undefined ? String(daemon) : [daemon, supervisor, workers.join(' + ') || '-'].join(' / ');
}

export async function run(options: BenchOptions): Promise<Record<string, unknown>> {
  const services = numberFlag(options.args, 'services', 10);
  const rps = numberFlag(options.args, 'rps', 1000);
  const durationS = numberFlag(options.args, 'duration-s', 300);
  const everyS = numberFlag(options.args, 'every-s', 5);
  const routerWorkers = countFlag(options.args, 'router-workers', 2);
  const log = (s: string) => {
    if (!options.json) console.log(s);
  };
  const client = clientFlag(options.args);
  const common = { services, rps, durationS, everyS, client, log };
  const rows = [await runMode({ ...common, mode: 'router in the daemon', routerWorkers: undefined })];
  if (routerWorkers > 0) rows.push(await runMode({ ...common, mode: `supervisor, ${routerWorkers} workers`, routerWorkers }));
  if (!options.json) {
    const width = [56, ...rows.map((r) => Math.max(30, r.mode.length + 2))];
    const line = (cells: string[]) => console.log(`  ${cells.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('')}`);
    console.log(`\n  resident memory of graylane (daemon + router processes, not the apps), ${services} services, ${rps} requests/s from ${client === 'wrk' ? 'wrk' : 'this process (undici)'}, ${durationS} s`);
    line(['', ...rows.map((r) => r.mode)]);
    line(['requests/s held', ...rows.map((r) => String(r.requestsPerSecondHeld))]);
    line(['failed requests', ...rows.map((r) => String(r.failed))]);
    line(['CPU, % of a core: daemon / supervisor / workers', ...rows.map((r) => `${r.cpuPercent.daemon} / ${r.cpuPercent.supervisor} / ${r.cpuPercent.workers}`)]);
    line(['router processes', ...rows.map((r) => String(r.routerProcesses))]);
    line(['daemon MB, first → last sample', ...rows.map((r) => `${r.samples[0]?.daemonMb ?? '-'} → ${r.samples.at(-1)?.daemonMb ?? '-'}`)]);
    line(['router MB, first → last sample', ...rows.map((r) => `${r.samples[0]?.routerMb ?? '-'} → ${r.samples.at(-1)?.routerMb ?? '-'}`)]);
    line(['RSS summed MB, peak', ...rows.map((r) => String(r.peakRssSumMb))]);
    line(['together MB, each page once, first → last', ...rows.map((r) => `${r.startMb} → ${r.endMb}`)]);
    line(['together MB, each page once, peak (goal ≤ 150)', ...rows.map((r) => String(r.peakMb))]);
    line(['  anonymous at the peak: daemon / supervisor / workers', ...rows.map((r) => anonAtPeak(r))]);
    line(['  goal met', ...rows.map((r) => (r.met.underBudget ? 'pass' : 'FAIL'))]);
    line(['last fifth / second fifth (≤ 1.1)', ...rows.map((r) => r.growth.toFixed(3))]);
    line(['  flat', ...rows.map((r) => (r.met.flat ? 'pass' : 'FAIL'))]);
    for (const r of rows) if (r.failed > 0) console.log(`  ${r.mode} failures: ${Object.entries(r.errors).map(([k, v]) => `${k} ×${v}`).join(', ')}`);
  }
  return { services, ratePerSecond: rps, client, durationSeconds: durationS, modes: rows, goals: { togetherMb: '≤ 150', growth: '≤ 1.1 (flat)' } };
}
