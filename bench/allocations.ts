/**
 * `npm run bench -- allocations [--json] [--seconds 5] [--rounds 3] [--connections 16] [--baseline DIR]`
 *
 * Bytes the router allocates per proxied request (a GET answered with a small body, keep-alive
 * both sides), from V8's sampling heap profiler with the objects young and full collections freed
 * counted too: what the garbage collector has to clear, which a CPU profile shows only as GC time.
 * The router runs in a process of its own (`lib-router-allocations.ts`) loaded by wrk; the figure
 * is the median of `--rounds`, with the sites that allocated most in that round. `--baseline DIR`
 * measures the router of another checkout (its `src/router/index.ts`) in the same run, rounds
 * alternating, so two builds are compared on the same machine at the same time. Sampling counts
 * one allocation in every 256 bytes on average: figures move by a few percent between rounds.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions } from './main.js';
import { countFlag } from './lib-daemon.js';
import { startBenchUpstream } from './lib-router-processes.js';

const here = dirname(fileURLToPath(import.meta.url));

interface Sample {
  requests: number;
  bytesPerRequest: number;
  top: { site: string; bytesPerRequest: number }[];
}

function measure(options: { address: string; routerModule: string; seconds: number; connections: number }): Promise<Sample> {
  const args = ['--import', 'tsx', join(here, 'lib-router-allocations.ts'), options.address, options.routerModule, '--seconds', String(options.seconds), '--connections', String(options.connections)];
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, args, { cwd: here, timeout: (options.seconds + 60) * 1000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`the router under allocation sampling failed: ${stderr.trim() || error.message}`));
      else resolvePromise(JSON.parse(stdout.trim().split('\n').pop()!) as Sample);
    });
  });
}

export async function run(options: BenchOptions): Promise<Record<string, unknown>> {
  const seconds = countFlag(options.args, 'seconds', 5, { min: 1 });
  const rounds = countFlag(options.args, 'rounds', 3, { min: 1 });
  const connections = countFlag(options.args, 'connections', 16, { min: 1 });
  const at = options.args.indexOf('--baseline');
  const baselineDir = at >= 0 ? options.args[at + 1] : undefined;
  const builds: { name: string; routerModule: string }[] = [{ name: 'this checkout', routerModule: join(here, '..', 'src', 'router', 'index.ts') }];
  if (baselineDir !== undefined) {
    const routerModule = join(resolve(baselineDir), 'src', 'router', 'index.ts');
    if (!existsSync(routerModule)) throw new Error(`--baseline ${baselineDir}: no ${routerModule} (a graylane checkout, with its node_modules)`);
    builds.push({ name: 'baseline', routerModule });
  }
  const log = (s: string) => {
    if (!options.json) console.log(s);
  };
  const upstream = await startBenchUpstream();
  const samples = new Map<string, Sample[]>(builds.map((b) => [b.name, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      // Alternating order: neither build always runs on the warmer (or busier) machine.
      for (const b of round % 2 === 0 ? builds : [...builds].reverse()) {
        log(`  ${b.name}: round ${round + 1} of ${rounds}, ${seconds} s sampled at ${connections} connections…`);
        samples.get(b.name)!.push(await measure({ address: `127.0.0.1:${upstream.port}`, routerModule: b.routerModule, seconds, connections }));
      }
    }
  } finally {
    await upstream.stop();
  }
  const median = (name: string) => {
    const sorted = [...samples.get(name)!].sort((a, b) => a.bytesPerRequest - b.bytesPerRequest);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  const figures = Object.fromEntries(builds.map((b) => [b.name, { ...median(b.name), rounds: samples.get(b.name)!.map((s) => s.bytesPerRequest) }]));
  const ratio = baselineDir !== undefined ? Math.round((median('this checkout').bytesPerRequest / median('baseline').bytesPerRequest) * 1000) / 1000 : undefined;
  if (!options.json) {
    console.log(`\n  bytes allocated per proxied request (sampled, median of ${rounds} rounds of ${seconds} s; every round in brackets)`);
    for (const b of builds) console.log(`  ${b.name.padEnd(14)} ${String(median(b.name).bytesPerRequest).padStart(7)} B   [${samples.get(b.name)!.map((s) => s.bytesPerRequest).join(', ')}]`);
    if (ratio !== undefined) console.log(`  this checkout / baseline: ${ratio}`);
    console.log(`\n  where this checkout allocates (bytes per request, by function):`);
    for (const t of median('this checkout').top) console.log(`  ${String(t.bytesPerRequest).padStart(7)}  ${t.site}`);
  }
  return { seconds, rounds, connections, builds: figures, thisOverBaseline: ratio };
}
