/**
 * The skew figures of a release, end to end on a real daemon: a page loaded from the shop's
 * stable web asking for an asset only the canary has is a skew error `status` counts, and after
 * a promotion `status` names when the skew window ends (old pages stay on stable until then).
 */
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { examplesDir } from '../../src/demo/index.js';
import { cli, startDaemon, stopDaemon, waitFor, writeReleaseApp, type Daemon } from './harness.js';
import type { ServiceView } from '../../src/controller/view-model.js';

let daemon: Daemon | undefined;
afterEach(async () => {
  if (daemon) await stopDaemon(daemon);
  daemon = undefined;
});

const SKEW_WINDOW_MS = 120_000;

/** The shop's web and api as one release that waits at 50% until promoted, with a 2-minute skew window. */
function shopApp(dir: string, version: string): string {
  return writeReleaseApp(dir, { version, shopExample: true, pinning: `{skewWindow: ${SKEW_WINDOW_MS / 1000}s}`, steps: '        - setWeight: 50\n        - pause: {}\n' });
}

async function view(d: Daemon, name: string): Promise<ServiceView> {
  return JSON.parse((await cli(d.stateDir, ['status', name, '--json'])).out) as ServiceView;
}

/** A first page load of a new browser: the page's version, its script and the release token it was handed. */
async function loadPage(baseUrl: string): Promise<{ version: string; script: string; token: string }> {
  const res = await fetch(`${baseUrl}/`, { headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' } });
  const html = await res.text();
  return {
    version: /name="app-version" content="([^"]+)"/.exec(html)?.[1] ?? '',
    script: /<script type="module" src="([^"]+)"/.exec(html)?.[1] ?? '',
    token: res.headers.get('x-graylane-release') ?? '',
  };
}

describe('the skew figures of a release on a single host', () => {
  it('status counts a stable page\'s request for a canary-only asset as a skew error, and names the skew window\'s end after promote', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graylane-release-skew-'));
    cpSync(join(examplesDir(), 'shop'), dir, { recursive: true });
    const file = shopApp(dir, 'v1');
    const d = (daemon = await startDaemon(dir));
    await waitFor(async () => {
      const { services } = JSON.parse((await cli(d.stateDir, ['get', '--json'])).out) as { services: ServiceView[] };
      return services.filter((s) => s.kind === 'service').every((s) => s.phase === 'Healthy');
    }, 30_000, 'shop v1 healthy');
    shopApp(dir, 'v2');
    expect((await cli(d.stateDir, ['apply', '-f', file])).code).toBe(0);
    await waitFor(async () => {
      const shop = await view(d, 'shop');
      return shop.phase === 'Paused' && shop.releaseTraffic?.weight === 50;
    }, 30_000, 'release paused at 50%');
    // No skew yet: pinning kept every page whole.
    expect((await view(d, 'shop')).releaseTraffic?.skewErrors).toBe(0);

    // New browsers until one got each version's page (each is a coin toss at 50%).
    const pages = new Map<string, { version: string; script: string; token: string }>();
    await waitFor(async () => {
      const p = await loadPage(d.info.routerUrl);
      pages.set(p.version, p);
      return pages.has('v1') && pages.has('v2');
    }, 20_000, 'a v1 page and a v2 page');
    const v1 = pages.get('v1')!;
    const v2 = pages.get('v2')!;
    expect(v1.token).not.toBe('');
    expect(v2.script).toMatch(/^\/assets\/app\.[0-9a-f]{10}\.js$/);
    // The v1 page (its token says stable) asks for the v2 page's bundle: stable has no such asset.
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${d.info.routerUrl}${v2.script}`, { headers: { 'x-graylane-release': v1.token } });
      await res.arrayBuffer();
      expect(res.status).toBe(404);
    }
    // Its own bundle is no skew error.
    expect((await fetch(`${d.info.routerUrl}${v1.script}`, { headers: { 'x-graylane-release': v1.token } })).status).toBe(200);
    // The router's workers report their figures to the daemon every 200 ms: the count arrives within that.
    const caught = await waitFor(async () => {
      const shop = await view(d, 'shop');
      return shop.releaseTraffic?.skewErrors === 3 ? shop : undefined;
    }, 5000, 'three skew errors counted');
    expect(caught.releaseTraffic?.skewErrors).toBe(3);
    expect(caught.skewWindowEndsAtMs).toBeUndefined();
    expect((await cli(d.stateDir, ['status', 'shop'])).out).toMatch(/^ {2}skew errors caught: 3 in the last 30 s$/m);

    const promotedAtMs = Date.now();
    expect((await cli(d.stateDir, ['promote', 'shop'])).code).toBe(0);
    const promoted = await waitFor(async () => {
      const shop = await view(d, 'shop');
      return shop.skewWindowEndsAtMs !== undefined ? shop : undefined;
    }, 30_000, 'the skew window running');
    expect(promoted.skewWindowEndsAtMs!).toBeGreaterThanOrEqual(promotedAtMs + SKEW_WINDOW_MS - 1_000);
    expect(promoted.skewWindowEndsAtMs!).toBeLessThanOrEqual(Date.now() + SKEW_WINDOW_MS);
    // Within the window the v1 page's requests still reach v1.
    expect((await fetch(`${d.info.routerUrl}${v1.script}`, { headers: { 'x-graylane-release': v1.token } })).status).toBe(200);
    const text = (await cli(d.stateDir, ['status', 'shop'])).out;
    const end = new Date(promoted.skewWindowEndsAtMs!);
    const hhmmss = [end.getHours(), end.getMinutes(), end.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
    expect(text).toMatch(new RegExp(`^ {2}skew errors caught: \\d+ in the last 30 s; old pages stay on stable until ${hhmmss}$`, 'm'));
  }, 120_000);
});
