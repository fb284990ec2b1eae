/**
 * The body of `graylane demo` (what `npm start` runs): the shop example, v1 then a canary of v2 under
 * simulated browser traffic, then a broken v3 that is aborted, and a summary of what users saw.
 */
import { GRAYLANE_VERSION } from '../install/install-names.js';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startApiServer } from '../../api/server.js';
import { registerDaemon, unregisterDaemon } from '../../api/daemon-registry.js';
import { ensureStateDir, loadOrCreateToken, writeDaemonInfo } from '../../api/state-dir.js';
import { startLocalDaemon, type LocalDaemon } from '../../controller/local/daemon.js';
import type { ServiceView } from '../../controller/view-model.js';
import { examplesDir, runSimulatedUsers, type SimulatedUsersReport } from '../../demo/index.js';
import { EXIT, CliError, type CliContext } from '../context.js';
import { renderStatus, table } from '../render.js';

/** Raised inside the demo when Ctrl-C (or SIGTERM) ends it early. */
class DemoInterrupted extends Error {
  readonly code = 'DemoInterrupted';
  constructor() {
    super('the demo was interrupted');
    this.name = 'DemoInterrupted';
  }
}

function setVersions(file: string, versions: { web: string; api: string }, apiEnv = ''): void {
  let text = readFileSync(file, 'utf8');
  let n = 0;
  text = text.replace(/env: \{VERSION: v[0-9]+[^}]*\}/g, () => {
    const which = n++ === 0 ? 'web' : 'api';
    return `env: {VERSION: ${versions[which]}${which === 'api' ? apiEnv : ''}}`;
  });
  writeFileSync(file, text);
}

/**
 * Runs the demo in a temporary copy of the shop and removes that copy at the end, whether the demo
 * finished, failed or was interrupted (Ctrl-C); `--keep` leaves it, as the running shop needs it.
 */
