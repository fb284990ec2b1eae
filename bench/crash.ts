/**
 * `npm run bench -- crash [--json] [--rps 300] [--router-workers 2] [--down-s 3] [--stall-s 3] [--client wrk|node]`
 *
 * A control-plane crash under load, side by side: the router in the daemon's process
 * (`spec.router.workers: 0`), the router in its own supervisor with `--router-workers` workers, and
 * a managed nginx with as many workers (`spec.router.type: nginx`). For each, a real
 * `graylane up` (from dist/) runs the e2e fixture app with 2 replicas; wrk holds keep-alive load
 * at `--rps` on the router (lib-load.ts), then the daemon gets `kill -9`, stays dead for
 * `--down-s` seconds, and a second `graylane up` on the same state dir and address starts and
 * re-adopts what runs (the supervisor, or nginx). Failed requests are counted by phase: before the
 * kill, while the daemon is dead, and from the restart on. Goal (issue 17): 0 failed requests with
 * the supervisor and with nginx.
 * Then one router worker gets `kill -9` under the same load: the requests it held are the only
 * ones lost (at most one per wrk connection it had), counted, with the time to its replacement.
 * Then the data plane's parent (the router supervisor; nginx's master) gets `kill -9` with the
 * daemon running: the requests its workers held are lost, and the daemon starts another; counted
 * with the time to it. Last, the daemon is stopped (`SIGSTOP`) for `--stall-s` seconds and
 * continued, under the same load: a stall rather than a crash. Goal: 0 failed requests.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchOptions } from './main.js';
import { freePort } from './lib-router-processes.js';
import { recordedSupervisorPid, supervisorChildren } from '../test/fixtures/router/supervisor-children.js';
import { failed, failureReasons, makeAppDir, numberFlag, round, sentBetween, sleep, startDaemon, stopAll, waitSettledOn, writeAppFile, type BenchDaemon } from './lib-daemon.js';
import { clientFlag, startLoad, type Load, type LoadClient } from './lib-load.js';

const REPLICAS = 2;

interface ModeFigures {
  mode: string;
  routerWorkers: number | undefined;
  /** The router inside the daemon: it dies with it, shown for comparison. */
  baseline: boolean;
  sent: number;
  failedBefore: number;
  failedWhileDown: number;
  failedAfterRestart: number;
  dropped: number;
  /** wrk's socket errors: with the router down, each refused connection (wrk reconnects at once, sending nothing). */
  socketErrors: number;
  /** Why requests failed, by error code, over the whole run. */
  errors: Record<string, number>;
  /** Instances the second daemon re-adopted (from its banner). */
  readopted: number;
  /** The second daemon adopted the data plane the first left serving (supervisor or nginx; from its banner). */
  dataPlaneAdopted: boolean;
  /** Kill → the second daemon's API answering, s. */
  downSeconds: number;
  met: boolean;
}


async function runMode(options: { mode: string; routerWorkers: number | undefined; router?: string; rps: number; downS: number; client: LoadClient; log: (s: string) => void }): Promise<ModeFigures> {
  const dir = makeAppDir();
  writeAppFile(dir, [{ name: 'app', pathPrefix: '/', replicas: REPLICAS, env: { VERSION: 'v1' }, strategy: '      canary: {maxSurge: 1, maxUnavailable: 0}' }], { ...(options.router !== undefined && { router: options.router }) });
  const listen = `127.0.0.1:${await freePort()}`;
  try {
    const first = await startDaemon(dir, { routerWorkers: options.routerWorkers, listen });
    await waitSettledOn(first.api, 'app', 1, REPLICAS, 30_000);
    const load = startLoad({ client: options.client, origin: `http://${listen}`, paths: ['/'], ratePerSecond: options.rps, timeoutMs: 10_000 });
    await sleep(2000);
    const killAt = performance.now();
    options.log(`  ${options.mode}: kill -9 of the daemon (pid ${first.pid}) under ${options.rps} requests/s…`);
    await first.crash();
    await sleep(options.downS * 1000);
    const second = await startDaemon(dir, { routerWorkers: options.routerWorkers, listen });
    await second.api.get('app');
    const upAt = performance.now();
    await sleep(2000);
    const { log, dropped, socketErrors } = await load.stop();
    const readopted = Number(/re-adopted (\d+) running instance/.exec(second.output())?.[1] ?? 0);
    const count = (from: number, to: number) => sentBetween(log, from, to).filter((i) => failed(log, i)).length;
    const errors = failureReasons(log);
    const figures: ModeFigures = {
      mode: options.mode,
      routerWorkers: options.routerWorkers,
      baseline: options.routerWorkers === undefined && options.router === undefined,
      sent: log.sentMs.length,
      failedBefore: count(0, killAt),
      failedWhileDown: count(killAt, upAt),
      failedAfterRestart: count(upAt, Infinity),
      dropped,
      socketErrors,
      errors,
      readopted,
      dataPlaneAdopted: second.output().includes('adopted from an earlier daemon'),
      downSeconds: round((upAt - killAt) / 1000, 2),
      met: false,
    };
    figures.met = (figures.baseline || figures.dataPlaneAdopted) && figures.failedBefore + figures.failedWhileDown + figures.failedAfterRestart === 0 && figures.dropped === 0 && figures.socketErrors === 0;
    options.log(`  ${options.mode}: ${figures.sent} requests, ${figures.failedWhileDown} failed while the daemon was dead`);
    return figures;
  } finally {
    // The second daemon's Ctrl-C stops the apps it re-adopted and the supervisor with them.
    await stopAll();
  }
}

