/**
 * `npm run bench -- logs [--json] [--rps 300] [--burst-mib 1024] [--duration-s 5]`
 *
 * A chatty app beside a served one: a real daemon (`graylane up`, from dist/) runs the e2e
 * fixture app behind its router under constant-rate keep-alive load, and a second service whose
 * process writes `--burst-mib` MiB of log lines to stdout as fast as it can when asked. Measures
 * the served app's p99 through the router before the burst and during it, failed requests, and
 * the largest the logs directory grew to (sampled every 25 ms) against its cap
 * (`spec.logs.maxFileBytes × (keepFiles + 1)` per instance). The baseline is the same burst
 * written into a file graylane does not manage: on two cores the writer's own CPU and page-cache
 * work slow everything, so what graylane adds is the difference. Goals (issue 10, item 4): the
 * cap holds, p99 during the logged burst ≈ during the baseline burst, 0 failed requests.
 */
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchOptions } from './main.js';
import {
  failed, latencies, makeAppDir, numberFlag, quantile, round, sentBetween, sleep, startDaemon, startLoadLoop, stopAll, waitFor,
} from './lib-daemon.js';

const MAX_FILE_BYTES = 8 * 1024 * 1024;
const KEEP_FILES = 2;

// The chatty app: ready at once; POST /burst writes the burst and answers when it is written.
const WRITER = `import http from 'node:http';
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
const line = 'chatty: ' + 'x'.repeat(247) + '\\n';
const block = Buffer.from(line.repeat(4096));
http.createServer((req, res) => {
  if (!req.url.startsWith('/chatty/burst')) { res.end('ok'); return; }
  const total = Number(process.env.BURST_BYTES);
  // The baseline writes the same bytes to a file of its own, which graylane does not manage.
  const own = req.url.includes('sink=own') ? 'chatty-own.log' : undefined;
  const fd = own ? openSync(own, 'w') : 1;
  const t0 = performance.now();
  let written = 0;
  while (written < total) written += writeSync(fd, block);
  const ms = performance.now() - t0;
  if (own) { closeSync(fd); unlinkSync(own); }
  res.end(JSON.stringify({ written, ms }));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

function appYaml(burstBytes: number): string {
  const probe = 'readinessProbe: {httpGet: {path: /healthz}, periodSeconds: 0.2, failureThreshold: 1}';
  return `apiVersion: graylane.dev/v1alpha1
kind: App
metadata: {name: bench-logs}
spec:
  logs: {maxFileBytes: ${MAX_FILE_BYTES}, keepFiles: ${KEEP_FILES}}
  services:
  - name: app
    pathPrefix: /
    replicas: 2
    process:
      command: [node, server.mjs]
      env: {VERSION: v1}
      ${probe}
  - name: chatty
    pathPrefix: /chatty
    replicas: 1
    process:
      command: [node, writer.mjs]
      env: {BURST_BYTES: '${burstBytes}'}
      ${probe}
`;
}

function dirBytes(dir: string): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    try {
      total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
    } catch {
      // Rotated away between the listing and the stat.
    }
  }
  return total;
}

export async function run(options: BenchOptions): Promise<Record<string, unknown>> {
  const rps = numberFlag(options.args, 'rps', 300);
  const burstMiB = numberFlag(options.args, 'burst-mib', 1024);
  const windowS = numberFlag(options.args, 'duration-s', 5);
  const dir = makeAppDir();
  writeFileSync(join(dir, 'writer.mjs'), WRITER);
  writeFileSync(join(dir, 'graylane.yaml'), appYaml(burstMiB * 1024 * 1024));
  try {
    const daemon = await startDaemon(dir);
    const url = daemon.info.routerUrl;
    await waitFor(async () => {
      const [a, c] = await Promise.all([daemon.api.get('app'), daemon.api.get('chatty')]);
      return a.phase === 'Healthy' && a.revisions[0]?.ready === 2 && c.revisions[0]?.ready === 1;
    }, 30_000, 'both services ready');
    const load = startLoadLoop({ url: `${url}/`, ratePerSecond: rps });
    await sleep(1000);
    const beforeFrom = performance.now();
    await sleep(windowS * 1000);
    const beforeTo = performance.now();
    const logsDir = join(daemon.stateDir, 'logs');
    const burstOnce = async (sink: 'own' | 'log') => {
      let peak = dirBytes(logsDir);
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peak = Math.max(peak, dirBytes(logsDir));
          await sleep(25);
        }
      })();
      const from = performance.now();
      const res = await fetch(`${url}/chatty/burst?sink=${sink}`, { method: 'POST', signal: AbortSignal.timeout(300_000) });
      const result = (await res.json()) as { written: number; ms: number };
      // Rotation catches up just after the writer stops: keep measuring a little longer.
      await sleep(2000);
      const to = performance.now();
      sampling = false;
      await sampler;
      const sent = sentBetween(load.log, from, to);
      return { result, peak, sent, p99: quantile(latencies(load.log, sent), 0.99) };
    };
    // Baseline: the same burst into a file graylane does not manage (the writer's own cost).
    const own = await burstOnce('own');
    await sleep(2000);
    const logged = await burstOnce('log');
    const settled = dirBytes(logsDir);
    await load.stop();
    const before = sentBetween(load.log, beforeFrom, beforeTo);
    const p99Before = quantile(latencies(load.log, before), 0.99);
    const instances = 3;
    const capBytes = instances * MAX_FILE_BYTES * (KEEP_FILES + 1);
    const figures = {
      requestsPerSecond: rps,
      burstMiB: round(logged.result.written / 2 ** 20, 0),
      burstSecondsOwnFile: round(own.result.ms / 1000, 2),
      burstSecondsGraylaneLog: round(logged.result.ms / 1000, 2),
      p99BeforeMs: round(p99Before, 2),
      p99DuringOwnFileMs: round(own.p99, 2),
      p99DuringGraylaneLogMs: round(logged.p99, 2),
      p99RatioVsBefore: round(logged.p99 / p99Before, 2),
      p99RatioVsOwnFile: round(logged.p99 / own.p99, 2),
      failedRequests: [...before, ...own.sent, ...logged.sent].filter((i) => failed(load.log, i)).length,
      logsCapMiB: round(capBytes / 2 ** 20, 1),
      logsPeakMiB: round(logged.peak / 2 ** 20, 1),
      logsAfterMiB: round(settled / 2 ** 20, 1),
    };
    if (!options.json) {
      const row = (name: string, ...cells: (string | number)[]) => console.log(name.padEnd(24) + cells.map((c) => String(c).padEnd(22)).join(''));
      console.log(`load ${rps} req/s on app; chatty writes ${figures.burstMiB} MiB of log lines, once into a file of its own (baseline), once into its graylane log`);
      row('figure', 'before any burst', 'burst, own file', 'burst, graylane log', 'goal');
      row('p99 (ms)', figures.p99BeforeMs, figures.p99DuringOwnFileMs, figures.p99DuringGraylaneLogMs, `≈ own file (${figures.p99RatioVsOwnFile}×)`);
      row('burst written in (s)', '', figures.burstSecondsOwnFile, figures.burstSecondsGraylaneLog, '');
      row('failed requests', figures.failedRequests, '', '', 0);
      row('logs on disk (MiB)', '', '', `peak ${figures.logsPeakMiB}, after ${figures.logsAfterMiB}`, `≤ cap ${figures.logsCapMiB}`);
    }
    await daemon.stop();
    return figures;
  } finally {
    await stopAll();
  }
}
