// The README's Kubernetes tour, run literally: its ```sh block is read from the README of a fresh
// clone and each line runs as written through `sh` from the clone's root, with the real `kubectl`
// and the built CLI, against the in-repo fake API server (KUBECONFIG points at it). What a real
// cluster brings and the fake does not is supplied here and nowhere else: the controller the
// install's Deployment would run is started in-process once the install is applied, Istio's CRDs
// are there from the start ("Istio installed"), and the simulated kubelet makes pods ready. The
// edits (an image changed) are done here, as a reader does them in an editor. Between lines the
// objects are read to check what each line's comment promises.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { POD_TEMPLATE_HASH_LABEL } from '../../src/kube/names.js';
import type { RolloutObject } from '../../src/state/kubernetes/kubernetes-state.js';
import { ClusterTestBed, readRollout, runController, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { installKinds } from '../fixtures/kube/install-kinds.js';
import { installIstioCrds } from '../fixtures/kube/istio-crds.js';
import { writeKubeconfig } from '../fixtures/kube/kubeconfig.js';
import { tourLines } from '../fixtures/readme-blocks.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const bed = new ClusterTestBed();
const cleanups: (() => void)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) c();
  await bed.tearDown();
});

interface Ran { code: number | null; out: string }

const selectorOf = async (c: Cluster, namespace: string, name: string) => (await c.core.readNamespacedService({ namespace, name })).spec?.selector?.[POD_TEMPLATE_HASH_LABEL];
/** The VirtualService's routes as `name: stable=W,canary=W[ mirror]`. */
async function routes(c: Cluster): Promise<string> {
  type Http = { name?: string; route: Array<{ destination: { subset: string }; weight: number }>; mirror?: unknown };
  const vs = (await c.custom.getNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: 'kubesphere-demo', plural: 'virtualservices', name: 'service-a' })) as { spec: { http: Http[] } };
  return vs.spec.http.map((r) => `${r.name ?? ''}: ${r.route.map((d) => `${d.destination.subset}=${d.weight}`).join(',')}${r.mirror ? ' mirror' : ''}`).join('; ');
}