interface WorkerKillFigures {
  workers: number;
  sent: number;
  /** Requests that failed, all sent before the replacement listened (the dead worker's). */
  failed: number;
  /** Of those, sent after the kill: a connection the dead worker held, retried by nothing. */
  failedAfterKill: number;
  /** Kill → the supervisor has forked the replacement, ms (polled every 5 ms). */
  killToReplacementMs: number | undefined;
  errors: Record<string, number>;
}

/** The worker pids of the supervisor recorded in `stateDir`. */
function workerPids(stateDir: string): number[] {
  return supervisorChildren(recordedSupervisorPid(stateDir)).workers;
}

/**
 * `kill -9` of one router worker under load (issue 17: "the requests it held are the only ones
 * lost, and the bench counts them"): failed requests, and kill → replacement forked.
 */
/** A daemon with its router in a supervisor (or `router`: a managed nginx), the app settled, under load for 2 s. */
async function supervisorUnderLoad(options: { routerWorkers: number; rps: number; client: LoadClient; router?: string }): Promise<{ daemon: BenchDaemon; load: Load }> {
  const dir = makeAppDir();
  writeAppFile(dir, [{ name: 'app', pathPrefix: '/', replicas: REPLICAS, env: { VERSION: 'v1' }, strategy: '      canary: {maxSurge: 1, maxUnavailable: 0}' }], { ...(options.router !== undefined && { router: options.router }) });
  const daemon = await startDaemon(dir, { routerWorkers: options.router === undefined ? options.routerWorkers : 0 });
  await waitSettledOn(daemon.api, 'app', 1, REPLICAS, 30_000);
  const load = startLoad({ client: options.client, origin: daemon.info.routerUrl, paths: ['/'], ratePerSecond: options.rps, timeoutMs: 10_000 });
  await sleep(2000);
  return { daemon, load };
}

async function runWorkerKill(options: { routerWorkers: number; rps: number; client: LoadClient; log: (s: string) => void }): Promise<WorkerKillFigures> {
  try {
    const { daemon, load } = await supervisorUnderLoad(options);
    const before = workerPids(daemon.stateDir);
    const victim = before[0]!;
    options.log(`  supervisor, ${options.routerWorkers} workers: kill -9 of worker ${victim} under ${options.rps} requests/s…`);
    const killAt = performance.now();
    process.kill(victim, 'SIGKILL');
    let replacedAt: number | undefined;
    while (performance.now() - killAt < 5000) {
      const now = workerPids(daemon.stateDir);
      if (now.length === before.length && !now.includes(victim)) {
        replacedAt = performance.now();
        break;
      }
      await sleep(5);
    }
    await sleep(3000);
    const { log } = await load.stop();
    const failedIdx = [];
    for (let i = 0; i < log.sentMs.length; i++) if (failed(log, i)) failedIdx.push(i);
    const errors = failureReasons(log);
    const figures: WorkerKillFigures = {
      workers: options.routerWorkers,
      sent: log.sentMs.length,
      failed: failedIdx.length,
      failedAfterKill: failedIdx.filter((i) => log.sentMs[i]! >= killAt).length,
      killToReplacementMs: replacedAt === undefined ? undefined : round(replacedAt - killAt, 1),
      errors,
    };
    options.log(`  worker kill: ${figures.sent} requests, ${figures.failed} failed`);
    return figures;
  } finally {
    await stopAll();
  }
}

interface PlaneKillFigures {
  /** What was killed: the router supervisor, or nginx's master. */
  what: string;
  sent: number;
  failed: number;
  /** wrk's refused connects while nothing listened (it reconnects at once, sending nothing). */
  socketErrors: number;
  /** Kill → another one recorded in the state dir, ms (polled every 5 ms). */
  killToStartedMs: number | undefined;
  /** Kill → the first request after which every request succeeded, ms. */
  killToServingMs: number | undefined;
  errors: Record<string, number>;
}

