/**
 * Releases with version pinning, end to end: the shop's web (hashed assets) and api, v1 → v2
 * where the v2 page needs the v2 API, under simulated browser users keeping their cookies. With
 * the release, no user sees a missing asset or a mismatched API; the same rollout as two
 * independent canaries shows those errors, so the pinning is what removes them.
 */
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { examplesDir, runSimulatedUsers, type SimulatedUsersReport } from '../../src/demo/index.js';
import { cli, startDaemon, stopDaemon, waitFor, type Daemon } from './harness.js';
import type { ServiceView } from '../../src/controller/view-model.js';

let daemon: Daemon | undefined;
afterEach(async () => {
  if (daemon) await stopDaemon(daemon);
  daemon = undefined;
});

const steps = (final: string) => `        steps:
        - setWeight: 30
        - pause: {duration: 2s}
        - setWeight: 60
        - pause: ${final}`;

/**
 * The shop with a release of web and api, or (withRelease false) the same steps per service. Three
 * probe failures make an instance unready (Kubernetes' default): on a loaded CI machine a single
 * probe timing out took a canary's API out, and the router rightly fell back to stable for it.
 */
function shopApp(dir: string, o: { version: string; withRelease: boolean; finalPause?: string; releaseSteps?: string }): string {
  const strategy = `    strategy:\n      canary:\n${steps(o.finalPause ?? '{duration: 2s}').replace(/^ {8}/gm, '          ')}\n`;
  const service = (name: string, prefix: string) => `  - name: ${name}
    pathPrefix: ${prefix}
    replicas: 2
    process:
      command: [node, server.js]
      cwd: ./${name}
      env: {VERSION: ${o.version}}
      readinessProbe: {httpGet: {path: /healthz}, periodSeconds: 0.2, failureThreshold: 3}
      terminationGracePeriodSeconds: 5
${o.withRelease ? '' : strategy}`;
  const release = `  releases:
  - name: shop
    services: [web, api]
    pinning: {skewWindow: 5s}
    strategy:
      canary:
${o.releaseSteps ?? steps(o.finalPause ?? '{duration: 2s}')}
`;
  const file = join(dir, 'graylane.yaml');
  writeFileSync(file, `apiVersion: graylane.dev/v1alpha1
kind: App
metadata: {name: shop}
spec:
  services:
${service('web', '/')}${service('api', '/api')}${o.withRelease ? release : ''}`);
  return file;
}

async function setUp(withRelease: boolean, finalPause?: string, releaseSteps?: string): Promise<{ d: Daemon; file: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-release-'));
  cpSync(join(examplesDir(), 'shop'), dir, { recursive: true });
  const file = shopApp(dir, { version: 'v1', withRelease, finalPause, releaseSteps });
  const d = await startDaemon(dir);
  daemon = d;
  await waitFor(async () => {
    const { services } = JSON.parse((await cli(d.stateDir, ['get', '--json'])).out) as { services: ServiceView[] };
    return services.filter((s) => s.kind === 'service').every((s) => s.phase === 'Healthy');
  }, 30_000, 'shop v1 healthy');
  return { d, file, dir };
}

async function view(d: Daemon, name: string): Promise<ServiceView> {
  return JSON.parse((await cli(d.stateDir, ['status', name, '--json'])).out) as ServiceView;
}

async function rolloutUnderUsers(d: Daemon, apply: () => Promise<void>, done: () => Promise<boolean>): Promise<SimulatedUsersReport> {
  const users = new AbortController();
  const report = runSimulatedUsers({ baseUrl: d.info.routerUrl, pageLoadsPerSecond: 25, users: 40, signal: users.signal });
  await new Promise((r) => setTimeout(r, 1500));
  await apply();
  await waitFor(done, 60_000, 'rollout done');
  await new Promise((r) => setTimeout(r, 1500));
  users.abort();
  return report;
}

const bothOn = (version: string) => async (d: Daemon) => {
  const web = await view(d, 'web');
  const api = await view(d, 'api');
  return [web, api].every((v) => v.phase === 'Healthy' && v.revisions.filter((r) => r.weight > 0).length === 1 && v.revisions.find((r) => r.weight === 100)?.number === 2) && version === 'v2';
};

/** Whether web and api have revision 2 alone left (the old ones retired: no instances, no traffic). */
async function onlyOneRevisionRouted(d: Daemon): Promise<boolean> {
  for (const name of ['web', 'api']) {
    const v = await view(d, name);
    if (v.revisions.length !== 1 || v.revisions[0]!.number !== 2) return false;
  }
  return true;
}

