/**
 * `npm run bench -- router [--duration 10] [--connections 32] [--threads 2] [--rate 1000]
 * [--arrivals poisson|lockstep] [--rounds 1] [--baseline DIR] [--profile]`
 *
 * The same loopback upstream served directly, through graylane's router and through nginx, all
 * with keep-alive, loaded by Debian's wrk (a C client: a JavaScript one hides the gap), in one run:
 * requests/s, p50, p99, and the CPU each proxy spent per request (its whole process tree, from
 * /proc), which is far steadier than requests/s on a shared machine. Per-worker ratios compare
 * graylane with nginx. Then a fixed rate (wrk paced by Lua `delay`, random pauses by default so that
 * requests arrive as from independent clients: `Arrivals` in lib-wrk.ts) for the p99 each proxy
 * adds over direct. A "node floor" row is a proxy of node:http and undici doing nothing else: the least
 * any router on that stack costs (graylane's has a client of its own for its upstreams instead of
 * undici, src/router/upstream/), so the table shows what leaving the stack gained. A "raw node" row
 * forwards GETs over raw sockets with no HTTP server at all: the ceiling of a node process, so the
 * table shows what node:http's server side costs.
 * `--baseline DIR` adds a row for the router of another checkout (same bench, same
 * upstream, same run): before/after figures of a change. `--rounds N` measures every row N times,
 * the order reversed every other round (whoever goes second on a shared machine fares worse), and
 * keeps each row's median round by CPU per request, and at the fixed rate by p99. `--profile` writes a `--cpu-prof`
 * profile of the router under bench/.out/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions } from './main.js';
import { countFlag, numberFlag } from './lib-daemon.js';
import { readProcessTreeCpuSeconds } from './lib-process-cpu.js';
import { NGINX_PATH, startBenchUpstream, startGraylane, startNginx, startNodeFloor, startRawNode, type Started } from './lib-router-processes.js';
import { ratiosByRound } from './lib-round-ratios.js';
import { runWrk, type WrkFigures } from './lib-wrk.js';

/** One row of the table: a way to reach the upstream. */
interface Target {
  name: string;
  /** Worker processes (event loops) of the proxy; 0 for direct. */
  workers: number;
  /** Starts the proxy; undefined for direct. */
  start?: () => Promise<Started & { url: string }>;
  /** Why the row is not measured in this run. */
  skip?: string;
}

interface Row {
  name: string;
  /** The round it was measured in (0-based). */
  round: number;
  workers: number;
  load: WrkFigures;
  /** CPU of the proxy's process tree per request (µs); the upstream's for direct. */
  cpuUsPerRequest: number | undefined;
  /** The upstream's CPU per request during the same run (µs). */
  upstreamCpuUsPerRequest: number | undefined;
}

function stringFlag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
  return v;
}

const r1 = (n: number) => Math.round(n * 10) / 10;
const r3 = (n: number) => Math.round(n * 1000) / 1000;

async function cpuSeconds(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    return await readProcessTreeCpuSeconds({ pid });
  } catch {
    // Not Linux, or the process is gone: the row shows no CPU figure.
    return undefined;
  }
}

/**
 * The rows of this run. A row that cannot run here is listed with the reason it is skipped, so the
 * table says what is missing.
 */