export async function runDemo(ctx: CliContext, o: { keep: boolean; rate: number; port: number }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-demo-'));
  const interrupted = new AbortController();
  const interrupt = () => interrupted.abort(new DemoInterrupted());
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  // A reader that went away (`graylane demo | head`) ends the demo as Ctrl-C does: exiting at once
  // would leave the shop's processes and its router running with nobody to stop them.
  let outputClosed = false;
  ctx.onOutputClosed = () => {
    outputClosed = true;
    interrupt();
  };
  let finished = false;
  try {
    await runDemoIn(dir, ctx, o, interrupted.signal);
    finished = true;
  } catch (err) {
    if (!interrupted.signal.aborted) throw err;
    ctx.print('\ninterrupted: the shop is stopped');
    ctx.exitCode = outputClosed ? EXIT.ok : 130;
  } finally {
    ctx.onOutputClosed = undefined;
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    if (o.keep && finished) ctx.print(`the shop's copy is left in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

async function runDemoIn(dir: string, ctx: CliContext, o: { keep: boolean; rate: number; port: number }, signal: AbortSignal): Promise<void> {
  // Every wait ends early on Ctrl-C, so that the shop is stopped and its copy removed at once.
  const sleep = (ms: number) => delay(ms, undefined, { signal });
  cpSync(join(examplesDir(), 'shop'), dir, { recursive: true });
  const appFile = join(dir, 'graylane.yaml');
  const stateDir = join(dir, '.graylane');
  ensureStateDir(stateDir);
  const token = loadOrCreateToken(stateDir);
  ctx.print(`graylane demo: the shop (web + api) in ${dir}`);
  let daemon: LocalDaemon;
  try {
    daemon = await startLocalDaemon({ appFile, stateDir, adminToken: token, listen: { host: '127.0.0.1', port: o.port } });
  } catch (err) {
    if (o.port === 0) throw err;
    ctx.print(`port ${o.port} is taken; using a free one`);
    daemon = await startLocalDaemon({ appFile, stateDir, adminToken: token, listen: { host: '127.0.0.1', port: 0 } });
  }
  const api = await startApiServer({ backend: daemon.controller, token, version: GRAYLANE_VERSION });
  const startedAtMs = Date.now();
  writeDaemonInfo(stateDir, { apiUrl: api.url, routerUrl: daemon.routerUrl, adminUrl: daemon.adminUrl, pid: process.pid, appFile, startedAtMs });
  let registered = true;
  try {
    registerDaemon(ctx.io.env, { pid: process.pid, stateDir, appFile, startedAtMs });
  } catch (err) {
    // The printed GRAYLANE_STATE_DIR reaches the shop all the same.
    registered = false;
    ctx.warn(`warning: cannot record the demo's daemon for other terminals (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): use the GRAYLANE_STATE_DIR printed below`);
  }
  try {
    ctx.print(`  shop     ${daemon.routerUrl}/`);
    ctx.print(`  console  ${api.url}/ (sign in with the token from \`graylane token\`, with GRAYLANE_STATE_DIR=${stateDir})`);
    ctx.print(`  CLI      graylane --help   (with GRAYLANE_STATE_DIR=${stateDir})`);
    const cp = daemon.controller;
    const views = () => ['web', 'api'].map((s) => cp.get(s));
    const show = (title: string) => {
      ctx.print(`\n— ${title}`);
      ctx.print(renderStatus(cp.get('shop')));
    };
    const waitUntil = async (what: string, done: (v: ServiceView[]) => boolean, timeoutMs: number, every = 5000) => {
      const deadline = Date.now() + timeoutMs;
      let shown = 0;
      while (!done(views())) {
        if (Date.now() > deadline) throw new CliError(`demo: timed out waiting for ${what}`, EXIT.degraded);
        if (Date.now() - shown > every) {
          show(what);
          shown = Date.now();
        }
        await sleep(250);
      }
    };
    const healthyOn = (n: number) => (vs: ServiceView[]) =>
      vs.every((v) => v.phase === 'Healthy' && v.revisions.some((r) => r.number === n && r.role === 'stable' && r.weight === 100 && r.ready === r.total && r.total > 0));

    const users = new AbortController();
    let report: Promise<SimulatedUsersReport> | undefined;
    try {
      await waitUntil('v1 to be ready', healthyOn(1), 30_000);
      show('v1 is live; simulated browser users start');
      report = runSimulatedUsers({ baseUrl: daemon.routerUrl, pageLoadsPerSecond: o.rate, signal: users.signal, users: 50 });
      await sleep(3000);

      ctx.print('\n=== releasing v2 of web and api as one (20% → pause 10s → 50% → pause 10s → 100%), users pinned to their side ===');
      setVersions(appFile, { web: 'v2', api: 'v2' });
      await cp.apply({ text: readFileSync(appFile, 'utf8'), file: appFile });
      await waitUntil('the v2 canary', healthyOn(2), 120_000);
      show('v2 is stable');
      // A new release supersedes the skew window of the previous one at once, so v3 waits until
      // every client pinned to v1 has moved on (its next page load) and v1 is retired.
      const v1Retired = (vs: ServiceView[]) => vs.every((v) => !v.revisions.some((r) => r.number === 1 && r.total > 0));
      const retireBy = Date.now() + 60_000;
      while (!v1Retired(views()) && Date.now() < retireBy) await sleep(250);
      show(v1Retired(views()) ? 'v1 retired: no client is pinned to it any more' : 'clients are still pinned to v1 after 60 s; going on');

      ctx.print('\n=== rolling out a broken v3 of the api (half of its answers fail) ===');
      setVersions(appFile, { web: 'v2', api: 'v3' }, ', FAIL_RATE: "0.5"');
      await cp.apply({ text: readFileSync(appFile, 'utf8'), file: appFile });
      await waitUntil('the v3 canary to take traffic', (vs) => vs[1]!.phase === 'Degraded' || vs[1]!.revisions.some((r) => r.number === 3 && r.weight > 0 && r.ready > 0), 60_000);
      // The guard compares the canary with stable every second and aborts on its own; if traffic
      // is too thin for it to be sure within a few seconds, the demo aborts the way a person would.
      const deadline = Date.now() + 8000;
      while (cp.get('api').phase !== 'Degraded' && Date.now() < deadline) await sleep(200);
      if (cp.get('api').phase === 'Degraded') {
        show(`the guard aborted the broken v3: ${cp.get('api').message}`);
      } else {
        await cp.operate('shop', { type: 'abort' });
        show('aborted by hand: all api traffic is back on v2');
      }
      await sleep(3000);
    } finally {
      users.abort();
    }
    const r = await report;
    ctx.print('\n=== summary ===');
    ctx.print(table([
      ['page loads', String(r.pageLoads)],
      ['requests served', String(r.requests)],
      ['failed requests', `${r.failedRequests} (the broken v3 canary answered ${r.servedBy['api@v3'] ?? 0} requests before the abort)`],
      ['asset 404s (skew)', String(r.assetNotFound)],
      ['skew API errors', `${r.contractErrors} (API answers a page could not use: a field its version needs was missing)`],
      ['other-version API calls', `${r.versionMismatches} (a page calling an API of another version; harmless when compatible, as v2 pages with the v3 api)`],
      ['request p99', `${r.latencyMs.p99.toFixed(1)} ms`],
    ]));
    ctx.print('per revision:');
    ctx.print(table(Object.entries(r.servedBy).sort().map(([k, n]) => [`  ${k}`, String(n)])));
    if (o.keep) {
      ctx.print(`\nthe shop keeps running at ${daemon.routerUrl}/ — try, in another terminal:`);
      ctx.print(`  export GRAYLANE_STATE_DIR=${stateDir}`);
      ctx.print('  graylane get; graylane status api --watch; graylane set weight api 50; graylane undo api');
      ctx.print('Ctrl-C stops it.');
      await new Promise<void>((done) => (signal.aborted ? done() : signal.addEventListener('abort', () => done(), { once: true })));
    }
  } finally {
    await api.close().catch(() => undefined);
    await daemon.stop({ stopInstances: true });
    // A stale entry is ignored once this pid is gone, so a failure to remove it is no failure.
    if (registered) await Promise.resolve().then(() => unregisterDaemon(ctx.io.env, process.pid)).catch(() => undefined);
  }
}
