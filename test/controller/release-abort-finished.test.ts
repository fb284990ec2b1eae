/**
 * A release aborted after one member finished: members' last steps end at their own pace, so web
 * can be done on v2 while api's new instance is still not ready. An abort then must take web back
 * too, or every user gets a v2 page whose API calls go to api v1 until someone acts. Real
 * controller, real processes, real router, SQLite, on a fake clock.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, until, type Harness } from '../fixtures/controller/local-harness.js';
import { shopReleaseAppYaml } from '../fixtures/shop-release-app.js';
import { signReleaseToken } from '../../src/router/release-token.js';
import { send } from '../fixtures/router/support.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const STEPS = `        steps:
        - setWeight: 50
        - pause: {}`;

/** The shop at `version`; an instance of service s at version v is unready while the file `unhealthy-s-v` exists. */
const shopYaml = (dir: string, version: string) =>
  shopReleaseAppYaml({
    version, canary: STEPS, pinning: '{skewWindow: 5s}', periodSeconds: 0.1, terminationGracePeriodSeconds: 2,
    env: (name) => ({ SERVICE: name, UNHEALTHY_FILE: join(dir, `unhealthy-${name}-${version}`) }),
  });

const PAGE = { accept: 'text/html', 'sec-fetch-mode': 'navigate' };
const API = { accept: 'application/json', 'sec-fetch-mode': 'cors' };

/** The version that answers `path`, for a client with the release token `token` (none: a new client). */
async function versionOf(path: string, headers: Record<string, string>, token?: string): Promise<string> {
  const reply = await send(`${h!.routerUrl}${path}`, { headers: { ...headers, ...(token ? { 'x-graylane-release': token } : {}) } });
  return (JSON.parse(reply.body) as { version: string }).version;
}

const status = (service: string) => h!.store.getStatus(service)!;

describe('a release aborted after one of its members finished', () => {
  it('takes the finished member back to its old revision at once: pages and API calls are all v1 again, and a retry runs both again', async () => {
    h = await startHarness();
    const { dir } = h;
    await h.apply(shopYaml(dir, 'v1'));
    await until(() => ['web', 'api'].every((s) => h!.controller.get(s).phase === 'Healthy'), 15_000, 'v1 healthy');
    const v1 = { web: status('web').stableRevision!, api: status('api').stableRevision! };

    await h.apply(shopYaml(dir, 'v2'));
    await until(() => ['web', 'api'].every((s) => status(s).phase === 'Paused' && status(s).weights.canary === 50), 20_000, 'both members at the gate');
    const v2 = { web: status('web').canaryRevision!, api: status('api').canaryRevision! };
    // api's new instance stops being ready: its last step cannot finish, web's can.
    writeFileSync(join(dir, 'unhealthy-api-v2'), '');
    await until(() => h!.controller.get('api').revisions.find((r) => r.name === v2.api)?.ready === 0, 10_000, 'api v2 unready');
    await h.controller.operate('shop', { type: 'promote' });
    await until(() => status('web').stableRevision === v2.web, 15_000, 'web done on v2');
    expect(status('api')).toMatchObject({ stableRevision: v1.api, canaryRevision: v2.api, abort: false });
    // A client pinned to the old version, from before the release.
    const release = h.store.getRelease('shop')!;
    const stablePinned = signReleaseToken(release.secret, { release: 'shop', generation: release.generation, side: 'stable', position: 99 });

    const abortedAtMs = h.clock.now;
    await h.controller.operate('shop', { type: 'abort' });
    await until(() => status('web').stableRevision === v1.web && status('api').abort, 10_000, 'web back on v1, api aborted');
    expect(status('web')).toMatchObject({ stableRevision: v1.web, canaryRevision: v2.web, abort: true, phase: 'Degraded', weights: { canary: 0, stable: 100 } });
    expect(h.store.getRelease('shop')).toMatchObject({ phase: 'aborted', abortGraceUntilMs: abortedAtMs + 5000 });
    // A new client and a client pinned to the old version get v1 everywhere.
    expect(await versionOf('/', PAGE)).toBe('v1');
    expect(await versionOf('/api/cart', API)).toBe('v1');
    expect(await versionOf('/', PAGE, stablePinned)).toBe('v1');
    expect(await versionOf('/api/cart', API, stablePinned)).toBe('v1');
    // And so after the abort grace, when no pin routes are left: left on v2, web would serve every
    // user a v2 page whose API calls go to api v1.
    h.clock.now = abortedAtMs + 5000;
    await new Promise((r) => setTimeout(r, 300));
    for (const token of [undefined, stablePinned]) {
      expect([await versionOf('/', PAGE, token), await versionOf('/app.js', { accept: '*/*', 'sec-fetch-mode': 'no-cors' }, token), await versionOf('/api/cart', API, token)]).toEqual(['v1', 'v1', 'v1']);
    }
    // Said where people look: web's events name the switch back and why.
    const reasons = h.store.listEvents({ service: 'web' }).map((e) => `${e.reason}: ${e.message}`);
    expect(reasons).toContain('ReleaseRevertPromoted: release shop: abort by operator');
    expect(reasons).toContain(`RevertedToPrevious: Switched all traffic back to ${v1.web} at once (its instances were still up); ${v2.web} stays as an aborted canary`);

    // Retry runs the whole release again, web included, from its first step.
    rmSync(join(dir, 'unhealthy-api-v2'));
    await h.controller.operate('shop', { type: 'retry' });
    await until(() => ['web', 'api'].every((s) => status(s).phase === 'Paused' && status(s).weights.canary === 50), 20_000, 'both members at the gate again');
    expect([status('web').stableRevision, status('web').canaryRevision, status('api').stableRevision, status('api').canaryRevision]).toEqual([v1.web, v2.web, v1.api, v2.api]);
  }, 60_000);
});
