// The read verbs against a Kubernetes cluster (the fake API server): the daemon's view built from
// the Rollout, its ReplicaSets and pods; `status --wait` following the Rollout through a watch;
// and the failures (not found, unreachable, an error answer, a bad configuration).
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { contractIssues, ServiceViewSchema } from '../../src/api/contract/index.js';
import { main } from '../../src/cli/main.js';
import { initialStatus } from '../../src/engine/index.js';
import { writeKubeconfig } from '../fixtures/kube/kubeconfig.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';
import { healthyOn, pausedAtStep2, startTestCluster, T0, type TestCluster } from './cluster-fixture.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

async function start(options: Parameters<typeof startTestCluster>[0] = {}): Promise<TestCluster> {
  cluster = await startTestCluster(options);
  return cluster;
}

describe('reading a Rollout in a cluster', () => {
  it('status --json is the daemon\'s view: its contract, revisions by number with weights and ready pods', async () => {
    const c = await start();
    await c.podsReady(2);
    const r = await c.run(['status', 'web', '--json']);
    expect(r).toMatchObject({ code: 0, err: '' });
    const view = JSON.parse(r.out);
    expect(contractIssues(ServiceViewSchema, view)).toEqual([]);
    expect(view).toMatchObject({ name: 'web', namespace: 'team', kind: 'service', strategy: 'canary', phase: 'Paused', step: 2, steps: 4, version: 1, done: false, terminal: false, pauseReasons: ['CanaryPauseStep'] });
    expect(view.revisions.map((v: { number: number; name: string; role: string; weight: number; ready: number; total: number }) => [v.number, v.name, v.role, v.weight, v.ready, v.total]))
      .toEqual([[1, 'aaa111', 'stable', 80, 1, 1], [2, 'bbb222', 'canary', 20, 1, 1]]);
    expect(view.revisions[1].instances[0]).toMatchObject({ id: expect.stringMatching(/^team\/web-bbb222-/), state: 'ready', restarts: 0 });
  });

  it('status prints the same text as on a single host; get lists the namespace\'s Rollouts', async () => {
    const c = await start();
    const status = await c.run(['status', 'web']);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/^web \(canary\) {2}Paused {2}step 2\/4\n {2}paused: promote to go on\n/);
    expect(status.out).toMatch(/#1 aaa111\s+stable\s+80%/);
    const get = await c.run(['get']);
    expect(get.code).toBe(0);
    expect(get.out.split('\n')[1]).toMatch(/^web\s+canary\s+Paused\s+2\/4\s+#1:80% #2:20%/);
    const json = JSON.parse((await c.run(['get', '--json'])).out);
    expect(json.services.map((s: { name: string }) => s.name)).toEqual(['web']);
    let out = '';
    const io = { out: (s: string) => void (out += s), err: () => {}, isTty: false, cwd: c.dir, env: {} };
    expect(await main(['get', '--kubeconfig', c.kubeconfigPath, '-n', 'elsewhere'], io)).toBe(0);
    expect(out).toBe('no graylane Rollouts in namespace elsewhere (context fake)\n');
  });

  it('history lists the ReplicaSets by revision annotation, newest first, with their images', async () => {
    const c = await start();
    const r = await c.run(['history', 'web']);
    expect(r.code).toBe(0);
    const rows = r.out.trim().split('\n');
    expect(rows[0]).toMatch(/^REVISION\s+NAME\s+ROLE\s+CREATED\s+CHANGE$/);
    expect(rows[1]).toMatch(/^#2\s+bbb222\s+canary\s+\S+\s+app=web:2$/);
    expect(rows[2]).toMatch(/^#1\s+aaa111\s+stable\s+\S+\s+app=web:1$/);
  });

  it('a Rollout not found is the daemon\'s not-found: exit 2, naming the ones there are', async () => {
    const c = await start();
    for (const args of [['status', 'nope'], ['promote', 'nope'], ['history', 'nope'], ['undo', 'nope']]) {
      expect(await c.run(args)).toMatchObject({ code: 2, out: '', err: 'error: no service "nope" in namespace team; services: web\n' });
    }
  });

  it('an error answer of the API server is reported with what was asked (exit 1)', async () => {
    const c = await start();
    c.server.injectFault({ status: 500, pathIncludes: '/rollouts/web' });
    const r = await c.run(['status', 'web']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: the cluster answered 500 to reading rollout team\/web: Internal error occurred: injected by the test\n$/);
  });

  it('an unreachable cluster exits 3 with a sentence', async () => {
    const c = await start();
    const port = await closedPort();
    const dir = c.dir;
    const path = await writeKubeconfig({ server: { url: `http://127.0.0.1:${port}`, token: undefined } as never, dir: `${dir}` });
    for (const args of [['get'], ['status', 'web'], ['promote', 'web']]) {
      const r = await c.run(args, { kubeconfigPath: path });
      expect(r.code).toBe(3);
      expect(r.err).toMatch(new RegExp(`^error: cannot reach the Kubernetes API server at http://127.0.0.1:${port} \\(context fake\\): ECONNREFUSED\\. Is the cluster up`));
    }
  });

  it('a cluster that takes the connection but never answers is given up on after --request-timeout, with a sentence', async () => {
    const c = await start();
    // Accepts and reads, never answers: an API server that hangs, or a connection dropped on the way.
    const silent = createServer((socket) => socket.resume());
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
      const path = await writeKubeconfig({ server: { url, token: undefined } as never, dir: `${c.dir}` });
      for (const args of [['status', 'web'], ['promote', 'web']]) {
        const started = performance.now();
        const r = await c.run([...args, '--request-timeout', '300ms'], { kubeconfigPath: path });
        expect(performance.now() - started).toBeLessThan(20_000);
        expect(r.code).toBe(3);
        expect(r.err).toMatch(new RegExp(`^error: the Kubernetes API server at ${url} \\(context fake\\) did not answer .* within 0\\.3 s`));
      }
    } finally {
      silent.close();
    }
  });

  it('--request-timeout takes a duration above 0, and on its own means the cluster as the other cluster flags do', async () => {
    const c = await start();
    for (const value of ['soon', '0', '-1s']) {
      expect(await c.run(['get', '--request-timeout', value])).toMatchObject({ code: 2, err: `error: --request-timeout: "${value}" is not a duration above 0 (e.g. 10s, 500ms, 2m)\n` });
    }
    let out = '';
    // No other cluster flag, no GRAYLANE_TARGET: the cluster of $KUBECONFIG all the same (a bare number is seconds).
    const io = { out: (s: string) => void (out += s), err: () => {}, isTty: false, cwd: c.dir, env: { KUBECONFIG: c.kubeconfigPath } };
    expect(await main(['get', '--request-timeout', '10'], io)).toBe(0);
    expect(out).toBe('no graylane Rollouts in namespace default (context fake)\n');
  });

  it('a bad configuration is a usage error: unknown context, --state-dir with a cluster flag', async () => {
    const c = await start();
    expect(await c.run(['get', '--context', 'nope'])).toMatchObject({ code: 2, err: 'error: context "nope" does not exist; the contexts are: fake\n' });
    let err = '';
    expect(await main(['get', '--kubeconfig', c.kubeconfigPath, '-n', ''], { out: () => {}, err: (s) => void (err += s), isTty: false, cwd: c.dir, env: {} })).toBe(2);
    expect(err).toBe('error: -n/--namespace needs a namespace name\n');
    expect(await c.run(['get', '--state-dir', c.dir])).toMatchObject({ code: 2, err: 'error: --state-dir names a daemon and the cluster flags a cluster: give one or the other\n' });
  });

  it('--cluster or GRAYLANE_TARGET=cluster finds the cluster through $KUBECONFIG and the context\'s namespace; daemon-only verbs refuse', async () => {
    const c = await start();
    const path = await writeKubeconfig({ server: c.server, dir: `${c.dir}`, namespace: 'team' });
    let out = '';
    let err = '';
    const io = { out: (s: string) => void (out += s), err: (s: string) => void (err += s), isTty: false, cwd: c.dir, env: { GRAYLANE_TARGET: 'cluster', KUBECONFIG: path } };
    expect(await main(['get'], io)).toBe(0);
    expect(out).toMatch(/\nweb\s+canary\s+Paused/);
    out = '';
    expect(await main(['get', '--cluster'], { ...io, env: { KUBECONFIG: path } })).toBe(0);
    expect(out).toMatch(/\nweb\s+canary\s+Paused/);
    expect(await main(['logs', 'web'], io)).toBe(2);
    expect(err).toMatch(/^error: this command works with the graylane daemon only, not against a cluster/);
  });
});

describe('status --wait against a cluster', () => {
  it('exits 0 once the controller writes Healthy with all traffic on the new revision', async () => {
    const c = await start();
    const waiting = c.run(['status', 'web', '--wait', '--timeout', '20s']);
    await new Promise((r) => setTimeout(r, 300));
    await c.commit(healthyOn('bbb222'), { stableRevision: 'bbb222', canaryRevision: 'bbb222', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] });
    const r = await waiting;
    expect(r.code).toBe(0);
    // The view as it was, then as it ended.
    expect(r.out).toMatch(/^web \(canary\) {2}Paused {2}step 2\/4\n/);
    expect(r.out).toMatch(/\nweb \(canary\) {2}Healthy\n {2}healthy\n/);
  });

  it('exits 1 once the rollout is Degraded', async () => {
    const c = await start();
    const waiting = c.run(['status', 'web', '--wait', '--timeout', '20s', '--json']);
    await new Promise((r) => setTimeout(r, 300));
    await c.commit({ ...pausedAtStep2(), phase: 'Degraded', abort: true, abortedAtMs: T0, pauseConditions: [], weights: { canary: 0, stable: 100 } });
    const r = await waiting;
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out.trim().split('\n').at(-1)!)).toMatchObject({ phase: 'Degraded', aborted: true, terminal: true });
  });

  it('exits 2 with the daemon\'s not-found when the Rollout is deleted while it waits', async () => {
    const c = await start();
    const waiting = c.run(['status', 'web', '--wait', '--timeout', '20s']);
    await new Promise((r) => setTimeout(r, 300));
    await rawRequest({ server: c.server, method: 'DELETE', path: '/apis/graylane.dev/v1alpha1/namespaces/team/rollouts/web' });
    expect(await waiting).toMatchObject({ code: 2, err: 'error: no service "web" in namespace team; it has no graylane Rollouts\n' });
  });

  it('gives up after --timeout with exit 1 when nothing finishes', async () => {
    const c = await start({ status: { ...initialStatus(T0), ...pausedAtStep2() } });
    const r = await c.run(['status', 'web', '--wait', '--timeout', '500ms']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('error: web did not finish within 500ms: it is Paused at step 2/4\n');
  });
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}
