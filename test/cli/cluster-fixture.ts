/**
 * A fake cluster for the CLI's verbs against Kubernetes: graylane's CRDs, one canary Rollout
 * (`web` in namespace `team`) with two revisions' ReplicaSets (#1 stable web:1, #2 canary web:2)
 * whose pods the simulated kubelet makes ready, and the engine's memory committed through the
 * real Kubernetes state adapter, as the controller would have written it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { main } from '../../src/cli/main.js';
import { customResourceDefinition } from '../../src/documents/index.js';
import type { RolloutSpec } from '../../src/documents/schema.js';
import { initialStatus, type RolloutStatus, type TrafficInForce } from '../../src/engine/index.js';
import { replicaSetBody } from '../../src/runtime/kubernetes/replica-set-body.js';
import { KubernetesState, type RolloutObject } from '../../src/state/kubernetes/kubernetes-state.js';
import { FakeApiServer } from '../fixtures/kube/fake-api-server.js';
import { kubeConfigFor, writeKubeconfig } from '../fixtures/kube/kubeconfig.js';
import { ListCache } from '../fixtures/kube/list-cache.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';
import { SimulatedWorkloads } from '../fixtures/kube/simulated-workloads.js';

export const NAMESPACE = 'team';
export const T0 = Date.parse('2026-05-01T10:00:00Z');

/** The Rollout's spec: a routed canary of four steps. */
export function canarySpec(image = 'web:2'): RolloutSpec {
  return {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image }] } },
    strategy: {
      canary: {
        canaryService: 'web-canary', stableService: 'web-stable',
        trafficRouting: { nginx: { stableIngress: 'web' } },
        steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }, { pause: {} }],
      },
    },
  };
}

/** The engine's memory of a canary paused at step 2/4 (revision bbb222 over aaa111). */
export function pausedAtStep2(): RolloutStatus {
  return {
    ...initialStatus(T0), phase: 'Paused', reason: 'CanaryPauseStep', stableRevision: 'aaa111', canaryRevision: 'bbb222',
    currentStepIndex: 1, pauseConditions: [{ reason: 'CanaryPauseStep', startedAtMs: T0 }], controllerPause: true, weights: { canary: 20, stable: 80 },
  };
}

/** The engine's memory after a finished rollout of bbb222. */
export function healthyOn(revision: string): RolloutStatus {
  return { ...initialStatus(T0), phase: 'Healthy', stableRevision: revision, canaryRevision: revision, currentStepIndex: 4 };
}

const TRAFFIC: TrafficInForce = { stableRevision: 'aaa111', canaryRevision: 'bbb222', canaryWeight: 20, headerRoutes: [], mirrorRoutes: [] };

/** What a CLI run printed and returned. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** See the file comment. */
export interface TestCluster {
  server: FakeApiServer;
  kubeConfig: KubeConfig;
  /** A kubeconfig file for the fake (context `fake`, namespace `default`). */
  kubeconfigPath: string;
  dir: string;
  /** The CLI with `--kubeconfig <file> -n team` appended. */
  run(args: string[], options?: { kubeconfigPath?: string; env?: Record<string, string> }): Promise<CliRun>;
  /** The Rollout as stored now. */
  stored(): Promise<RolloutObject>;
  /** Commits the engine's memory as the controller does (at the version stored now). */
  commit(status: RolloutStatus, traffic?: TrafficInForce): Promise<void>;
  /** Waits until every pod of the namespace is ready. */
  podsReady(count: number): Promise<void>;
  close(): Promise<void>;
}

