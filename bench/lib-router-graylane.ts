/**
 * Benchmark proxy, run as its own process, in front of one upstream address (argv[2]):
 * - no flag: graylane's built-in router in this process (one event loop and the heap settings, as
 *   the daemon runs it);
 * - `--workers N`: the router supervisor with N worker processes (`spec.router.workers`), children
 *   of this process so the bench counts their CPU;
 * - `--nginx`: graylane-managed nginx with one worker, its buffered access log file read back by
 *   this process (that reading is part of what managed nginx costs, so it is counted too).
 * Prints `{"url":...}` on stdout once serving; stops on SIGTERM (so `--cpu-prof` profiles get
 * written).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RouteTable } from '../src/router/contract/route-table.js';
import { createRouter } from '../src/router/index.js';
import { freePort } from './lib-router-processes.js';

const address = process.argv[2];
if (!address) throw new Error('usage: lib-router-graylane.ts HOST:PORT [--workers N | --nginx]');
const workersAt = process.argv.indexOf('--workers');
const workers = workersAt > 0 ? Number(process.argv[workersAt + 1]) : undefined;
if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1)) throw new Error('--workers needs a whole number ≥ 1');
const nginx = process.argv.includes('--nginx');

const table: RouteTable = {
  services: [{ name: 'bench', pathPrefix: '/', stable: 'v1', canaryWeight: 0, revisions: { v1: { instances: [{ id: 'u1', address, ready: true }] } } }],
};


let url: string;
let stop: () => Promise<void>;
if (workers !== undefined) {
  // Imported only here: the in-process row must not load the supervisor's code.
  const { startSupervisedRouter } = await import('../src/router/control/supervisor/supervisor-control.js');
  const stateDir = mkdtempSync(join(tmpdir(), 'graylane-bench-sup-'));
  const router = await startSupervisedRouter({ stateDir, workers, router: { listen: { host: '127.0.0.1', port: 0 } } });
  await router.applyTable(table);
  url = router.url;
  stop = async () => {
    await router.stop({ drainTimeoutMs: 100 });
    rmSync(stateDir, { recursive: true, force: true });
  };
} else if (nginx) {
  const { startNginxRouterControl } = await import('../src/router/control/nginx/nginx-control.js');
  const prefixDir = mkdtempSync(join(tmpdir(), 'graylane-bench-managed-nginx-'));
  const port = await freePort();
  const control = await startNginxRouterControl({ mode: { type: 'managed', prefixDir, workers: 1 }, listen: `127.0.0.1:${port}`, drainTimeoutMs: 1000 });
  await control.applyTable(table);
  url = `http://127.0.0.1:${port}`;
  stop = async () => {
    await control.stop({ timeoutMs: 2000 });
    rmSync(prefixDir, { recursive: true, force: true });
  };
} else {
  // The heap as `graylane up` sets it when the router runs in the daemon.
  const { tuneDaemonHeap } = await import('../src/cli/commands/daemon-heap.js');
  tuneDaemonHeap({ routesInProcess: true });
  const router = createRouter({ listen: { host: '127.0.0.1', port: 0 }, routes: table });
  ({ url } = await router.start());
  stop = () => router.stop({ drainTimeoutMs: 100 });
}
process.stdout.write(`${JSON.stringify({ url })}\n`);
process.on('SIGTERM', () => {
  void stop().then(() => process.exit(0));
});