function targets(options: { upstreamPort: number; profileDir: string | undefined; baseline: string | undefined }): Target[] {
  const address = `127.0.0.1:${options.upstreamPort}`;
  const cores = availableParallelism();
  const list: Target[] = [{ name: 'direct', workers: 0 }];
  // The router inside one process, as `spec.router.workers: 0` runs it in the daemon (and the one
  // `--profile` profiles); then graylane's default, a supervisor, with one worker.
  list.push({ name: 'graylane 1p', workers: 1, start: () => startGraylane(address, { profileDir: options.profileDir }) });
  if (options.baseline) {
    const root = resolve(options.baseline);
    list.push({ name: 'baseline 1p', workers: 1, start: () => startGraylane(address, { root }) });
  }
  list.push({ name: 'graylane 1w', workers: 1, start: () => startGraylane(address, { workers: 1 }) });
  // The same without the fast path for bodiless GETs (src/router/server/): node:http's server side for every request.
  list.push({ name: 'graylane 1w nfp', workers: 1, start: () => startGraylane(address, { workers: 1, fastPath: false }) });
  if (cores > 1) list.push({ name: `graylane ${cores}w`, workers: cores, start: () => startGraylane(address, { workers: cores }) });
  // What node:http and undici cost by themselves: the stack graylane's router left undici's half of.
  list.push({ name: 'node floor', workers: 1, start: () => startNodeFloor(address) });
  // What node could do with no HTTP server at all: the headroom below node:http.
  list.push({ name: 'raw node', workers: 1, start: () => startRawNode(address) });
  // Without nginx the table still compares graylane with direct and the node floor, and says why
  // the nginx rows are missing rather than stopping at the first spawn.
  const noNginx = existsSync(NGINX_PATH) ? undefined : `nginx is not installed at ${NGINX_PATH} (Debian: apt-get install nginx-light)`;
  list.push({ name: 'managed nginx', workers: 1, skip: noNginx, start: () => startGraylane(address, { managedNginx: true }) });
  list.push({ name: 'nginx 1w', workers: 1, skip: noNginx, start: () => startNginx(options.upstreamPort, { workers: 1 }) });
  list.push({ name: `nginx auto`, workers: cores, skip: noNginx, start: () => startNginx(options.upstreamPort, { workers: 'auto' }) });
  return list;
}