describe('a release of web and api with version pinning', () => {
  it('v1 → v2 under simulated browser users, through the skew window to the old revisions retired: zero asset 404s, zero version mismatches, zero failed requests', async () => {
    const { d, file, dir } = await setUp(true);
    // Users keep loading pages until the release is over: promoted, its skew window passed, and
    // the old revisions out of the router's table.
    let promoted = false;
    const report = await rolloutUnderUsers(
      d,
      async () => {
        shopApp(dir, { version: 'v2', withRelease: true });
        expect((await cli(d.stateDir, ['apply', '-f', file])).code).toBe(0);
      },
      async () => {
        const shop = await view(d, 'shop');
        promoted ||= shop.skewWindowEndsAtMs !== undefined;
        return promoted && shop.skewWindowEndsAtMs === undefined && (await bothOn('v2')(d)) && (await onlyOneRevisionRouted(d));
      },
    );
    expect(report.pageLoads).toBeGreaterThan(100);
    expect(report.pageVersions.v1).toBeGreaterThan(0);
    expect(report.pageVersions.v2).toBeGreaterThan(0);
    expect({ assets: report.assetNotFound, mismatches: report.versionMismatches, contract: report.contractErrors, failed: report.failedRequests })
      .toEqual({ assets: 0, mismatches: 0, contract: 0, failed: 0 });
    const release = await view(d, 'shop');
    expect(release.kind).toBe('release');
  }, 120_000);

  it('an abort moves canary-pinned users back to stable at once, still without skew errors', async () => {
    const { d, file, dir } = await setUp(true, '{}');
    const report = await rolloutUnderUsers(
      d,
      async () => {
        shopApp(dir, { version: 'v2', withRelease: true, finalPause: '{}' });
        await cli(d.stateDir, ['apply', '-f', file]);
        await waitFor(async () => (await view(d, 'shop')).step === 4, 30_000, 'release at its last pause');
        await new Promise((r) => setTimeout(r, 2000));
        expect((await cli(d.stateDir, ['abort', 'shop'])).code).toBe(0);
      },
      async () => (await view(d, 'web')).phase === 'Degraded' && (await view(d, 'api')).phase === 'Degraded',
    );
    expect(report.pageVersions.v2).toBeGreaterThan(0);
    expect({ assets: report.assetNotFound, mismatches: report.versionMismatches, contract: report.contractErrors, failed: report.failedRequests })
      .toEqual({ assets: 0, mismatches: 0, contract: 0, failed: 0 });
    const status = await cli(d.stateDir, ['status', 'shop']);
    expect(status.code).toBe(1);
  }, 120_000);

  it('at setWeight 50 the canary serves half the page loads of users who were there before the release, with no skew errors', async () => {
    const halfway = `        steps:
        - setWeight: 50
        - pause: {}`;
    const { d, file, dir } = await setUp(true, undefined, halfway);
    // 40 users, each loading a page about every 0.5 s: the page, its assets, one API call.
    const pages: { atMs: number; version: string | undefined }[] = [];
    const problems: string[] = [];
    const users = new AbortController();
    const report = runSimulatedUsers({
      baseUrl: d.info.routerUrl, pageLoadsPerSecond: 80, users: 40, apiCallsPerPage: 1, signal: users.signal,
      onResult: (r) => {
        pages.push({ atMs: Date.now(), version: r.pageVersion });
        problems.push(...r.problems);
      },
    });
    try {
      // Every user has its token (on v1) before the release starts.
      await new Promise((r) => setTimeout(r, 1500));
      shopApp(dir, { version: 'v2', withRelease: true, releaseSteps: halfway });
      expect((await cli(d.stateDir, ['apply', '-f', file])).code).toBe(0);
      const pausedAtMs = await waitFor(async () => {
        const shop = await view(d, 'shop');
        return shop.phase === 'Paused' && shop.releaseTraffic?.weight === 50 ? Date.now() : undefined;
      }, 30_000, 'release paused at 50%');
      await new Promise((r) => setTimeout(r, 8000));
      // The last 6 s of the pause: page loads that started after the weight was in force.
      const during = pages.filter((p) => p.atMs >= pausedAtMs + 2000);
      const v2 = during.filter((p) => p.version === 'v2').length;
      expect(during.length).toBeGreaterThan(200);
      expect(Math.abs((v2 / during.length) * 100 - 50)).toBeLessThanOrEqual(15);
      // status shows the share the router saw beside the weight.
      const shop = await view(d, 'shop');
      const t = shop.releaseTraffic!;
      expect(t.weight).toBe(50);
      expect(t.pageLoads.canary).toBeGreaterThan(0);
      const text = (await cli(d.stateDir, ['status', 'shop'])).out;
      expect(text).toMatch(/canary served \d+\.\d% of \d+ page loads, \d+\.\d% of \d+ requests in the last 30 s \(weight 50%\)/);
      expect((await cli(d.stateDir, ['promote', 'shop'])).code).toBe(0);
      await waitFor(() => bothOn('v2')(d), 30_000, 'release promoted');
    } finally {
      users.abort();
    }
    const seen = await report;
    expect(problems.slice(0, 5)).toEqual([]);
    expect({ assets: seen.assetNotFound, mismatches: seen.versionMismatches, contract: seen.contractErrors, failed: seen.failedRequests })
      .toEqual({ assets: 0, mismatches: 0, contract: 0, failed: 0 });
  }, 90_000);

  it('the same rollout as two independent canaries (no release) shows the skew errors pinning removes', async () => {
    const { d, file, dir } = await setUp(false);
    const report = await rolloutUnderUsers(
      d,
      async () => {
        shopApp(dir, { version: 'v2', withRelease: false });
        await cli(d.stateDir, ['apply', '-f', file]);
      },
      () => bothOn('v2')(d),
    );
    expect(report.assetNotFound + report.versionMismatches + report.contractErrors).toBeGreaterThan(0);
  }, 120_000);
});
