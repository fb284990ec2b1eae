/**
 * `npm run bench -- crash [--json] [--rps 300] [--router-workers 2] [--down-s 3] [--client wrk|node]`
 *
 * A control-plane crash under load, side by side: the router in the daemon's process (the
 * default) and the router in its own supervisor with `--router-workers` workers. For each, a real
 * `graylane up` (from dist/) runs the e2e fixture app with 2 replicas; wrk holds keep-alive load
 * at `--rps` on the router (lib-load.ts), then the daemon gets `kill -9`, stays dead for
 * `--down-s` seconds, and a second `graylane up` on the same state dir and address starts and
 * re-adopts what runs. Failed requests are counted by phase: before the kill, while the daemon is
 * dead, and from the restart on. Goal (issue 17): 0 failed requests with the supervisor.
 */
import type { BenchOptions } from './main.js';
import { freePort } from './lib-router-processes.js';
import { failed, makeAppDir, numberFlag, round, sentBetween, sleep, startDaemon, stopAll, waitSettledOn, writeAppFile } from './lib-daemon.js';
import { clientFlag, startLoad, type LoadClient } from './lib-load.js';

const REPLICAS = 2;

interface ModeFigures {
  mode: string;
  routerWorkers: number | undefined;
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
  /** Kill → the second daemon's API answering, s. */
  downSeconds: number;
  met: boolean;
}


async function runMode(options: { mode: string; routerWorkers: number | undefined; rps: number; downS: number; client: LoadClient; log: (s: string) => void }): Promise<ModeFigures> {
  const dir = makeAppDir();
  writeAppFile(dir, [{ name: 'app', pathPrefix: '/', replicas: REPLICAS, env: { VERSION: 'v1' }, strategy: '      canary: {maxSurge: 1, maxUnavailable: 0}' }]);
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
    const errors: Record<string, number> = {};
    for (const [, why] of log.errors) errors[why] = (errors[why] ?? 0) + 1;
    for (let i = 0; i < log.status.length; i++) if (log.status[i]! >= 500) errors[`HTTP ${log.status[i]}`] = (errors[`HTTP ${log.status[i]}`] ?? 0) + 1;
    const figures: ModeFigures = {
      mode: options.mode,
      routerWorkers: options.routerWorkers,
      sent: log.sentMs.length,
      failedBefore: count(0, killAt),
      failedWhileDown: count(killAt, upAt),
      failedAfterRestart: count(upAt, Infinity),
      dropped,
      socketErrors,
      errors,
      readopted,
      downSeconds: round((upAt - killAt) / 1000, 2),
      met: false,
    };
    figures.met = figures.failedBefore + figures.failedWhileDown + figures.failedAfterRestart === 0 && figures.dropped === 0 && figures.socketErrors === 0;
    options.log(`  ${options.mode}: ${figures.sent} requests, ${figures.failedWhileDown} failed while the daemon was dead`);
    return figures;
  } finally {
    // The second daemon's Ctrl-C stops the apps it re-adopted and the supervisor with them.
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
  ];
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
    line(['goal: 0 failed (the supervisor)', ...rows.map((r) => (r.routerWorkers === undefined ? 'baseline' : r.met ? 'pass' : 'FAIL'))]);
    for (const r of rows) if (Object.keys(r.errors).length > 0) console.log(`  ${r.mode} errors: ${Object.entries(r.errors).map(([k, v]) => `${k} ×${v}`).join(', ')}`);
  }
  return { ratePerSecond: rps, client, downSeconds: downS, replicas: REPLICAS, modes: rows, goal: '0 failed requests with the supervisor' };
}