/**
 * `kill -9` of the data plane's parent process under load, the daemon running: the router
 * supervisor (its workers end with it) or nginx's master (graylane stops the workers it leaves).
 * The daemon starts another on the same address with the routes in force; counted: failed
 * requests, kill → started, kill → serving again.
 */
async function runPlaneKill(options: { kind: 'supervisor' | 'nginx'; routerWorkers: number; rps: number; client: LoadClient; log: (s: string) => void }): Promise<PlaneKillFigures> {
  try {
    const nginx = options.kind === 'nginx';
    const { daemon, load } = await supervisorUnderLoad({ ...options, ...(nginx && { router: `{type: nginx, workers: ${options.routerWorkers}}` }) });
    const pidOf = () => {
      try {
        return nginx ? Number(readFileSync(join(daemon.stateDir, 'nginx', 'nginx.pid'), 'utf8').trim()) : recordedSupervisorPid(daemon.stateDir);
      } catch {
        return undefined;
      }
    };
    const victim = pidOf()!;
    const what = nginx ? `nginx's master, ${options.routerWorkers} workers` : `the router supervisor, ${options.routerWorkers} workers`;
    options.log(`  kill -9 of ${what} (pid ${victim}) under ${options.rps} requests/s…`);
    const killAt = performance.now();
    process.kill(victim, 'SIGKILL');
    let startedAt: number | undefined;
    while (performance.now() - killAt < 20_000) {
      const now = pidOf();
      if (now !== undefined && now !== victim) {
        startedAt = performance.now();
        break;
      }
      await sleep(5);
    }
    await sleep(3000);
    const { log, socketErrors } = await load.stop();
    let lastFailedSent: number | undefined;
    let failedCount = 0;
    for (let i = 0; i < log.sentMs.length; i++) {
      if (!failed(log, i)) continue;
      failedCount++;
      lastFailedSent = Math.max(lastFailedSent ?? 0, log.sentMs[i]!);
    }
    const figures: PlaneKillFigures = {
      what,
      sent: log.sentMs.length,
      failed: failedCount,
      socketErrors,
      killToStartedMs: startedAt === undefined ? undefined : round(startedAt - killAt, 1),
      killToServingMs: lastFailedSent === undefined ? 0 : round(Math.max(0, lastFailedSent - killAt), 1),
      errors: failureReasons(log),
    };
    options.log(`  ${what} kill: ${figures.sent} requests, ${figures.failed} failed`);
    return figures;
  } finally {
    await stopAll();
  }
}

interface StallFigures {
  sent: number;
  /** Failed requests sent before the stop, while the daemon was stopped, after it went on. */
  failedBefore: number;
  failedWhileStopped: number;
  failedAfter: number;
  errors: Record<string, number>;
}

/**
 * The daemon stopped (`SIGSTOP`) for `stallS` seconds under load, then continued: a stall of the
 * control plane (a long garbage collection, a paused VM, a debugger) rather than a crash. The data
 * plane keeps serving; when the daemon wakes, the probe deadlines that ran out while it slept must
 * not take ready instances out of the routes (src/runtime/stall-tolerant-deadline.ts).
 */
async function runStall(options: { routerWorkers: number; rps: number; stallS: number; client: LoadClient; log: (s: string) => void }): Promise<StallFigures> {
  try {
    const { daemon, load } = await supervisorUnderLoad(options);
    options.log(`  supervisor, ${options.routerWorkers} workers: SIGSTOP of the daemon (pid ${daemon.pid}) for ${options.stallS} s under ${options.rps} requests/s…`);
    const stopAt = performance.now();
    process.kill(daemon.pid, 'SIGSTOP');
    await sleep(options.stallS * 1000);
    process.kill(daemon.pid, 'SIGCONT');
    const contAt = performance.now();
    await sleep(3000);
    const { log } = await load.stop();
    const count = (from: number, to: number) => sentBetween(log, from, to).filter((i) => failed(log, i)).length;
    const figures: StallFigures = { sent: log.sentMs.length, failedBefore: count(0, stopAt), failedWhileStopped: count(stopAt, contAt), failedAfter: count(contAt, Infinity), errors: failureReasons(log) };
    options.log(`  daemon stall: ${figures.sent} requests, ${figures.failedBefore + figures.failedWhileStopped + figures.failedAfter} failed`);
    return figures;
  } finally {
    await stopAll();
  }
}

