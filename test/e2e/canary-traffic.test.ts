/**
 * A canary whose only instance crashes after it became ready: its users go to stable (no 503
 * "no ready instance") until it is back, and `graylane status` says so.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { appDir, cli, hit, startDaemon, startLoad, stopDaemon, waitFor, writeApp, type Daemon, view } from './harness.js';

const canary = '      canary:\n        steps: [{setWeight: 25}, {pause: {}}]';
let daemon: Daemon | undefined;
afterEach(async () => {
  if (daemon) await stopDaemon(daemon);
  daemon = undefined;
});

describe('a canary that crashes', () => {
  it('at 25% under load: no user gets a 503, its requests fall back to stable, and status shows the fallback', async () => {
    const dir = appDir();
    const file = writeApp(dir, { version: 'v1', strategy: canary });
    const d = await startDaemon(dir);
    daemon = d;
    await waitFor(async () => (await view(d)).phase === 'Healthy', 20_000, 'v1 healthy');
    writeApp(dir, { version: 'v2', strategy: canary });
    await cli(d.stateDir, ['apply', '-f', file]);
    await waitFor(async () => {
      const v = await view(d);
      return v.phase === 'Paused' && v.revisions.find((r) => r.role === 'canary')?.ready === 1;
    }, 20_000, 'canary at 25% and ready');
    const canaryPid = await waitFor(async () => {
      const r = await hit(`${d.info.routerUrl}/`);
      return r.version === 'v2' ? r.pid : undefined;
    }, 10_000, 'a request served by the canary');
    // The load lasts until status shows the fallback (at most 20 s): a fixed window can end before
    // a slow host has noticed the crash, and the fallback needs requests while the canary is down.
    const load = startLoad(`${d.info.routerUrl}/`, 50, 20_000);
    await new Promise((r) => setTimeout(r, 1000));
    process.kill(canaryPid, 'SIGKILL');
    const shownInStatus = waitFor(async () => {
      const v = await view(d);
      const c = v.revisions.find((r) => r.role === 'canary');
      return c && c.fallbacks > 0 ? c : undefined;
    }, 19_000, 'the fallback in status');
    shownInStatus.catch(() => undefined); // awaited below, after the load
    await shownInStatus.catch(() => undefined);
    load.stop();
    const summary = await load.done;
    expect(summary.statusCounts['503'] ?? 0).toBe(0);
    expect(summary.servedBy['app@v1']).toBeGreaterThan(0);
    const shown = await shownInStatus;
    expect(shown.weight).toBe(25);
    const text = (await cli(d.stateDir, ['status', 'app'])).out;
    expect(text).toMatch(new RegExp(`#2 ${shown.name} has no ready instance: \\d+ of its requests went to the other side in the last 10 s`));
  }, 60_000);
});
