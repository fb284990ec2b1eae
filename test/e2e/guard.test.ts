/**
 * The guard behind the built-in router: a canary that starts failing is aborted and traffic is
 * back on stable; a healthy canary under the same load is left alone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { appDir, cli, hit, startDaemon, startLoad, stopDaemon, waitFor, writeApp, type Daemon, view } from './harness.js';

const canary = '      canary:\n        steps: [{setWeight: 20}, {pause: {}}]';
let daemon: Daemon | undefined;
afterEach(async () => {
  if (daemon) await stopDaemon(daemon);
  daemon = undefined;
});

async function canaryUnderLoad(env: Record<string, string>, holdMs: number): Promise<{ d: Daemon; load: ReturnType<typeof startLoad> }> {
  const dir = appDir();
  const file = writeApp(dir, { version: 'v1', strategy: canary });
  const d = await startDaemon(dir);
  daemon = d;
  await waitFor(async () => (await view(d)).phase === 'Healthy', 20_000, 'v1 healthy');
  const load = startLoad(`${d.info.routerUrl}/`, 200, holdMs);
  writeApp(dir, { version: 'v2', strategy: canary, env });
  await cli(d.stateDir, ['apply', '-f', file]);
  return { d, load };
}

describe('the guard', () => {
  it('aborts a canary that returns 500s: 100% of traffic back on stable, the event says why', async () => {
    const { d, load } = await canaryUnderLoad({ FAIL_RATE: '1' }, 30_000);
    const degraded = await waitFor(async () => {
      const v = await view(d);
      return v.phase === 'Degraded' ? v : undefined;
    }, 25_000, 'guard abort');
    load.stop();
    const summary = await load.done;
    expect(degraded.aborted).toBe(true);
    expect(degraded.revisions.find((r) => r.role === 'stable')!.weight).toBe(100);
    for (let i = 0; i < 30; i++) expect((await hit(`${d.info.routerUrl}/`)).version).toBe('v1');
    const events = JSON.parse((await cli(d.stateDir, ['get', '--json'])).out);
    expect(events.services[0].message).toMatch(/aborted by the guard/);
    // The blast radius: the canary took 20% of 200 requests/s, so 200 failures would be 5 s of it.
    expect(summary.failed).toBeGreaterThan(0);
    expect(summary.failed).toBeLessThan(200);
    expect(summary.sent - summary.failed).toBe(summary.ok);
  }, 60_000);

  it('leaves a healthy canary alone under the same load', async () => {
    const { d, load } = await canaryUnderLoad({}, 12_000);
    await waitFor(async () => (await view(d)).phase === 'Paused', 20_000, 'canary paused');
    const summary = await load.done;
    const v = await view(d);
    expect(v.phase).toBe('Paused');
    expect(v.aborted).toBe(false);
    expect(v.analysis.find((a) => a.name === 'guard')?.phase).toMatch(/Healthy|Inconclusive/);
    expect(summary.failed).toBe(0);
    expect(summary.servedBy['app@v2']).toBeGreaterThan(0);
  }, 60_000);
});