async function post(server: FakeApiServer, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await rawRequest({ server, method: 'POST', path, body });
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Starts the fake cluster; `status: undefined` leaves the Rollout without the controller's status. */
export async function startTestCluster(options: { spec?: RolloutSpec; status?: RolloutStatus | undefined } = {}): Promise<TestCluster> {
  const server = await FakeApiServer.start();
  const dir = await mkdtemp(join(tmpdir(), 'graylane-cluster-cli-'));
  const workloads = SimulatedWorkloads.start({ cluster: server.cluster, podBehaviour: () => ({ kind: 'ready', afterMs: 10 }) });
  await post(server, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', customResourceDefinition('Rollout'));
  await post(server, '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
  const spec = options.spec ?? canarySpec();
  const created = await post(server, `/apis/graylane.dev/v1alpha1/namespaces/${NAMESPACE}/rollouts`, { apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'web' }, spec });
  const uid = (created.metadata as { uid: string }).uid;
  for (const [revision, number, image] of [['aaa111', 1, 'web:1'], ['bbb222', 2, 'web:2']] as const) {
    const body = replicaSetBody({
      namespace: NAMESPACE, service: 'web', revision, replicas: 1,
      template: {
        podTemplate: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image }] } },
        selector: { app: 'web' }, owner: { apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', name: 'web', uid }, revisionNumber: number,
      },
    });
    await post(server, `/apis/apps/v1/namespaces/${NAMESPACE}/replicasets`, body);
  }
  const kubeConfig = kubeConfigFor({ server });
  const kubeconfigPath = await writeKubeconfig({ server, dir });
  const stored = async () => (await rawRequest({ server, path: `/apis/graylane.dev/v1alpha1/namespaces/${NAMESPACE}/rollouts/web` })).body as RolloutObject;
  const commit = async (status: RolloutStatus, traffic: TrafficInForce = TRAFFIC) => {
    const rollouts = new ListCache<RolloutObject>({ kubeConfig, apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout' });
    const replicaSets = new ListCache<V1ReplicaSet>({ kubeConfig, apiVersion: 'apps/v1', kind: 'ReplicaSet' });
    await Promise.all([rollouts.refresh(), replicaSets.refresh()]);
    const state = new KubernetesState({ kubeConfig, rollouts, replicaSets, nowMs: () => T0 });
    const version = (await stored()).status?.graylane?.version ?? 0;
    await state.commit({ namespace: NAMESPACE, name: 'web' }, { status, traffic }, version);
  };
  if (!('status' in options) || options.status !== undefined) await commit(options.status ?? pausedAtStep2());
  return {
    server, kubeConfig, kubeconfigPath, dir, stored, commit,
    async run(args, runOptions = {}) {
      let out = '';
      let err = '';
      const code = await main([...args, '--kubeconfig', runOptions.kubeconfigPath ?? kubeconfigPath, '-n', NAMESPACE], {
        out: (s) => void (out += s), err: (s) => void (err += s), isTty: false, env: { ...runOptions.env }, cwd: dir,
      });
      return { code, out, err };
    },
    async podsReady(count) {
      for (let i = 0; i < 200; i++) {
        const pods = (await rawRequest({ server, path: `/api/v1/namespaces/${NAMESPACE}/pods` })).body as { items: V1Pod[] };
        const ready = pods.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        if (ready.length >= count) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`fewer than ${count} pods became ready`);
    },
    async close() {
      workloads.stop();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A proxy in front of the fake that runs `race` before forwarding each request it matches: a
 * competing writer landing between the CLI's read and its write. Returns a kubeconfig file for it.
 */
export async function racingProxy(options: { cluster: TestCluster; matches: (req: IncomingMessage) => boolean; race: () => Promise<void> }): Promise<{ kubeconfigPath: string; close(): Promise<void> }> {
  const target = new URL(options.cluster.server.url);
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (options.matches(req)) await options.race();
      const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      req.pipe(upstream);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfigPath = join(options.cluster.dir, 'proxy-kubeconfig');
  await writeFile(kubeconfigPath, stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'proxy', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: {} }],
    contexts: [{ name: 'proxy', context: { cluster: 'proxy', user: 'u' } }],
    'current-context': 'proxy',
  }));
  return { kubeconfigPath, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}
