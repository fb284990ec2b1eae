/**
 * `npm run bench -- logs [--json] [--rps 300] [--burst-mib 1024] [--duration-s 5]`
 *
 * A chatty app beside a served one: a real daemon (`graylane up`, from dist/) runs the e2e
 * fixture app behind its router under constant-rate keep-alive load, and a second service whose
 * process writes `--burst-mib` MiB of log lines to stdout as fast as it can when asked. Measures
 * the served app's p99 through the router before the burst and during it, failed requests, and
 * the largest the logs directory grew to (sampled every 25 ms) against its cap
 * (`spec.logs.maxFileBytes × (keepFiles + 1)` per instance). Goals (issue 10, item 4): the cap
 * holds, p99 during ≈ p99 before, 0 failed requests.
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
import { writeSync } from 'node:fs';
const line = 'chatty: ' + 'x'.repeat(247) + '\\n';
const block = Buffer.from(line.repeat(4096));
http.createServer((req, res) => {
  if (req.url !== '/chatty/burst') { res.end('ok'); return; }
  const total = Number(new URL(req.url, 'http://x').searchParams.get('bytes') ?? process.env.BURST_BYTES);
  const t0 = performance.now();
  let written = 0;
  while (written < total) written += writeSync(1, block);
  res.end(JSON.stringify({ written, ms: performance.now() - t0 }));
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
    let peak = dirBytes(logsDir);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, dirBytes(logsDir));
        await sleep(25);
      }
    })();
    const duringFrom = performance.now();
    const burst = await fetch(`${url}/chatty/burst`, { method: 'POST', signal: AbortSignal.timeout(300_000) });
    const burstResult = (await burst.json()) as { written: number; ms: number };
    // Rotation catches up just after the writer stops: keep sampling a little longer.
    await sleep(2000);
    const duringTo = performance.now();
    sampling = false;
    await sampler;
    const settled = dirBytes(logsDir);
    await load.stop();
    const before = sentBetween(load.log, beforeFrom, beforeTo);
    const during = sentBetween(load.log, duringFrom, duringTo);
    const p99Before = quantile(latencies(load.log, before), 0.99);
    const p99During = quantile(latencies(load.log, during), 0.99);
    const instances = 3;
    const capBytes = instances * MAX_FILE_BYTES * (KEEP_FILES + 1);
    const figures = {
      requestsPerSecond: rps,
      burstMiB: round(burstResult.written / 2 ** 20, 0),
      burstSeconds: round(burstResult.ms / 1000, 2),
      p99BeforeMs: round(p99Before, 2),
      p99DuringMs: round(p99During, 2),
      p99Ratio: round(p99During / p99Before, 2),
      failedRequests: [...before, ...during].filter((i) => failed(load.log, i)).length,
      logsCapMiB: round(capBytes / 2 ** 20, 1),
      logsPeakMiB: round(peak / 2 ** 20, 1),
      logsAfterMiB: round(settled / 2 ** 20, 1),
    };
    if (!options.json) {
      console.log(`load ${rps} req/s on app; chatty wrote ${figures.burstMiB} MiB of log lines in ${figures.burstSeconds} s`);
      console.log('figure                      before burst   during burst   goal');
      console.log(`p99 (ms)                    ${String(figures.p99BeforeMs).padEnd(15)}${String(figures.p99DuringMs).padEnd(15)}≤ 1.5× before (${figures.p99Ratio}×)`);
      console.log(`failed requests             ${figures.failedRequests}${' '.repeat(29)}0`);
      console.log(`logs on disk (MiB)          peak ${figures.logsPeakMiB}, after ${figures.logsAfterMiB}          cap ${figures.logsCapMiB} (3 instances)`);
    }
    await daemon.stop();
    return figures;
  } finally {
    await stopAll();
  }
}
