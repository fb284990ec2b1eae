/**
 * `graylane up --router-workers 2`: the daemon serves the router's admin listener from the figures
 * its supervisor merges, as it does in-process: the banner's metrics line, daemon.json's adminUrl,
 * `/metrics` counting every request whichever worker served it, a token required, and counters
 * that a daemon killed with -9 and restarted (adopting the supervisor) goes on from rather than
 * resetting; a real Prometheus scrapes it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startPrometheus } from '../fixtures/metrics/prometheus-server.js';
import { appDir, hit, startDaemon, stopDaemon, stopDaemonsAndSupervisors, view, waitFor, writeApp, type Daemon } from './harness.js';
import { signalChild } from '../../src/lib/signal-child.js';

const canary = '      canary:\n        steps: [{setWeight: 50}, {pause: {}}]';
const daemons: Daemon[] = [];
const supervisors: number[] = [];

afterAll(() => stopDaemonsAndSupervisors(daemons, supervisors));

/** `graylane_router_requests_total` of service `app`, per revision, from `/metrics`. */
async function requestsByRevision(adminUrl: string, token: string): Promise<Map<string, number>> {
  const res = await fetch(`${adminUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  const out = new Map<string, number>();
  for (const m of (await res.text()).matchAll(/^graylane_router_requests_total\{service="app",revision="([^"]+)"\} (\d+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

it('/metrics under --router-workers 2 counts every request, needs the token, and keeps counting across a kill -9 and adoption; Prometheus scrapes it', async () => {
  const dir = appDir();
  writeApp(dir, { version: 'v1', strategy: canary });
  const first = await startDaemon(dir, ['--router-workers', '2']);
  daemons.push(first);
  const supervisorPid = (JSON.parse(readFileSync(join(first.stateDir, 'router.json'), 'utf8')) as { pid: number }).pid;
  supervisors.push(supervisorPid);
  const token = readFileSync(join(first.stateDir, 'token'), 'utf8').trim();
  const adminUrl = first.info.adminUrl;
  expect(adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(first.output()).toContain(`${adminUrl}/metrics`);
  await waitFor(async () => (await view(first)).phase === 'Healthy', 30_000, 'v1 healthy');

  const unauthorized = await fetch(`${adminUrl!}/metrics`);
  expect(unauthorized.status).toBe(401);
  expect(await unauthorized.text()).toContain('a token is needed');

  const n = 40;
  for (let i = 0; i < n; i++) await hit(`${first.info.routerUrl}/`);
  // Workers push their counters every 200 ms.
  const counted = await waitFor(async () => {
    const byRevision = await requestsByRevision(adminUrl!, token);
    return byRevision.size === 1 && [...byRevision.values()][0] === n ? byRevision : undefined;
  }, 10_000, `/metrics showing ${n} requests`);
  const [revision] = [...counted.keys()];

  const prometheus = await startPrometheus({ extraTargets: [{ address: new URL(adminUrl!).host, bearerToken: token }] });
  try {
    await prometheus.waitFor(`graylane_router_requests_total{service="app",revision="${revision}"}`, (v) => v === n, 30_000);
  } finally {
    await prometheus.stop();
  }

  signalChild(first.proc, 'SIGKILL');
  await new Promise((r) => first.proc.once('exit', r));
  const second = await startDaemon(dir, ['--router-workers', '2']);
  daemons.push(second);
  expect(second.output()).toContain(`router supervisor pid ${supervisorPid}, adopted from an earlier daemon`);
  expect(second.info.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  const adopted = await requestsByRevision(second.info.adminUrl!, token);
  expect(adopted.get(revision!)).toBeGreaterThanOrEqual(n);
  for (let i = 0; i < 10; i++) await hit(`${second.info.routerUrl}/`);
  await waitFor(async () => (await requestsByRevision(second.info.adminUrl!, token)).get(revision!) === n + 10, 10_000, `/metrics showing ${n + 10} requests after adoption`);
  await stopDaemon(second);
}, 180_000);
