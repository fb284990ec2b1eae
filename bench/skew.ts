/**
 * `npm run bench -- skew [--json] [--rate 100]`: the shop's web and api released v1 → v2 under
 * simulated browser users (page, hashed assets, API calls, cookies kept), once as a release with
 * version pinning and once as two independent canaries with the same steps. Prints skew errors
 * and failed requests per 10,000 page loads, side by side.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchOptions } from './main.js';
import { startLocalDaemon } from '../src/controller/local/daemon.js';
import { examplesDir, runSimulatedUsers, type SimulatedUsersReport } from '../src/demo/index.js';
import { numberFlag, sleep } from './lib-daemon.js';

const STEPS = `        steps:
        - setWeight: 25
        - pause: {duration: 3s}
        - setWeight: 50
        - pause: {duration: 3s}
        - setWeight: 75
        - pause: {duration: 3s}`;

function app(version: string, pinning: boolean): string {
  const own = pinning ? '' : `    strategy:\n      canary:\n${STEPS.replace(/^ {8}/gm, '          ')}\n`;
  const svc = (name: string, prefix: string) => `  - name: ${name}
    pathPrefix: ${prefix}
    replicas: 2
    process:
      command: [node, server.js]
      cwd: ./${name}
      env: {VERSION: ${version}}
      readinessProbe: {httpGet: {path: /healthz}, periodSeconds: 0.2, failureThreshold: 1}
      terminationGracePeriodSeconds: 5
${own}`;
  const release = `  releases:
  - name: shop
    services: [web, api]
    pinning: {skewWindow: 5s}
    strategy:
      canary:
${STEPS}
`;
  return `apiVersion: graylane.dev/v1alpha1\nkind: App\nmetadata: {name: shop}\nspec:\n  services:\n${svc('web', '/')}${svc('api', '/api')}${pinning ? release : ''}`;
}

async function runOnce(pinning: boolean, rate: number): Promise<SimulatedUsersReport> {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-bench-skew-'));
  cpSync(join(examplesDir(), 'shop'), dir, { recursive: true });
  const file = join(dir, 'graylane.yaml');
  writeFileSync(file, app('v1', pinning));
  mkdirSync(join(dir, '.graylane'), { mode: 0o700 });
  const daemon = await startLocalDaemon({ appFile: file, stateDir: join(dir, '.graylane'), adminToken: 'bench-admin-token-0123456789', listen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs: 5000 });
  const cp = daemon.controller;
  const onlyOn = (n: number) => ['web', 'api'].every((s) => {
    const v = cp.get(s);
    return v.phase === 'Healthy' && v.revisions.length === 1 && v.revisions[0]!.number === n && v.revisions[0]!.ready === v.revisions[0]!.total;
  });
  const until = async (ok: () => boolean, what: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`skew bench: timed out waiting for ${what}`);
      await sleep(100);
    }
  };
  const users = new AbortController();
  try {
    await until(() => onlyOn(1), 'v1', 30_000);
    const report = runSimulatedUsers({ baseUrl: daemon.routerUrl, pageLoadsPerSecond: rate, users: 200, signal: users.signal });
    await sleep(2000);
    writeFileSync(file, app('v2', pinning));
    await cp.apply({ text: app('v2', pinning), file });
    await until(() => onlyOn(2), 'v2', 90_000);
    await sleep(1000);
    users.abort();
    return await report;
  } finally {
    users.abort();
    await daemon.stop({ stopInstances: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the benchmark. */
export async function run(options: BenchOptions): Promise<Record<string, unknown>> {
  const rate = numberFlag(options.args, 'rate', 100);
  const per10k = (n: number, loads: number) => (loads === 0 ? 0 : (n * 10_000) / loads);
  const figures: Record<string, Record<string, number>> = {};
  for (const [name, pinning] of [['with pinning (release)', true], ['without pinning (two canaries)', false]] as const) {
    const r = await runOnce(pinning, rate);
    figures[name] = {
      pageLoads: r.pageLoads,
      assetNotFoundPer10k: per10k(r.assetNotFound, r.pageLoads),
      apiSkewErrorsPer10k: per10k(r.contractErrors, r.pageLoads),
      otherVersionApiCallsPer10k: per10k(r.versionMismatches, r.pageLoads),
      failedRequestsPer10k: per10k(r.failedRequests, r.pageLoads),
      pageLoadsWithProblemsPer10k: per10k(r.pageLoadsWithProblems, r.pageLoads),
    };
  }
  if (!options.json) {
    const names = Object.keys(figures);
    const rows = Object.keys(figures[names[0]!]!);
    const pad = (s: string, n: number) => s.padEnd(n);
    console.log(`release of web + api, v1 → v2, ${rate} simulated page loads/s (per 10,000 page loads)`);
    console.log(`${pad('figure', 32)}${names.map((n) => pad(n, 32)).join('')}`);
    for (const row of rows) console.log(`${pad(row, 32)}${names.map((n) => pad(figures[n]![row]!.toFixed(row === 'pageLoads' ? 0 : 1), 32)).join('')}`);
    const pinned = figures[names[0]!]!;
    const ok = pinned.assetNotFoundPer10k === 0 && pinned.apiSkewErrorsPer10k === 0 && pinned.failedRequestsPer10k === 0;
    console.log(`goal: zero skew errors and zero failed requests with pinning — ${ok ? 'PASS' : 'MISS'}`);
  }
  return { ratePerSecond: rate, figures };
}
