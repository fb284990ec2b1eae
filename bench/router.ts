/**
 * `npm run bench -- router [--duration 10] [--connections 50] [--rate 1000] [--profile]`
 *
 * The same loopback upstream served directly, through graylane's router and through nginx, all
 * with keep-alive: requests/s and p50/p99 at full load (autocannon), ratios graylane/nginx, then a
 * fixed 1,000 requests/s run for the latency each proxy adds. Latencies are taken from
 * autocannon's per-response event at sub-millisecond resolution (its own histogram counts whole
 * milliseconds). `--profile` writes a `--cpu-prof` profile of the router under bench/.out/.
 */
import autocannon from 'autocannon';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions } from './main.js';
import { startBenchUpstream, startGraylane, startNginx, type Started } from './lib-router-processes.js';

interface Figures {
  requestsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

async function measure(url: string, opts: { durationS: number; connections: number; rate?: number }): Promise<Figures> {
  const samples: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      { url, connections: opts.connections, duration: opts.durationS, pipelining: 1, ...(opts.rate ? { overallRate: opts.rate } : {}) },
      (err: Error | null, res: autocannon.Result) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTimeMs: number) => {
      samples.push(responseTimeMs);
    });
  });
  const sorted = Float64Array.from(samples).sort();
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: percentile(sorted, 0.5),
    p90Ms: percentile(sorted, 0.9),
    p99Ms: percentile(sorted, 0.99),
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/**
 * CPU time (user + system, ms) a process has used so far, from /proc; undefined elsewhere. CPU per
 * request is far steadier than requests/s on a shared machine.
 */
function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime), in clock ticks of (almost always) 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

const r1 = (n: number) => Math.round(n * 10) / 10;
const r3 = (n: number) => Math.round(n * 1000) / 1000;

export async function run(options: BenchOptions): Promise<Record<string, unknown>> {
  const durationS = flag(options.args, 'duration', 10);
  const connections = flag(options.args, 'connections', 50);
  const rate = flag(options.args, 'rate', 1000);
  const profile = options.args.includes('--profile');
  const log = (s: string) => {
    if (!options.json) console.log(s);
  };
  const started: Started[] = [];
  try {
    const upstream = await startBenchUpstream();
    started.push(upstream);
    const direct = `http://127.0.0.1:${upstream.port}`;
    const outDir = join(dirname(fileURLToPath(import.meta.url)), '.out');
    if (profile) mkdirSync(outDir, { recursive: true });
    const graylane = await startGraylane(`127.0.0.1:${upstream.port}`, profile ? outDir : undefined);
    started.push(graylane);
    const nginx = await startNginx(upstream.port);
    started.push(nginx);
    const targets = { direct, graylane: graylane.url, nginx: nginx.url } as const;

    const load: Record<string, Figures> = {};
    const fixed: Record<string, Figures> = {};
    let routerCpuUsPerRequest: number | undefined;
    for (const [name, url] of Object.entries(targets)) {
      log(`  ${name}: warm-up, then ${durationS} s at ${connections} connections…`);
      await measure(url, { durationS: 2, connections });
      const cpuBefore = name === 'graylane' ? cpuMs(graylane.child.pid) : undefined;
      load[name] = await measure(url, { durationS, connections });
      const cpuAfter = name === 'graylane' ? cpuMs(graylane.child.pid) : undefined;
      if (cpuBefore !== undefined && cpuAfter !== undefined) routerCpuUsPerRequest = ((cpuAfter - cpuBefore) * 1000) / (load[name].requestsPerSecond * durationS);
    }
    for (const [name, url] of Object.entries(targets)) {
      log(`  ${name}: ${durationS} s at ${rate} requests/s…`);
      fixed[name] = await measure(url, { durationS, connections: 10, rate });
    }
    const g = load.graylane!;
    const n = load.nginx!;
    const d = load.direct!;
    const throughputRatio = g.requestsPerSecond / n.requestsPerSecond;
    const addedP99Ms = fixed.graylane!.p99Ms - fixed.direct!.p99Ms;
    const nginxAddedP99Ms = fixed.nginx!.p99Ms - fixed.direct!.p99Ms;
    const figures = {
      connections,
      durationS,
      load: Object.fromEntries(Object.entries(load).map(([k, v]) => [k, { requestsPerSecond: r1(v.requestsPerSecond), p50Ms: r3(v.p50Ms), p99Ms: r3(v.p99Ms), errors: v.errors, non2xx: v.non2xx }])),
      fixedRate: Object.fromEntries(Object.entries(fixed).map(([k, v]) => [k, { requestsPerSecond: r1(v.requestsPerSecond), p50Ms: r3(v.p50Ms), p99Ms: r3(v.p99Ms), errors: v.errors, non2xx: v.non2xx }])),
      throughputRatioGraylaneOverNginx: r3(throughputRatio),
      p50RatioGraylaneOverNginx: r3(g.p50Ms / n.p50Ms),
      p99RatioGraylaneOverNginx: r3(g.p99Ms / n.p99Ms),
      addedP99MsAtFixedRate: r3(addedP99Ms),
      routerCpuUsPerRequest: routerCpuUsPerRequest === undefined ? undefined : r1(routerCpuUsPerRequest),
      nginxAddedP99MsAtFixedRate: r3(nginxAddedP99Ms),
      goals: { throughputRatio: '≥ 0.8', addedP99Ms: '≤ 1' },
      met: { throughputRatio: throughputRatio >= 0.8, addedP99Ms: addedP99Ms <= 1 },
    };
    if (!options.json) {
      const row = (name: string, f: Figures) =>
        `  ${name.padEnd(10)} ${r1(f.requestsPerSecond).toString().padStart(10)} ${r3(f.p50Ms).toFixed(3).padStart(9)} ${r3(f.p99Ms).toFixed(3).padStart(9)} ${String(f.errors + f.non2xx).padStart(7)}`;
      console.log(`\n  full load, ${connections} keep-alive connections, ${durationS} s`);
      console.log(`  ${'target'.padEnd(10)} ${'req/s'.padStart(10)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'errors'.padStart(7)}`);
      for (const [k, v] of Object.entries(load)) console.log(row(k, v));
      console.log(`  graylane/nginx: throughput ${r3(throughputRatio)} (goal ≥ 0.8), p50 ${r3(g.p50Ms / n.p50Ms)}, p99 ${r3(g.p99Ms / n.p99Ms)}; graylane/direct throughput ${r3(g.requestsPerSecond / d.requestsPerSecond)}`);
      if (routerCpuUsPerRequest !== undefined) console.log(`  graylane router CPU: ${r1(routerCpuUsPerRequest)} µs per request (user + system, from /proc)`);
      console.log(`\n  fixed ${rate} requests/s, 10 connections, ${durationS} s`);
      console.log(`  ${'target'.padEnd(10)} ${'req/s'.padStart(10)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'errors'.padStart(7)}`);
      for (const [k, v] of Object.entries(fixed)) console.log(row(k, v));
      console.log(`  added p99: graylane ${r3(addedP99Ms)} ms (goal ≤ 1), nginx ${r3(nginxAddedP99Ms)} ms`);
      if (profile) console.log(`  router CPU profile written under ${outDir}`);
    }
    return figures;
  } finally {
    for (const s of started.reverse()) await s.stop();
  }
}
