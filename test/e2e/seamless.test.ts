/**
 * Zero failed requests across rolling, blue-green and canary updates, under keep-alive load of
 * 200 requests/s from a second process, with real app processes behind the built-in router.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { appDir, cli, startDaemon, startLoad, stopDaemon, waitFor, writeApp, type Daemon } from './harness.js';
import type { ServiceView } from '../../src/controller/view-model.js';

let daemon: Daemon | undefined;
afterEach(async () => {
  if (daemon) await stopDaemon(daemon);
  daemon = undefined;
});

async function view(d: Daemon): Promise<ServiceView> {
  const r = await cli(d.stateDir, ['status', 'app', '--json']);
  return JSON.parse(r.out) as ServiceView;
}

const strategies: [string, string][] = [
  ['rolling update', '      canary: {maxSurge: 1, maxUnavailable: 0}'],
  ['blue-green with auto-promotion', '      blueGreen: {autoPromotionSeconds: 1, scaleDownDelaySeconds: 1}'],
  ['canary with steps', '      canary:\n        steps: [{setWeight: 20}, {pause: {duration: 1s}}, {setWeight: 60}, {pause: {duration: 1s}}]\n        scaleDownDelaySeconds: 1'],
];

describe.each(strategies)('%s under keep-alive load', (_name, strategy) => {
  it('completes with zero failed requests and every request on v2 at the end', async () => {
    const dir = appDir();
    const file = writeApp(dir, { version: 'v1', strategy, replicas: 3 });
    daemon = await startDaemon(dir);
    const d = daemon;
    await waitFor(async () => (await view(d)).phase === 'Healthy', 20_000, 'v1 healthy');
    const load = startLoad(`${d.info.routerUrl}/`, 200, 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    writeApp(dir, { version: 'v2', strategy, replicas: 3 });
    expect((await cli(d.stateDir, ['apply', '-f', file])).code).toBe(0);
    const final = await waitFor(async () => {
      const v = await view(d);
      return v.phase === 'Healthy' && v.revisions.length === 1 && v.revisions[0]!.number === 2 && v.revisions[0]!.ready === 3 ? v : undefined;
    }, 40_000, 'v2 healthy, v1 gone');
    await new Promise((r) => setTimeout(r, 1000));
    load.stop();
    const summary = await load.done;
    expect(final.revisions[0]!.weight).toBe(100);
    expect(summary.sent).toBeGreaterThan(500);
    expect(summary.failures).toMatchObject({});
    expect(summary.failed).toBe(0);
    expect(summary.servedBy['app@v1']).toBeGreaterThan(0);
    expect(summary.servedBy['app@v2']).toBeGreaterThan(0);
  }, 90_000);
});
