/**
 * Process plumbing for the router benchmark: the upstream, graylane and nginx each run as their
 * own process so the load generator (this process) does not share their event loop, and each in a
 * session of its own, as a service and the apps graylane starts do. Linux with autogroup shares the
 * CPU between sessions first: graylane's supervisor always has a session of its own, so a proxy
 * left in this one (with wrk) was measured under other scheduling than graylane's workers (one run
 * of `npm run bench -- router --rounds 2` each way: graylane 1w / nginx 1w 0.586 with nginx and
 * wrk sharing a session, 0.449 with each proxy in its own).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKER_NODE_FLAGS } from '../src/router/control/supervisor/heap-flags.js';
import { signalChild } from '../src/lib/signal-child.js';

const here = dirname(fileURLToPath(import.meta.url));

/** What this module started and is still running: detached, they would outlive a benchmark stopped by Ctrl-C. */
const running = new Set<ChildProcess>();
let signalsHooked = false;

function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (signalsHooked) return;
  signalsHooked = true;
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping what the benchmark started…`);
    void Promise.all([...running].map((c) => stopper(c)())).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}


export interface Started {
  child: ChildProcess;
  /** Stops the process and waits for it to exit. */
  stop(): Promise<void>;
}

function stopper(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const t = setTimeout(() => signalChild(child, 'SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      signalChild(child, signal);
    });
}

/** Spawns a TypeScript helper (under `dir`, default this one) under tsx and resolves with the JSON it prints first. */
async function spawnTs<T>(file: string, args: string[], nodeFlags: string[] = [], dir = here, env: NodeJS.ProcessEnv = process.env): Promise<Started & { info: T }> {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', join(dir, file), ...args], { stdio: ['ignore', 'pipe', 'inherit'], cwd: dir, detached: true, env });
  track(child);
  const info = await new Promise<T>((resolve, reject) => {
    let buf = '';
    const onData = (c: Buffer) => {
      buf += c.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        child.stdout.off('data', onData);
        resolve(JSON.parse(buf.slice(0, nl)) as T);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code} before it was ready`)));
  });
  child.stdout.resume();
  return { child, info, stop: stopper(child) };
}

/** The benchmark upstream. */
export async function startBenchUpstream(): Promise<Started & { port: number }> {
  const s = await spawnTs<{ port: number }>('lib-router-upstream.ts', []);
  return { ...s, port: s.info.port };
}

/**
 * graylane's router in front of `address`: in one process, with `workers` supervised worker
 * processes, or as graylane-managed nginx (`managedNginx`). `profileDir` turns on `--cpu-prof`;
 * `root` runs the router of another checkout (its `bench/lib-router-graylane.ts`), to compare two
 * builds in one run. `fastPath: false` turns the router's fast path (src/router/server/) off.
 */
export async function startGraylane(address: string, options: { profileDir?: string; root?: string; workers?: number; managedNginx?: boolean; fastPath?: boolean } = {}): Promise<Started & { url: string }> {
  const flags = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
  const mode = options.workers !== undefined ? ['--workers', String(options.workers)] : options.managedNginx ? ['--nginx'] : [];
  // The router's fast path is chosen by the environment, which its workers inherit; without the
  // option, the router's default.
  const env = { ...process.env };
  if (options.fastPath === undefined) delete env.GRAYLANE_ROUTER_FAST_PATH;
  else env.GRAYLANE_ROUTER_FAST_PATH = options.fastPath ? '1' : '0';
  const s = await spawnTs<{ url: string }>('lib-router-graylane.ts', [address, ...mode], flags, options.root ? join(options.root, 'bench') : here, env);
  return { ...s, url: s.info.url };
}

/**
 * The floor of the stack: a reverse proxy of `node:http` and undici doing nothing else
 * (`lib-node-floor-proxy.ts`), in front of `address`.
 */
export async function startNodeFloor(address: string): Promise<Started & { url: string }> {
  // The heap of a router worker: the comparison is then of the code alone.
  const s = await spawnTs<{ url: string }>('lib-node-floor-proxy.ts', [address], [...WORKER_NODE_FLAGS]);
  return { ...s, url: s.info.url };
}

/**
 * The ceiling of a node process: raw sockets, no HTTP server (`lib-raw-node-proxy.ts`), GETs
 * without a body only, in front of `address`.
 */
export async function startRawNode(address: string): Promise<Started & { url: string }> {
  const s = await spawnTs<{ url: string }>('lib-raw-node-proxy.ts', [address], [...WORKER_NODE_FLAGS]);
  return { ...s, url: s.info.url };
}

/** A loopback port free a moment ago (what nginx, which cannot take port 0, is given). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nginx did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Where Debian's nginx-light puts the binary the nginx rows run. */
export const NGINX_PATH = '/usr/sbin/nginx';

/**
 * nginx (Debian package) as a keep-alive reverse proxy to `upstreamPort`, `workers` worker
 * processes (default 1, as graylane's router is one event loop; `auto` is one per core), access
 * log off, everything in a temp dir.
 */
export async function startNginx(upstreamPort: number, options: { workers?: number | 'auto'; nginxPath?: string } = {}): Promise<Started & { url: string }> {
  const nginxPath = options.nginxPath ?? NGINX_PATH;
  const dir = mkdtempSync(join(tmpdir(), 'graylane-bench-nginx-'));
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d));
  const port = await freePort();
  const conf = `
worker_processes ${options.workers ?? 1};
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = spawn(nginxPath, ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  track(child);
  await waitForPort(port, child);
  const stop = stopper(child, 'SIGQUIT');
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
