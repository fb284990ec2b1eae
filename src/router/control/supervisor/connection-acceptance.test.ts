/**
 * Who accepts the proxy's connections when the router runs in a supervisor: the workers, not the
 * supervisor. With node:cluster's round-robin the supervisor accepted every connection and handed
 * it to a worker one IPC round trip at a time; held at 1,000 requests/s over ten services, bursts
 * of new connections waited there for longer than clients wait (UND_ERR_HEADERS_TIMEOUT).
 */
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterAll, expect, it } from 'vitest';
import { instance, serviceTable, startUpstream, type Upstream } from '../../../../test/fixtures/router/support.js';
import type { RouteTable } from '../../contract/index.js';
import { startSupervisedRouter, type SupervisedRouter } from './supervisor-control.js';

const started: SupervisedRouter[] = [];
const dirs: string[] = [];
afterAll(() => {
  for (const s of started) {
    try {
      process.kill(s.pid, 'SIGCONT');
      process.kill(-s.pid, 'SIGKILL');
    } catch {
      // Stopped by the test.
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function supervised(): Promise<{ s: SupervisedRouter; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-sup-accept-'));
  dirs.push(dir);
  const s = await startSupervisedRouter({ stateDir: dir, workers: 2, router: { listen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs: 2000 } });
  started.push(s);
  return { s, dir };
}

/** One request on a connection of its own: its body, or why it got none within `timeoutMs`. */
function fresh(url: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
      res.on('error', (err) => resolve(err.message));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve(err.message));
  });
}

it('new connections are answered while the supervisor process cannot run: the workers accept them themselves', async () => {
  const a = await startUpstream('a');
  const { s } = await supervised();
  try {
    await s.applyTable(serviceTable({ stable: [a] }));
    expect(await fresh(`${s.url}/`, 5000)).toBe('a');
    // Stopped, the supervisor takes no connection and answers no IPC: whatever has to pass
    // through it waits. New connections must not.
    process.kill(s.pid, 'SIGSTOP');
    let bodies: string[];
    try {
      bodies = await Promise.all(Array.from({ length: 40 }, () => fresh(`${s.url}/`, 3000)));
    } finally {
      process.kill(s.pid, 'SIGCONT');
    }
    expect(bodies).toEqual(Array(40).fill('a'));
    await s.stop({ drainTimeoutMs: 500 });
  } finally {
    await a.close();
  }
}, 60_000);

const SERVICES = 10;
const RATE_PER_SERVICE = 40;
const DURATION_MS = 20_000;

function tenServices(upstreams: Upstream[]): RouteTable {
  return {
    services: upstreams.map((u, i) => ({ name: `s${i}`, pathPrefix: `/s${i}`, stable: 'v1', canaryWeight: 0, revisions: { v1: { instances: [instance(`s${i}-a`, u.address)] } } })),
  };
}

/** Requests at a steady rate on a keep-alive pool, as the memory benchmark's load loop: how each ended. */
async function steadyLoad(url: string, ratePerSecond: number, durationMs: number): Promise<string[]> {
  const { origin, pathname } = new URL(url);
  const pool = new Pool(origin, { connections: 64, keepAliveTimeout: 30_000, headersTimeout: 5000, bodyTimeout: 5000, connectTimeout: 5000 });
  const outcomes: Promise<string>[] = [];
  const t0 = Date.now();
  for (let i = 0; Date.now() - t0 < durationMs; i++) {
    outcomes.push(pool.request({ path: pathname, method: 'GET' }).then(
      async (res) => {
        await res.body.dump();
        return `HTTP ${res.statusCode}`;
      },
      (err: { code?: string; message?: string }) => err.code ?? err.message ?? 'error',
    ));
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + ((i + 1) * 1000) / ratePerSecond - Date.now())));
  }
  const all = await Promise.all(outcomes);
  await pool.close();
  return all;
}

it('ten services held at a steady rate through two workers for 20 s: every request is answered', async () => {
  const upstreams = await Promise.all(Array.from({ length: SERVICES }, (_, i) => startUpstream(`s${i}`)));
  const { s, dir } = await supervised();
  try {
    await s.applyTable(tenServices(upstreams));
    const outcomes = (await Promise.all(upstreams.map((_, i) => steadyLoad(`${s.url}/s${i}/`, RATE_PER_SERVICE, DURATION_MS)))).flat();
    const counts: Record<string, number> = {};
    for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
    expect(outcomes.length).toBeGreaterThan(SERVICES * RATE_PER_SERVICE * 15);
    expect(counts).toEqual({ 'HTTP 200': outcomes.length });
    // No worker died or was replaced on the way.
    expect(readFileSync(join(dir, 'router-supervisor.log'), 'utf8')).toBe('');
    await s.stop({ drainTimeoutMs: 500 });
  } finally {
    await Promise.all(upstreams.map((u) => u.close()));
  }
}, 120_000);
