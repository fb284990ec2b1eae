/**
 * `graylane status RELEASE --wait` in a pipeline, against a real daemon: it follows the release
 * (not only its members) to the end, exits 0 once the release is done and 1 when it is aborted;
 * `--watch` draws the release's progress, not its first frame only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { appDir, cli, startDaemon, stopDaemon, waitFor, writeReleaseApp, type Daemon } from './harness.js';
import type { ServiceView } from '../../src/controller/view-model.js';

let daemon: Daemon | undefined;
afterEach(async () => {
  if (daemon) await stopDaemon(daemon);
  daemon = undefined;
});

/** web and api (the e2e fixture server) released together as `shop`, with short pauses. */
function shopApp(dir: string, version: string, finalPause: string): string {
  return writeReleaseApp(dir, {
    version,
    pinning: '{skewWindow: 2s}',
    terminationGracePeriodSeconds: 2,
    steps: `        - setWeight: 30\n        - pause: {duration: 1s}\n        - setWeight: 60\n        - pause: ${finalPause}\n`,
  });
}

async function setUp(finalPause: string): Promise<{ d: Daemon; dir: string; file: string }> {
  const dir = appDir();
  const file = shopApp(dir, 'v1', finalPause);
  const d = await startDaemon(dir);
  daemon = d;
  await waitFor(async () => {
    const { services } = JSON.parse((await cli(d.stateDir, ['get', '--json'])).out) as { services: ServiceView[] };
    return services.filter((s) => s.kind === 'service').every((s) => s.phase === 'Healthy');
  }, 20_000, 'shop v1 healthy');
  return { d, dir, file };
}

const frames = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as ServiceView);

describe('status RELEASE --wait', () => {
  it('follows a whole release and exits 0 when it is done; --watch draws its steps', async () => {
    const { d, dir, file } = await setUp('{duration: 1s}');
    shopApp(dir, 'v2', '{duration: 1s}');
    expect((await cli(d.stateDir, ['apply', '-f', file])).code).toBe(0);
    const waited = await cli(d.stateDir, ['status', 'shop', '--wait', '--watch', '--json', '--timeout', '60s']);
    expect(waited.err).toBe('');
    expect(waited.code).toBe(0);
    const seen = frames(waited.out);
    expect(seen.every((v) => v.name === 'shop' && v.kind === 'release')).toBe(true);
    // More than the first frame: the release was seen at its gates on the way.
    expect(new Set(seen.map((v) => v.step)).size).toBeGreaterThan(1);
    const last = seen.at(-1)!;
    expect(['Healthy', 'Completed']).toContain(last.phase);
    expect(last.revisions.filter((r) => r.weight === 100).map((r) => `${r.name.split(' ')[0]} #${r.number}`).sort()).toEqual(['api #2', 'web #2']);
  }, 90_000);

  it('exits 1 when the release is aborted while it waits', async () => {
    const { d, dir, file } = await setUp('{}');
    shopApp(dir, 'v2', '{}');
    expect((await cli(d.stateDir, ['apply', '-f', file])).code).toBe(0);
    const waiting = cli(d.stateDir, ['status', 'shop', '--wait', '--timeout', '60s']);
    await waitFor(async () => (JSON.parse((await cli(d.stateDir, ['status', 'shop', '--json'])).out) as ServiceView).step === 4, 30_000, 'release at its last pause');
    expect((await cli(d.stateDir, ['abort', 'shop'])).code).toBe(0);
    const waited = await waiting;
    expect(waited.code).toBe(1);
    expect(waited.out).toMatch(/Degraded/);
  }, 90_000);
});
