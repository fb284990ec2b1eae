import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DaemonStartError, startLocalDaemon, type LocalDaemon } from '../../src/controller/local/daemon.js';
import { appYaml, until } from '../fixtures/controller/local-harness.js';

const SERVER = resolve(import.meta.dirname, '../fixtures/e2e/server.mjs');

let daemon: LocalDaemon | undefined;
afterEach(async () => {
  await daemon?.stop({ stopInstances: true });
  daemon = undefined;
});

function appDir(yaml: string): { appFile: string; stateDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'graylane-nginx-daemon-'));
  copyFileSync(SERVER, join(dir, 'server.mjs'));
  const stateDir = join(dir, '.graylane');
  mkdirSync(stateDir, { recursive: true });
  const appFile = join(dir, 'graylane.yaml');
  writeFileSync(appFile, yaml);
  return { appFile, stateDir };
}

const withNginx = (yaml: string) => yaml.replace('spec:\n', 'spec:\n  router: {type: nginx, workers: 1}\n');
const start = (s: { appFile: string; stateDir: string }) =>
  startLocalDaemon({ appFile: s.appFile, stateDir: s.stateDir, adminToken: 'x'.repeat(32), listen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs: 2000 });

/**
 * Versions served for `n` requests, each on a new connection: this test is about the daemon's
 * wiring; keep-alive across reloads is the nginx control's own test (an idle keep-alive connection
 * an old worker closes as a request arrives on it is a race nginx has, see the report of issue 17).
 */
async function versions(url: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fetch(url, { headers: { connection: 'close' } });
    const text = await r.text();
    if (r.status !== 200) throw new Error(`${r.status} ${text.slice(0, 200)}`);
    out.push((JSON.parse(text) as { version: string }).version);
  }
  return out;
}

describe('the daemon with router.type nginx', () => {
  it('serves the App through nginx and moves it to a new version', async () => {
    const s = appDir(withNginx(appYaml({ version: 'v1' })));
    daemon = await start(s);
    await until(() => daemon!.controller.get('app').phase === 'Healthy' && daemon!.controller.get('app').revisions[0]?.ready === 2, 20_000, 'healthy');
    // Ready instances are routed once nginx has reloaded, a moment after the probes pass.
    await until(async () => (await fetch(daemon!.routerUrl, { headers: { connection: 'close' } })).status === 200 || undefined, 10_000, 'routed through nginx');
    // Instances become ready one by one, each a reload: wait until nginx's configuration has both.
    // The first 200 does not say a reload is over: for about 100 ms of each one nginx's new workers
    // (the new table) and its old ones (the table with no ready instance: 503) both accept, and the
    // reload is applied only once the old ones stopped; src/router/control/nginx/nginx-reload.test.ts
    // shows no request sent after that is answered from the older table.
    await until(() => readFileSync(join(s.stateDir, 'nginx', 'routes.conf'), 'utf8').split('server 127.0.0.1:').length === 3 || undefined, 10_000, 'both instances in nginx');
    await new Promise((r) => setTimeout(r, 500));
    expect(new Set(await versions(daemon.routerUrl, 6))).toEqual(new Set(['v1']));
    const v2 = withNginx(appYaml({ version: 'v2' }));
    writeFileSync(s.appFile, v2);
    await daemon.controller.apply({ text: v2, file: s.appFile });
    await until(async () => (await versions(daemon!.routerUrl, 4)).every((v) => v === 'v2') || undefined, 30_000, 'all traffic on v2');
    // nginx's access log fed the counters that status shows.
    await until(() => daemon!.controller.get('app').revisions.some((r) => r.requestsPerSecond > 0) || undefined, 5_000, 'traffic counted');
    await until(() => daemon!.controller.get('app').revisions.length === 1 || undefined, 30_000, 'v1 retired after its drain');
  }, 90_000);

  it('refuses an App with a release under nginx before starting anything', async () => {
    const yaml = withNginx(appYaml({ version: 'v1' })) + '  releases:\n  - name: r\n    services: [app]\n    pinning: {cookie: graylane-release}\n    strategy: {canary: {steps: [{setWeight: 20}]}}\n';
    const err = await start(appDir(yaml)).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonStartError);
    expect((err as DaemonStartError).code).toBe('InvalidApp');
    expect((err as DaemonStartError).details.join('\n')).toContain('release r (with pinning) cannot run under router.type nginx: an nginx configuration cannot issue or check signed version tokens');
  }, 30_000);
});