export async function run(options: BenchOptions): Promise<Record<string, unknown>> {
  const durationS = numberFlag(options.args, 'duration', 10);
  const connections = numberFlag(options.args, 'connections', 32);
  const threads = numberFlag(options.args, 'threads', 2);
  const rate = numberFlag(options.args, 'rate', 1000);
  const baseline = stringFlag(options.args, 'baseline');
  const rounds = countFlag(options.args, 'rounds', 1, { min: 1 });
  const arrivals = stringFlag(options.args, 'arrivals') ?? 'poisson';
  if (arrivals !== 'poisson' && arrivals !== 'lockstep') throw new Error('--arrivals needs poisson or lockstep');
  const profile = options.args.includes('--profile');
  const log = (s: string) => {
    if (!options.json) console.log(s);
  };
  const started: Started[] = [];
  try {
    const upstream = await startBenchUpstream();
    started.push(upstream);
    const outDir = join(dirname(fileURLToPath(import.meta.url)), '.out');
    if (profile) mkdirSync(outDir, { recursive: true });
    const list = targets({ upstreamPort: upstream.port, profileDir: profile ? outDir : undefined, baseline });
    const live: { target: Target; url: string; pid: number | undefined }[] = [];
    for (const t of list) {
      if (t.skip) continue;
      if (!t.start) {
        live.push({ target: t, url: `http://127.0.0.1:${upstream.port}`, pid: undefined });
        continue;
      }
      const s = await t.start();
      started.push(s);
      live.push({ target: t, url: s.url, pid: s.child.pid });
    }

    const measured: Row[] = [];
    for (let round = 0; round < rounds; round++) for (const { target, url, pid } of round % 2 === 0 ? live : [...live].reverse()) {
      log(`  ${target.name}: warm-up, then ${durationS} s at ${connections} connections (wrk, ${threads} threads)…`);
      await runWrk({ url, connections, threads, durationS: 2 });
      const before = [await cpuSeconds(pid), await cpuSeconds(upstream.child.pid)];
      const load = await runWrk({ url, connections, threads, durationS });
      const after = [await cpuSeconds(pid), await cpuSeconds(upstream.child.pid)];
      const perRequest = (i: number) => (before[i] === undefined || after[i] === undefined || load.requests === 0 ? undefined : ((after[i] - before[i]) * 1e6) / load.requests);
      const upstreamCpu = perRequest(1);
      measured.push({ name: target.name, round, workers: target.workers, load, cpuUsPerRequest: pid === undefined ? upstreamCpu : perRequest(0), upstreamCpuUsPerRequest: upstreamCpu });
    }
    const rows = live.map(({ target }) => {
      const mine = measured.filter((r) => r.name === target.name).sort((a, b) => (a.cpuUsPerRequest ?? 0) - (b.cpuUsPerRequest ?? 0));
      return mine[Math.floor(mine.length / 2)]!;
    });
    const fixedConnections = 10;
    const fixedRuns: { name: string; figures: WrkFigures }[] = [];
    for (let round = 0; round < rounds; round++) for (const { target, url } of round % 2 === 0 ? live : [...live].reverse()) {
      log(`  ${target.name}: ${durationS} s at about ${rate} requests/s (${arrivals} arrivals)…`);
      fixedRuns.push({ name: target.name, figures: await runWrk({ url, connections: fixedConnections, threads: 1, durationS, rate, arrivals }) });
    }
    const fixed: Record<string, WrkFigures> = Object.fromEntries(live.map(({ target }) => {
      const mine = fixedRuns.filter((r) => r.name === target.name).map((r) => r.figures).sort((a, b) => a.p99Ms - b.p99Ms);
      return [target.name, mine[Math.floor(mine.length / 2)]!];
    }));

    const byName = new Map(rows.map((r) => [r.name, r]));
    const direct = fixed.direct!;
    const perWorker = (r: Row) => r.load.requestsPerSecond / Math.max(1, r.workers);
    const ratio = (a: string, b: string) => {
      const x = byName.get(a);
      const y = byName.get(b);
      if (!x || !y) return undefined;
      const cpu = x.cpuUsPerRequest !== undefined && y.cpuUsPerRequest !== undefined ? y.cpuUsPerRequest / x.cpuUsPerRequest : undefined;
      return { throughputPerWorker: r3(perWorker(x) / perWorker(y)), cpuPerRequest: cpu === undefined ? undefined : r3(cpu) };
    };
    // Each round's ratio too: two rows measured back to back saw the same machine.
    const byRound = (numerator: string, denominator: string, value: (r: Row) => number | undefined) =>
      ratiosByRound({ figures: measured.map((r) => ({ round: r.round, name: r.name, value: value(r) })), numerator, denominator });
    const perRound = {
      graylaneOverNginxPerWorker: byRound('graylane 1w', 'nginx 1w', perWorker),
      withoutFastPathOverNginxPerWorker: byRound('graylane 1w nfp', 'nginx 1w', perWorker),
      managedNginxOverHandWritten: byRound('managed nginx', 'nginx 1w', perWorker),
      // Requests per CPU second: the inverse of CPU per request.
      baselineOverGraylaneCpu: baseline ? byRound('graylane 1p', 'baseline 1p', (r) => r.cpuUsPerRequest) : undefined,
    };
    const roundsNote = (ratios: number[] | undefined) => (rounds > 1 && ratios !== undefined && ratios.length > 0 ? ` [rounds: ${ratios.join(', ')}]` : '');
    const vsNginx = ratio('graylane 1w', 'nginx 1w');
    const inProcessVsNginx = ratio('graylane 1p', 'nginx 1w');
    const managedOverHandWritten = ratio('managed nginx', 'nginx 1w');
    const overFloor = ratio('graylane 1w', 'node floor');
    const floorVsNginx = ratio('node floor', 'nginx 1w');
    const overRaw = ratio('graylane 1w', 'raw node');
    const withoutFastPath = ratio('graylane 1w nfp', 'nginx 1w');
    const fastPathGain = ratio('graylane 1w', 'graylane 1w nfp');
    const rawVsNginx = ratio('raw node', 'nginx 1w');
    const cores = availableParallelism();
    const scaling = byName.get(`graylane ${cores}w`) && byName.get('graylane 1w') ? r3(byName.get(`graylane ${cores}w`)!.load.requestsPerSecond / byName.get('graylane 1w')!.load.requestsPerSecond) : undefined;
    const addedP99Ms = Object.fromEntries(Object.entries(fixed).filter(([k]) => k !== 'direct').map(([k, v]) => [k, r3(v.p99Ms - direct.p99Ms)]));
    const figures = {
      connections,
      threads,
      rounds,
      durationS,
      loadGenerator: `wrk (Debian); fixed rate paced with Lua delay() per connection (closed loop), ${arrivals} arrivals`,
      load: Object.fromEntries(
        rows.map((r) => [
          r.name,
          {
            workers: r.workers,
            requestsPerSecond: r1(r.load.requestsPerSecond),
            requestsPerSecondPerWorker: r.workers > 0 ? r1(perWorker(r)) : undefined,
            p50Ms: r3(r.load.p50Ms),
            p99Ms: r3(r.load.p99Ms),
            errors: r.load.errors,
            non2xx: r.load.non2xx,
            cpuUsPerRequest: r.cpuUsPerRequest === undefined ? undefined : r1(r.cpuUsPerRequest),
            upstreamCpuUsPerRequest: r.upstreamCpuUsPerRequest === undefined ? undefined : r1(r.upstreamCpuUsPerRequest),
          },
        ]),
      ),
      skipped: Object.fromEntries(list.filter((t) => t.skip).map((t) => [t.name, t.skip])),
      fixedRate: Object.fromEntries(Object.entries(fixed).map(([k, v]) => [k, { requestsPerSecond: r1(v.requestsPerSecond), p50Ms: r3(v.p50Ms), p99Ms: r3(v.p99Ms), errors: v.errors, non2xx: v.non2xx }])),
      graylaneOverNginxPerWorker: vsNginx,
      perRound,
      inProcessOverNginx: inProcessVsNginx,
      baselineOverGraylane: baseline ? ratio('baseline 1p', 'graylane 1p') : undefined,
      addedP99MsAtFixedRate: addedP99Ms,
      managedNginxOverHandWritten: managedOverHandWritten,
      graylaneOverNodeFloor: overFloor,
      nodeFloorOverNginx: floorVsNginx,
      graylaneOverRawNode: overRaw,
      withoutFastPathOverNginxPerWorker: withoutFastPath,
      fastPathGain,
      rawNodeOverNginx: rawVsNginx,
      workersScaling: scaling,
      goals: { perWorkerOverNginx: '≥ 0.5', addedP99Ms: '≤ 1', managedNginxOverHandWritten: '≥ 0.95', workersScaling: '> 1' },
      met: {
        perWorkerOverNginx: vsNginx === undefined ? undefined : vsNginx.throughputPerWorker >= 0.5,
        managedNginxOverHandWritten: managedOverHandWritten === undefined ? undefined : managedOverHandWritten.throughputPerWorker >= 0.95,
        workersScaling: scaling === undefined ? undefined : scaling > 1,
        addedP99Ms: addedP99Ms['graylane 1w'] === undefined ? undefined : addedP99Ms['graylane 1w'] <= 1,
      },
    };
    if (!options.json) {
      const cell = (v: number | undefined, w: number, digits = 1) => (v === undefined ? '-' : v.toFixed(digits)).padStart(w);
      console.log(`\n  full load: wrk, ${connections} keep-alive connections, ${threads} threads, ${durationS} s${rounds > 1 ? `, median of ${rounds} rounds by CPU per request` : ''}`);
      console.log(`  ${'target'.padEnd(16)} ${'req/s'.padStart(9)} ${'req/s/w'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)} ${'CPU µs/req'.padStart(11)} ${'upstream'.padStart(9)}`);
      for (const r of rows) {
        console.log(
          `  ${r.name.padEnd(16)} ${cell(r.load.requestsPerSecond, 9, 0)} ${cell(r.workers > 0 ? perWorker(r) : undefined, 9, 0)} ${cell(r.load.p50Ms, 8, 3)} ${cell(r.load.p99Ms, 8, 3)} ${String(r.load.errors + r.load.non2xx).padStart(7)} ${cell(r.cpuUsPerRequest, 11)} ${cell(r.upstreamCpuUsPerRequest, 9)}`,
        );
      }
      for (const t of list) if (t.skip) console.log(`  ${t.name.padEnd(16)} skipped: ${t.skip}`);
      console.log('  (1p: the router in one process, as in the daemon with spec.router.workers 0; 1w, Nw: a supervisor with 1 or N workers, the default;');
      console.log('   node floor: node:http + undici forwarding and nothing else, with a worker\'s heap flags (graylane: node:http + its own upstream client);');
      console.log('   1w nfp: one worker without the fast path for bodiless GET and HEAD (src/router/server/, on by default): node:http for every request;');
      console.log('   raw node: raw sockets and no HTTP server, GETs without a body only, as a ceiling of what node could do;');
      console.log('   CPU µs/req: the proxy process tree; for direct, the upstream; "upstream": the upstream in the same run)');
      if (vsNginx) console.log(`  graylane 1w / nginx 1w: throughput per worker ${vsNginx.throughputPerWorker}${roundsNote(perRound.graylaneOverNginxPerWorker)} (goal ≥ 0.5), requests per CPU second ${vsNginx.cpuPerRequest ?? '-'}`);
      if (inProcessVsNginx) console.log(`  graylane 1p / nginx 1w: throughput ${inProcessVsNginx.throughputPerWorker}, requests per CPU second ${inProcessVsNginx.cpuPerRequest ?? '-'}`);
      if (overFloor) console.log(`  graylane 1w / node floor: throughput ${overFloor.throughputPerWorker}, requests per CPU second ${overFloor.cpuPerRequest ?? '-'} (graylane's router, against node:http + undici doing nothing else)`);
      if (floorVsNginx) console.log(`  node floor / nginx 1w: throughput ${floorVsNginx.throughputPerWorker}, requests per CPU second ${floorVsNginx.cpuPerRequest ?? '-'} (the stack's own cost)`);
      if (withoutFastPath) console.log(`  graylane 1w nfp / nginx 1w: throughput per worker ${withoutFastPath.throughputPerWorker}${roundsNote(perRound.withoutFastPathOverNginxPerWorker)}, requests per CPU second ${withoutFastPath.cpuPerRequest ?? '-'} (without the fast path, GRAYLANE_ROUTER_FAST_PATH=0)`);
      if (fastPathGain) console.log(`  graylane 1w / graylane 1w nfp: throughput ${fastPathGain.throughputPerWorker}, requests per CPU second ${fastPathGain.cpuPerRequest ?? '-'} (what the fast path gains)`);
      if (rawVsNginx) console.log(`  raw node / nginx 1w: throughput ${rawVsNginx.throughputPerWorker}, requests per CPU second ${rawVsNginx.cpuPerRequest ?? '-'} (node with no HTTP server: the ceiling)`);
      if (overRaw) console.log(`  graylane 1w / raw node: throughput ${overRaw.throughputPerWorker}, requests per CPU second ${overRaw.cpuPerRequest ?? '-'} (what node:http's server side and the router's work cost together)`);
      if (managedOverHandWritten) console.log(`  managed nginx / hand-written nginx 1w: throughput ${managedOverHandWritten.throughputPerWorker}${roundsNote(perRound.managedNginxOverHandWritten)} (goal ≥ 0.95), requests per CPU second ${managedOverHandWritten.cpuPerRequest ?? '-'} (its buffered access log file is read back; the hand-written one logs nothing)`);
      if (scaling !== undefined) console.log(`  graylane ${cores}w / graylane 1w: throughput ${scaling} (on ${cores} cores, wrk itself included)`);
      if (figures.baselineOverGraylane) console.log(`  baseline / graylane (1p): throughput ${figures.baselineOverGraylane.throughputPerWorker}, requests per CPU second ${figures.baselineOverGraylane.cpuPerRequest ?? '-'}${roundsNote(perRound.baselineOverGraylaneCpu)}`);
      const spacing = arrivals === 'poisson' ? 'random pauses, so that requests arrive as from independent clients' : 'equal pauses: the connections send in lockstep bursts';
      console.log(`\n  fixed about ${rate} requests/s: wrk, ${fixedConnections} connections, each paced by Lua delay() (${spacing}), ${durationS} s${rounds > 1 ? `, median of ${rounds} rounds by p99` : ''}`);
      console.log(`  ${'target'.padEnd(16)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'added p99'.padStart(10)} ${'errors'.padStart(7)}`);
      for (const [k, v] of Object.entries(fixed)) {
        console.log(`  ${k.padEnd(16)} ${cell(v.requestsPerSecond, 9, 0)} ${cell(v.p50Ms, 8, 3)} ${cell(v.p99Ms, 8, 3)} ${cell(addedP99Ms[k], 10, 3)} ${String(v.errors + v.non2xx).padStart(7)}`);
      }
      console.log(`  added p99 goal: ≤ 1 ms (graylane 1w: ${addedP99Ms['graylane 1w'] ?? '-'} ms)`);
      if (profile) console.log(`  router CPU profile written under ${outDir}`);
    }
    return figures;
  } finally {
    for (const s of started.reverse()) await s.stop();
  }
}
