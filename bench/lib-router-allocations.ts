/**
 * Child process of `npm run bench -- allocations`: graylane's router in this process (imported
 * from argv[3], so another checkout's router can be measured by this checkout's bench) in front of
 * the upstream at argv[2], loaded by wrk for a warm-up, then for `--seconds` while V8's sampling
 * heap profiler records every sampled allocation, the ones young collections freed included. Prints
 * one JSON line: requests, sampled bytes per request, and the sites that allocated most.
 */
import { execFile } from 'node:child_process';
import { Session } from 'node:inspector/promises';
import { pathToFileURL } from 'node:url';
import type { RouteTable } from '../src/router/contract/route-table.js';
import type { createRouter as CreateRouter } from '../src/router/index.js';

const [address, routerModule] = process.argv.slice(2);
if (!address || !routerModule) throw new Error('usage: lib-router-allocations.ts HOST:PORT ROUTER_MODULE [--seconds N] [--connections N]');
const flag = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const seconds = flag('seconds', 5);
const connections = flag('connections', 16);

/** One node of V8's sampling heap profile. */
interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const { createRouter } = (await import(pathToFileURL(routerModule).href)) as { createRouter: typeof CreateRouter };
const table: RouteTable = { services: [{ name: 'bench', pathPrefix: '/', stable: 'v1', canaryWeight: 0, revisions: { v1: { instances: [{ id: 'u1', address, ready: true }] } } }] };
const router = createRouter({ listen: { host: '127.0.0.1', port: 0 }, routes: table });
const { url } = await router.start();

/** wrk for `s` seconds against the router; the number of requests it completed. */
function load(s: number): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('wrk', ['-t1', `-c${connections}`, `-d${s}s`, `${url}/`], (error, stdout) => {
      const m = /(\d+) requests in/.exec(stdout);
      if (error || !m) reject(error ?? new Error(`wrk printed no request count: ${stdout}`));
      else resolve(Number(m[1]));
    });
  });
}

// Warm-up: compiled code, pools and timers as they are under load.
await load(3);
const session = new Session();
session.connect();
await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
const requests = await load(seconds);
const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
session.disconnect();
await router.stop({ drainTimeoutMs: 100 });

const bySite = new Map<string, number>();
let total = 0;
const short = (url: string) => url.replace(/^.*\/(src|node_modules)\//, '$1/').replace(/^file:\/\//, '');
const walk = (node: ProfileNode) => {
  if (node.selfSize > 0) {
    const f = node.callFrame;
    // Line numbers only for node's own modules: graylane's are transpiled by tsx on the fly.
    const site = `${f.functionName || '(anonymous)'} ${short(f.url) || '(native)'}${f.url.startsWith('node:') ? `:${f.lineNumber + 1}` : ''}`;
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    total += node.selfSize;
  }
  for (const c of node.children) walk(c);
};
walk(profile.head);
const top = [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([site, bytes]) => ({ site, bytesPerRequest: Math.round(bytes / requests) }));
process.stdout.write(`${JSON.stringify({ requests, bytesPerRequest: Math.round(total / requests), top })}\n`);
process.exit(0);
