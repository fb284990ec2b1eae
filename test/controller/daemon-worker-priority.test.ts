/** `spec.router.workerPriority` in an App run by `graylane up`'s daemon. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DaemonStartError, startLocalDaemon, type LocalDaemon } from '../../src/controller/local/daemon.js';
import { tempDir } from '../fixtures/router/certificates.js';
import { freePort, startUpstream } from '../fixtures/router/support.js';
import { supervisorChildren } from '../fixtures/router/supervisor-children.js';

const cleanups: (() => Promise<void> | void)[] = [];
let daemon: LocalDaemon | undefined;
afterEach(async () => {
  await daemon?.stop({ stopInstances: true });
  daemon = undefined;
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function appFile(router: string): Promise<{ appFile: string; stateDir: string }> {
  const t = tempDir();
  cleanups.push(t.remove);
  const upstream = await startUpstream('web');
  cleanups.push(upstream.close);
  const file = join(t.dir, 'app.yaml');
  writeFileSync(file, `apiVersion: graylane.dev/v1alpha1\nkind: App\nmetadata: {name: shop}\nspec:\n  router: ${router}\n  services:\n  - name: web\n    targets: ['${upstream.address}']\n`);
  mkdirSync(join(t.dir, 'state'));
  return { appFile: file, stateDir: join(t.dir, 'state') };
}

describe('spec.router.workerPriority', () => {
  it('is refused, naming the field and saying why, when --router-workers 0 puts the router inside the daemon; nothing is started', async () => {
    const { appFile: file, stateDir } = await appFile('{workerPriority: -5}');
    const err = await startLocalDaemon({ appFile: file, stateDir, adminToken: 'x'.repeat(32), listen: { host: '127.0.0.1', port: 0 }, routerWorkers: 0 }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonStartError);
    expect(err).toMatchObject({ code: 'InvalidApp', details: ['spec.router.workerPriority: needs router workers (spec.router.workers ≥ 1, or graylane up --router-workers): with 0 the router runs inside the daemon, whose priority every app process it starts would inherit'] });
    expect(readdirSync(stateDir)).toEqual([]);
  });

  it.skipIf(process.platform !== 'linux')('gives the supervisor\'s workers the priority, and leaves the daemon\'s own alone', async () => {
    const { appFile: file, stateDir } = await appFile('{workers: 1, workerPriority: 3}');
    const own = getPriority();
    daemon = await startLocalDaemon({ appFile: file, stateDir, adminToken: 'x'.repeat(32), listen: { host: '127.0.0.1', port: 0 }, drainTimeoutMs: 500 });
    expect(daemon.warnings).toEqual([]);
    const supervisor = daemon.routerSupervisor!;
    const { workers } = supervisorChildren(supervisor.pid);
    expect(workers).toHaveLength(1);
    expect(workers.map((pid) => getPriority(pid))).toEqual([3]);
    expect([getPriority(), getPriority(supervisor.pid)]).toEqual([own, own]);
  }, 40_000);

  /** Runs `graylane up`'s daemon for `appFile` without CAP_SYS_NICE (dropped by setpriv); what it warned. */
  function warningsWithoutSysNice(file: string, stateDir: string, port: number): string[] {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const module = pathToFileURL(new URL('../../src/controller/local/daemon.ts', import.meta.url).pathname).href;
    const script = `
      import { startLocalDaemon } from ${JSON.stringify(module)};
      const d = await startLocalDaemon({ appFile: ${JSON.stringify(file)}, stateDir: ${JSON.stringify(stateDir)}, adminToken: 'x'.repeat(32), listen: { host: '127.0.0.1', port: ${port} }, drainTimeoutMs: 500 });
      await d.stop({ stopInstances: true });
      console.log(JSON.stringify(d.warnings));
    `;
    const out = execFileSync('/usr/bin/setpriv', ['--bounding-set', '-sys_nice', '--inh-caps', '-sys_nice', process.execPath, '--import', tsx, '--input-type=module', '-e', script], { encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').at(-1)!) as string[];
  }

  it.skipIf(process.getuid?.() !== 0 || !existsSync('/usr/bin/setpriv') || !existsSync('/usr/sbin/nginx') || !existsSync('/proc/self/autogroup'))('with nginx as the data plane, a priority the system refuses is a warning of the start, which goes on', async () => {
    const { appFile: file, stateDir } = await appFile('{type: nginx, workers: 1, workerPriority: -5}');
    expect(warningsWithoutSysNice(file, stateDir, await freePort())).toEqual([
      'nginx\'s workers cannot be given priority -5 (EPERM: a priority below 0 needs root or CAP_SYS_NICE); they run at the default',
    ]);
  }, 60_000);
});
