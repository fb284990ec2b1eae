/**
 * A client cannot drive the guard (issue 10, item 1): while a healthy canary takes part of the
 * traffic, an attacker sends requests with two Host headers (which the router once forwarded as
 * a 502 charged to whichever revision it picked, the canary included). The router refuses them
 * with 400 before routing, so the canary's error rate stays 0 and the rollout is not aborted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { rawRequest } from '../fixtures/router/raw-client.js';
import { appDir, cli, startDaemon, startLoad, stopDaemon, waitFor, writeApp, type Daemon, view } from './harness.js';

const canary = '      canary:\n        steps: [{setWeight: 50}, {pause: {}}]';
let daemon: Daemon | undefined;
afterEach(async () => {
  if (daemon) await stopDaemon(daemon);
  daemon = undefined;
});

describe('the guard under attack', () => {
  it('duplicate-Host requests during a healthy canary get 400 and do not abort it', async () => {
    const dir = appDir();
    const file = writeApp(dir, { version: 'v1', strategy: canary });
    const d = await startDaemon(dir);
    daemon = d;
    await waitFor(async () => (await view(d)).phase === 'Healthy', 20_000, 'v1 healthy');
    const honest = startLoad(`${d.info.routerUrl}/`, 100, 12_000);
    writeApp(dir, { version: 'v2', strategy: canary });
    await cli(d.stateDir, ['apply', '-f', file]);
    await waitFor(async () => (await view(d)).phase === 'Paused', 20_000, 'canary paused at 50%');

    // Well above what once aborted a release (80 such requests), spread over the guard's ticks.
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) {
      const reply = await rawRequest(d.info.routerUrl, ['GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n']);
      statuses.push(reply.status);
      await new Promise((r) => setTimeout(r, 25));
    }
    const summary = await honest.done;
    const v = await view(d);
    expect(statuses).toEqual(Array(200).fill(400));
    expect(v.phase).toBe('Paused');
    expect(v.aborted).toBe(false);
    expect(v.analysis.find((a) => a.name === 'guard')?.phase).toMatch(/Healthy|Inconclusive/);
    for (const r of v.revisions) expect(r.errorRate).toBe(0);
    expect(summary.failed).toBe(0);
    expect(summary.servedBy['app@v2']).toBeGreaterThan(0);
  }, 60_000);
});
