/**
 * Rolling back and looking before switching, through the CLI against a real daemon: undo inside
 * the scale-down delay is an instant switch to the instances still up, abort after promotion
 * points at undo, and a blue-green preview is reachable by a tester before the switch.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { appDir, cli, hit, startDaemon, stopDaemon, waitFor, writeApp, type Daemon } from './harness.js';
import type { ServiceView } from '../../src/controller/view-model.js';

let d: Daemon | undefined;
afterEach(async () => {
  if (d) await stopDaemon(d);
  d = undefined;
});

async function view(daemon: Daemon): Promise<ServiceView> {
  return JSON.parse((await cli(daemon.stateDir, ['status', 'app', '--json'])).out) as ServiceView;
}

/** Who answers `n` requests in a row: version and process id of each. */
async function answers(url: string, n: number, headers: Record<string, string> = {}): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < n; i++) {
    const body = (await (await fetch(url, { headers })).json()) as { version: string; pid: number };
    seen.push(`${body.version}@${body.pid}`);
  }
  return [...new Set(seen)];
}

describe('undo inside the scale-down delay', () => {
  it('moves 100% of traffic back at once to the instances still up, with no new instance; abort afterwards points at undo', async () => {
    const canary = '      canary:\n        steps: [{setWeight: 20}, {pause: {}}, {setWeight: 50}, {pause: {}}]\n        scaleDownDelaySeconds: 120';
    const dir = appDir();
    const file = writeApp(dir, { version: 'v1', replicas: 1, strategy: canary });
    d = await startDaemon(dir);
    const daemon = d;
    await waitFor(async () => (await view(daemon)).phase === 'Healthy', 20_000, 'v1 healthy');
    const v1 = await answers(daemon.info.routerUrl, 5);
    expect(v1).toHaveLength(1);

    writeApp(dir, { version: 'v2', replicas: 1, strategy: canary });
    expect((await cli(daemon.stateDir, ['apply', '-f', file])).code).toBe(0);
    await waitFor(async () => (await view(daemon)).phase === 'Paused', 20_000, 'v2 paused at its first pause');
    expect((await cli(daemon.stateDir, ['promote', 'app', '--full'])).code).toBe(0);
    await waitFor(async () => (await answers(daemon.info.routerUrl, 5)).every((a) => a.startsWith('v2@')), 20_000, 'all on v2');

    const abort = await cli(daemon.stateDir, ['abort', 'app']);
    expect(abort.code).toBe(2);
    expect(abort.err).toContain('nothing to abort');
    expect(abort.err).toContain('`graylane undo app`');

    const undo = await cli(daemon.stateDir, ['undo', 'app']);
    expect(undo.err).toBe('');
    expect(undo.code).toBe(0);
    // As soon as undo returns: every request on v1's very instance (same process), no steps.
    expect(await answers(daemon.info.routerUrl, 20)).toEqual(v1);
    const after = await view(daemon);
    expect(after.phase).not.toBe('Paused');
    expect((await cli(daemon.stateDir, ['status', 'app', '--wait', '--timeout', '20s'])).code).toBe(0);
    expect(await answers(daemon.info.routerUrl, 5)).toEqual(v1);
  }, 90_000);
});

describe('blue-green preview before switching (allowPreviewHeader)', () => {
  it('a tester reaches the preview by header or cookie while users stay on the active version; promote switches everyone', async () => {
    const blueGreen = '      blueGreen:\n        autoPromotionEnabled: false\n        allowPreviewHeader: true\n        scaleDownDelaySeconds: 0';
    const dir = appDir();
    const file = writeApp(dir, { version: 'v1', replicas: 1, strategy: blueGreen });
    d = await startDaemon(dir);
    const daemon = d;
    await waitFor(async () => (await view(daemon)).phase === 'Healthy', 20_000, 'v1 healthy');

    writeApp(dir, { version: 'v2', replicas: 1, strategy: blueGreen });
    expect((await cli(daemon.stateDir, ['apply', '-f', file])).code).toBe(0);
    await waitFor(async () => (await view(daemon)).phase === 'Paused', 20_000, 'preview up, waiting for promote');
    const url = daemon.info.routerUrl;
    expect((await answers(url, 10)).map((a) => a.split('@')[0])).toEqual(['v1']);
    expect((await answers(url, 5, { 'x-graylane-preview': '1' })).map((a) => a.split('@')[0])).toEqual(['v2']);
    expect((await answers(url, 5, { cookie: 'graylane-preview=app' })).map((a) => a.split('@')[0])).toEqual(['v2']);

    expect((await cli(daemon.stateDir, ['promote', 'app'])).code).toBe(0);
    await waitFor(async () => (await hit(url)).version === 'v2', 20_000, 'switched to v2');
    expect((await answers(url, 10)).map((a) => a.split('@')[0])).toEqual(['v2']);
  }, 90_000);
});