export async function run(options: BenchOptions): Promise<Record<string, unknown>> {
  const rps = numberFlag(options.args, 'rps', 300);
  const routerWorkers = numberFlag(options.args, 'router-workers', 2);
  const downS = numberFlag(options.args, 'down-s', 3);
  const client = clientFlag(options.args);
  const log = (s: string) => {
    if (!options.json) console.log(s);
  };
  const rows = [
    await runMode({ mode: 'router in the daemon', routerWorkers: undefined, rps, downS, client, log }),
    await runMode({ mode: `supervisor, ${routerWorkers} workers`, routerWorkers, rps, downS, client, log }),
    await runMode({ mode: `nginx, ${routerWorkers} workers`, routerWorkers: undefined, router: `{type: nginx, workers: ${routerWorkers}}`, rps, downS, client, log }),
  ];
  const workerKill = await runWorkerKill({ routerWorkers, rps, client, log });
  const planeKills = [
    await runPlaneKill({ kind: 'supervisor', routerWorkers, rps, client, log }),
    await runPlaneKill({ kind: 'nginx', routerWorkers, rps, client, log }),
  ];
  const stallS = numberFlag(options.args, 'stall-s', 3);
  const stall = await runStall({ routerWorkers, rps, stallS, client, log });
  if (!options.json) {
    const width = [34, ...rows.map((r) => Math.max(24, r.mode.length + 2))];
    const line = (cells: string[]) => console.log(`  ${cells.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('')}`);
    console.log(`\n  kill -9 of the daemon under ${rps} requests/s keep-alive load from ${client === 'wrk' ? 'wrk' : 'this process (undici)'}, dead for ${downS} s, then restarted on the same address`);
    line(['', ...rows.map((r) => r.mode)]);
    line(['requests sent', ...rows.map((r) => String(r.sent))]);
    line(['failed before the kill', ...rows.map((r) => String(r.failedBefore))]);
    line(['failed while the daemon was dead', ...rows.map((r) => String(r.failedWhileDown))]);
    line(['failed after the restart', ...rows.map((r) => String(r.failedAfterRestart))]);
    line(['not sent (too many in flight)', ...rows.map((r) => String(r.dropped))]);
    line(['socket errors (wrk; refused connects)', ...rows.map((r) => String(r.socketErrors))]);
    line(['kill → API answering again, s', ...rows.map((r) => String(r.downSeconds))]);
    line(['instances re-adopted', ...rows.map((r) => String(r.readopted))]);
    line(['data plane adopted', ...rows.map((r) => (r.baseline ? '-' : r.dataPlaneAdopted ? 'yes' : 'NO'))]);
    line(['goal: 0 failed (supervisor, nginx)', ...rows.map((r) => (r.baseline ? 'baseline' : r.met ? 'pass' : 'FAIL'))]);
    for (const r of rows) if (Object.keys(r.errors).length > 0) console.log(`  ${r.mode} errors: ${Object.entries(r.errors).map(([k, v]) => `${k} ×${v}`).join(', ')}`);
    const connections = client === 'wrk' ? 16 : undefined;
    console.log(`\n  kill -9 of one of ${routerWorkers} router workers under ${rps} requests/s: ${workerKill.failed} of ${workerKill.sent} requests failed (${workerKill.failedAfterKill} of them sent after the kill, on connections the dead worker held)${connections ? `; at most ${connections} could have been on it (one per wrk connection)` : ''}`);
    console.log(`  kill → replacement worker forked: ${workerKill.killToReplacementMs ?? 'not within 5 s'} ms${Object.keys(workerKill.errors).length > 0 ? `; errors: ${Object.entries(workerKill.errors).map(([k, v]) => `${k} ×${v}`).join(', ')}` : ''}`);
    console.log(`\n  kill -9 of the data plane's parent under ${rps} requests/s, the daemon running (it starts another on the same address with the routes in force):`);
    for (const k of planeKills) {
      const errors = Object.keys(k.errors).length > 0 ? `; errors: ${Object.entries(k.errors).map(([e, n]) => `${e} ×${n}`).join(', ')}` : '';
      console.log(`  ${k.what}: ${k.failed} of ${k.sent} requests failed, ${k.socketErrors} refused connects; kill → another started ${k.killToStartedMs ?? 'not within 20 s'} ms, → last failed request sent ${k.killToServingMs ?? '-'} ms${errors}`);
    }
    const stalled = stall.failedBefore + stall.failedWhileStopped + stall.failedAfter;
    console.log(`\n  the daemon stopped (SIGSTOP) for ${stallS} s under ${rps} requests/s, supervisor with ${routerWorkers} workers: ${stalled} of ${stall.sent} requests failed (${stall.failedBefore} before, ${stall.failedWhileStopped} while stopped, ${stall.failedAfter} after it went on)${stalled > 0 ? `; errors: ${Object.entries(stall.errors).map(([k, v]) => `${k} ×${v}`).join(', ')}` : ''}; goal 0: ${stalled === 0 ? 'pass' : 'FAIL'}`);
  }
  return { ratePerSecond: rps, client, downSeconds: downS, replicas: REPLICAS, modes: rows, workerKill, planeKills, stall: { seconds: stallS, ...stall }, goal: '0 failed requests with the supervisor and with a managed nginx, through a daemon crash or stall; a worker kill loses only what that worker held' };
}
