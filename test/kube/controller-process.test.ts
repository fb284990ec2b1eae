/**
 * `graylane controller` as a real child process (the built CLI, dist/, as the other e2e tests run
 * it) against the fake API server: it becomes ready, rolls a Rollout out, and exits 0 on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { apply, documents, readRollout, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { readFileSync } from 'node:fs';
import { writeKubeconfig } from '../fixtures/kube/kubeconfig.js';
import { freePort } from '../fixtures/free-port.js';
import { signalChild } from '../../src/lib/signal-child.js';

const ROOT = resolve(import.meta.dirname, '../..');
let cluster: Cluster | undefined;
let dir: string | undefined;
afterEach(async () => {
  await cluster?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});


describe('graylane controller as a process', () => {
  it('becomes ready, rolls seed 001 out to Healthy, serves /metrics, and exits 0 on SIGTERM within a few seconds', async () => {
    const c = (cluster = await startCluster());
    dir = await mkdtemp(join(tmpdir(), 'graylane-controller-proc-'));
    const kubeconfig = await writeKubeconfig({ server: c.server, dir });
    await apply(c, documents(readFileSync(join(ROOT, 'examples/kubernetes/001-blue-green.yaml'), 'utf8')));
    const [health, metrics] = [await freePort(), await freePort()];
    let out = '';
    const proc = spawn(process.execPath, [join(ROOT, 'bin/graylane.js'), 'controller', '--kubeconfig', kubeconfig, '--leader-elect',
      '--health-addr', `127.0.0.1:${health}`, '--metrics-addr', `127.0.0.1:${metrics}`, '--workers', '2'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, POD_NAME: 'controller-0' } });
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
    try {
      // Generous: a CLI child process loading the Kubernetes client on a CI machine running other
      // suites took over 20 s once. Its output is in the error, to tell slow from stuck.
      const said = (err: unknown) => new Error(`${(err as Error).message}; the controller's output:\n${out.slice(-3000)}`);
      await until('/readyz 200', () => fetch(`http://127.0.0.1:${health}/readyz`).then((r) => r.status, () => 0), (s) => s === 200, { timeoutMs: 60_000 }).catch((err: unknown) => { throw said(err); });
      await until('Healthy', () => readRollout(c, 'default', 'demo'), (r) => r.status?.phase === 'Healthy', { timeoutMs: 30_000 }).catch((err: unknown) => { throw said(err); });
      const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
      expect(text).toContain('graylane_leader 1');
      expect(text).toMatch(/graylane_reconcile_duration_seconds_count\{outcome="success"\} [1-9]/);
      expect(text).toContain('graylane_informer_synced{kind="Rollout"} 1');
      const leases = c.kc.makeApiClient(CoordinationV1Api);
      expect((await leases.readNamespacedLease({ namespace: 'default', name: 'graylane-controller' })).spec?.holderIdentity).toBe('controller-0');
      const started = Date.now();
      signalChild(proc, 'SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(5000);
      const logs = out.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; holder?: string });
      expect(logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['controller started', 'leader election: leading', 'stopping', 'controller stopped']));
      // Released on the way out: a successor need not wait for the Lease to expire.
      expect((await leases.readNamespacedLease({ namespace: 'default', name: 'graylane-controller' })).spec?.holderIdentity ?? '').toBe('');
    } finally {
      if (proc.exitCode === null) signalChild(proc, 'SIGKILL');
    }
  }, 120_000);
});