// The package kubernetes-client provides it (.ci/run installs it); without it there is nothing to run.
describe.skipIf(!existsSync('/usr/bin/kubectl'))('the README\'s Kubernetes tour, from a fresh clone, against the fake API server (skipped only when /usr/bin/kubectl is absent)', () => {
  it('runs command by command as written', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'graylane-k8s-tour-'));
    const clone = join(tmp, 'graylane');
    execFileSync('git', ['clone', '-q', ROOT, clone]);
    symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(clone, 'node_modules'));
    symlinkSync(join(ROOT, 'dist'), join(clone, 'dist'));
    const children: ChildProcess[] = [];
    cleanups.push(() => {
      for (const child of children) {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // The group is gone already.
        }
      }
      rmSync(tmp, { recursive: true, force: true });
    });

    const c = (bed.cluster = await startCluster({ crds: [], readyAfterMs: 50 }));
    for (const t of installKinds) c.server.cluster.registry.add(t);
    await installIstioCrds(c.server);
    // npx installs a fresh clone into its cache and runs its `prepare` (the 30 s build) on the first
    // call; the clone borrows the built dist/, so that build is skipped (ignore-scripts).
    const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: await writeKubeconfig({ server: c.server, dir: tmp }), npm_config_offline: 'true', npm_config_ignore_scripts: 'true' };
    delete env.GRAYLANE_TARGET;

    const start = (command: string): { proc: ChildProcess; output: () => string; exited: Promise<Ran> } => {
      const proc = spawn('sh', ['-c', command], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(proc);
      let out = '';
      proc.stdout.on('data', (chunk: Buffer) => void (out += chunk.toString()));
      proc.stderr.on('data', (chunk: Buffer) => void (out += chunk.toString()));
      const exited = new Promise<Ran>((r) => proc.once('exit', (code) => r({ code, out })));
      return { proc, output: () => out, exited };
    };
    // Generous: the machine may be loaded (a line takes a few seconds at most otherwise).
    const run = (command: string, timeoutMs = 60_000): Promise<Ran> => {
      const { proc, exited } = start(command);
      const timer = setTimeout(() => process.kill(-proc.pid!, 'SIGKILL'), timeoutMs);
      return exited.finally(() => clearTimeout(timer));
    };
    const edit = (file: string, from: string, to: string): void => {
      const path = join(clone, file);
      const text = readFileSync(path, 'utf8');
      expect(text).toContain(from);
      writeFileSync(path, text.replace(from, to));
    };
    const nginx01 = () => readRollout(c, 'wyq', 'nginx01');
    const serviceA = () => readRollout(c, 'kubesphere-demo', 'service-a');

    const lines = tourLines(readFileSync(join(clone, 'README.md'), 'utf8'), '### A Kubernetes tour');
    expect(lines.map((l) => l.command.split(' ').slice(0, 3).join(' '))).toEqual([
      'npx graylane install', 'kubectl apply -f', 'kubectl wait -n', '', 'kubectl apply -f', 'npx graylane status', 'npx graylane promote', 'npx graylane abort',
      'kubectl apply -f', 'kubectl wait -n', '', 'kubectl apply -f', 'npx graylane set', 'kubectl get virtualservice', 'npx graylane promote', 'kubectl get analysisruns',
    ]);
    let v1 = '';
    let v2 = '';
    for (const { command, comment } of lines) {
      const say = command || comment;
      if (command === '') {
        if (comment.includes('002')) edit('examples/kubernetes/002-canary-paused.yaml', 'image: nginx:1.14', 'image: nginx:1.15');
        else edit('examples/kubernetes/004-kubesphere-istio.yaml', 'service-a:v1', 'service-a:v2');
        continue;
      }
      if (command.includes('--watch')) {
        const watch = start(command);
        await until(say, () => Promise.resolve(watch.output()), (out) => /25 ?%/.test(out) && /Paused/i.test(out));
        process.kill(-watch.proc.pid!, 'SIGINT');
        await watch.exited;
        continue;
      }
      if (command.startsWith('kubectl get virtualservice')) {
        // The controller writes the weight on its next pass; the reader would look again too.
        let r: Ran = { code: null, out: '' };
        for (let i = 0; i < 50 && r.out.trim() !== '70 30'; i++) {
          if (i > 0) await new Promise((res) => setTimeout(res, 200));
          r = await run(command);
        }
        expect(r.out.trim(), say).toBe('70 30');
        continue;
      }
      const r = await run(command);
      expect(r.code, `${say}\n${r.out}`).toBe(0);

      if (command.includes('install kubernetes')) {
        expect(r.out).toContain('customresourcedefinition.apiextensions.k8s.io/rollouts.graylane.dev created');
        expect(r.out).toContain('deployment.apps/graylane-controller created');
        // What the Deployment's pods would run: the fake runs no container, so the controller runs here.
        bed.controller = await runController({ kubeConfig: c.kc, namespace: undefined, log: bed.log });
      } else if (command.includes('002') && !v1) {
        expect(r.out).toContain('rollout.graylane.dev/nginx01 created');
      } else if (command.includes('wait -n wyq')) {
        expect(r.out).toContain('rollout.graylane.dev/nginx01 condition met');
        v1 = (await nginx01()).status!.stableRS!;
        expect(await selectorOf(c, 'wyq', 'nginx01')).toBe(v1);
      } else if (command.includes('002')) {
        expect(r.out).toContain('rollout.graylane.dev/nginx01 configured');
        v2 = (await until('the new revision paused at 25%, 1 pod of 4', nginx01, (o: RolloutObject) => o.status?.phase === 'Paused' && o.status.currentPodHash !== v1 && o.status.updatedReplicas === 1)).status!.currentPodHash!;
        expect([await selectorOf(c, 'wyq', 'nginx01'), await selectorOf(c, 'wyq', 'nginx02')]).toEqual([v1, v2]);
      } else if (command.includes('promote nginx01')) {
        await until('on to 50%: 2 new pods of 4', nginx01, (o) => o.status?.currentStepIndex === 3 && (o.status.updatedReplicas ?? 0) === 2);
      } else if (command.includes('abort nginx01')) {
        await until('aborted, back on the stable pods', nginx01, (o) => o.status?.phase === 'Degraded' && o.status.stableRS === v1);
        expect(await selectorOf(c, 'wyq', 'nginx01')).toBe(v1);
        await until('the new revision scaled to 0', () => c.apps.listNamespacedReplicaSet({ namespace: 'wyq' }),
          (l) => l.items.find((rs) => rs.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL] === v2)?.spec?.replicas === 0);
      } else if (command.includes('004') && !command.includes('wait') && r.out.includes('created')) {
        expect(r.out).toContain('rollout.graylane.dev/service-a created');
      } else if (command.includes('wait -n kubesphere-demo')) {
        expect(r.out).toContain('rollout.graylane.dev/service-a condition met');
        v1 = (await serviceA()).status!.stableRS!;
      } else if (command.includes('004')) {
        expect(r.out).toContain('rollout.graylane.dev/service-a configured');
        v2 = (await until('v2 paused with the mirror', serviceA, (o) => o.status?.phase === 'Paused' && o.status.currentPodHash !== v1)).status!.currentPodHash!;
        expect(await until('half the GETs mirrored', () => routes(c), (s) => s.includes('mirror'))).toBe('mirror-to-v2: stable=100,canary=0 mirror; primary: stable=100,canary=0');
      } else if (command.includes('promote service-a --full')) {
        await until('v2 stable', serviceA, (o) => o.status?.stableRS === v2);
        await until('100/0 on the new pods', () => routes(c), (s) => s === 'primary: stable=100,canary=0');
      } else if (command.includes('analysisruns')) {
        expect(r.out).toMatch(/No resources found/);
      }
    }
  }, 150_000);
});
