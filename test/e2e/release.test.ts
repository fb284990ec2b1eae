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

/** The shop with a release of web and api, or (withRelease false) the same steps per service. */
function shopApp(dir: string, o: { version: string; withRelease: boolean; finalPause?: string }): string {
  const strategy = `    strategy:\n      canary:\n${steps(o.finalPause ?? '{duration: 2s}').replace(/^ {8}/gm, '          ')}\n`;
  const service = (name: string, prefix: string) => `  - name: ${name}
    pathPrefix: ${prefix}
    replicas: 2
    process:
      command: [node, server.js]
      cwd: ./${name}
      env: {VERSION: ${o.version}}
      readinessProbe: {httpGet: {path: /healthz}, periodSeconds: 0.2, failureThreshold: 1}
      terminationGracePeriodSeconds: 5
${o.withRelease ? '' : strategy}`;
  const release = `  releases:
  - name: shop
    services: [web, api]
    pinning: {skewWindow: 5s}
    strategy:
      canary:
${steps(o.finalPause ?? '{duration: 2s}')}
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

async function setUp(withRelease: boolean, finalPause?: string): Promise<{ d: Daemon; file: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-release-'));
  cpSync(join(examplesDir(), 'shop'), dir, { recursive: true });
  const file = shopApp(dir, { version: 'v1', withRelease, finalPause });
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

describe('a release of web and api with version pinning', () => {
  it('v1 → v2 under simulated browser users: zero asset 404s, zero version mismatches, zero failed requests', async () => {
    const { d, file, dir } = await setUp(true);
    const report = await rolloutUnderUsers(
      d,
      async () => {
        shopApp(dir, { version: 'v2', withRelease: true });
        expect((await cli(d.stateDir, ['apply', '-f', file])).code).toBe(0);
      },
      () => bothOn('v2')(d),
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
