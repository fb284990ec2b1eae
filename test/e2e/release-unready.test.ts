/**
 * A release whose canary API is running but failing its readiness probe (a probe timing out on a
 * loaded host, say): the API calls of a page loaded from the canary stay on the canary API, whose
 * answers fit the page, rather than falling back to the stable API; new page loads go to what is
 * ready. The router stops doing so for an instance it sees failing (router.release.test.ts).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceView } from '../../src/controller/view-model.js';
import { appDir, cli, startDaemon, stopDaemon, waitFor, writeReleaseApp, type Daemon } from './harness.js';

let daemon: Daemon | undefined;
afterEach(async () => {
  if (daemon) await stopDaemon(daemon);
  daemon = undefined;
});


/** The release waits at 50%; an instance fails its readiness probe while the file `<service>-<version>-unhealthy` exists. */
function writeShop(dir: string, version: string): string {
  return writeReleaseApp(dir, {
    version,
    steps: '        - setWeight: 50\n        - pause: {}\n',
    env: (name) => ({ UNHEALTHY_FILE: join(dir, `${name}-${version}-unhealthy`) }),
    failureThreshold: 2,
  });
}

async function view(d: Daemon, name: string): Promise<ServiceView> {
  return JSON.parse((await cli(d.stateDir, ['status', name, '--json'])).out) as ServiceView;
}

async function get(url: string, headers: Record<string, string>): Promise<{ version: string; cookie: string | undefined }> {
  const res = await fetch(url, { headers });
  const body = (await res.json()) as { version: string };
  return { version: body.version, cookie: res.headers.get('set-cookie')?.split(';')[0] };
}

describe('a release whose canary API fails its readiness probe while it runs', () => {
  it('keeps the API calls of a page loaded from the canary on the canary API; new page loads go to what is ready', async () => {
    const dir = appDir();
    const file = writeShop(dir, 'v1');
    const d = await startDaemon(dir);
    daemon = d;
    await waitFor(async () => (await view(d, 'api')).phase === 'Healthy' && (await view(d, 'web')).phase === 'Healthy', 30_000, 'v1 healthy');
    writeShop(dir, 'v2');
    expect((await cli(d.stateDir, ['apply', '-f', file])).code).toBe(0);
    await waitFor(async () => {
      const s = await view(d, 'shop');
      return s.phase === 'Paused' && s.revisions.filter((r) => r.role === 'canary').every((r) => r.weight === 50 && r.ready === 1);
    }, 30_000, 'the release at 50% with the canary ready');
    // A browser loads pages until one comes from the canary; its cookie then pins it there.
    const navigate = { 'sec-fetch-mode': 'navigate', accept: 'text/html' };
    const cookie = await waitFor(async () => {
      const page = await get(`${d.info.routerUrl}/`, navigate);
      return page.version === 'v2' ? page.cookie : undefined;
    }, 10_000, 'a page load served by the canary');
    expect(cookie).toMatch(/^graylane-release=/);
    const call = { cookie, 'sec-fetch-mode': 'cors', accept: 'application/json' };
    expect((await get(`${d.info.routerUrl}/api/cart`, call)).version).toBe('v2');

    writeFileSync(join(dir, 'api-v2-unhealthy'), '');
    await waitFor(async () => (await view(d, 'api')).revisions.find((r) => r.role === 'canary')?.ready === 0, 10_000, 'the canary API unready');
    const versions: string[] = [];
    for (let i = 0; i < 20; i++) versions.push((await get(`${d.info.routerUrl}/api/cart/${i}`, call)).version);
    expect(versions).toEqual(new Array<string>(20).fill('v2'));
    // `status` says where they went: to the unready canary API, none to the other side. The router
    // learns of the failed probe with its next table, a moment after `status` does: the page's calls
    // go on until `status` counts them (each still answered by v2).
    const canary = await waitFor(async () => {
      versions.push((await get(`${d.info.routerUrl}/api/cart`, call)).version);
      const r = (await view(d, 'api')).revisions.find((x) => x.role === 'canary');
      return r !== undefined && (r.unreadyServed ?? 0) > 0 ? r : undefined;
    }, 10_000, 'status to count the requests the unready canary API served');
    expect(versions.filter((v) => v !== 'v2')).toEqual([]);
    expect(canary.fallbacks).toBe(0);
    expect((await cli(d.stateDir, ['status', 'api'])).out).toMatch(/#\d+ \S+ has no ready instance: its unready instances served \d+ requests of pages pinned to it in the last 10 s/);
    // A client with no page yet has nothing to fit: it is served by a ready side.
    for (let i = 0; i < 10; i++) expect((await get(`${d.info.routerUrl}/api/cart`, { accept: 'application/json' })).version).toBe('v1');

    rmSync(join(dir, 'api-v2-unhealthy'));
    await waitFor(async () => (await view(d, 'api')).revisions.find((r) => r.role === 'canary')?.ready === 1, 10_000, 'the canary API ready again');
    expect((await get(`${d.info.routerUrl}/api/cart`, call)).version).toBe('v2');
  }, 90_000);
});
