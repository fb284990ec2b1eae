/**
 * The Kubernetes benchmark's world: the fake API server in this process with graylane's CRDs, the
 * simulated ReplicaSet controller and kubelets, and N Rollouts (replicas 1, spread over a few
 * namespaces; blue-green with one Service each, promoted automatically, or a canary going
 * straight to 100%). It changes every Rollout's template at once and follows, from the fake's own
 * store (no HTTP, no polling), how many are Healthy on the revision they were last given.
 */
import { CRD_KINDS, customResourceDefinition } from '../src/documents/index.js';
import { FakeApiServer } from '../test/fixtures/kube/fake-api-server.js';
import type { KubeObject, StoredChange } from '../test/fixtures/kube/object-store.js';
import { storageKey, type ResourceType } from '../test/fixtures/kube/resource-types.js';
import { SimulatedWorkloads } from '../test/fixtures/kube/simulated-workloads.js';

/** Which strategy the Rollouts use; `mixed` alternates them. */
export type FleetStrategy = 'blue-green' | 'canary' | 'mixed';

/** Options of {@link KubeFleet.start}. */
export interface KubeFleetOptions {
  /** Rollouts to create. */
  size: number;
  /** Namespaces they are spread over (`bench-0` …), round robin. */
  namespaces: number;
  strategy: FleetStrategy;
  /** How long the simulated kubelet takes to make a new Pod ready. */
  podReadyMs: number;
  /** The blue-green Rollouts' `scaleDownDelaySeconds` (Argo's default is 30). */
  scaleDownDelaySeconds: number;
}

/** The fleet was asked something it cannot do. */
export class KubeFleetError extends Error {
  /** Stable code for callers. */
  readonly code: 'FleetOptionsInvalid' | 'FleetAlreadyFilled';
  constructor(options: { code: 'FleetOptionsInvalid' | 'FleetAlreadyFilled'; message: string }) {
    super(options.message);
    this.name = 'KubeFleetError';
    this.code = options.code;
  }
}

/** What the benchmark reads of one Rollout's status. */
interface Seen {
  generation: number;
  phase: string | undefined;
  observedGeneration: number | undefined;
  currentPodHash: string | undefined;
  stableRS: string | undefined;
}

/** One Rollout of the fleet: its address and whether it is blue-green. */
export interface FleetMember {
  namespace: string;
  name: string;
  blueGreen: boolean;
}

const ROLLOUTS_KEY = 'graylane.dev/rollouts';
const IMAGE = 'registry.example/bench-app';

/** See the file comment. */
export class KubeFleet {
  /** The fake API server (its `cluster` is the store the fleet reads). */
  readonly server: FakeApiServer;
  /** Every Rollout, in creation order. */
  readonly members: readonly FleetMember[];
  readonly #options: KubeFleetOptions;
  readonly #sim: SimulatedWorkloads;
  readonly #rollouts: ResourceType;
  readonly #seen = new Map<string, Seen>();
  /** The pod hash each Rollout was Healthy on before the last template change. */
  readonly #before = new Map<string, string | undefined>();
  /** The generation of the last template change, per Rollout. */
  readonly #changedAt = new Map<string, number>();
  #unsubscribe: () => void;
  #filled = false;
  #version = 1;

  private constructor(server: FakeApiServer, sim: SimulatedWorkloads, options: KubeFleetOptions) {
    this.server = server;
    this.#sim = sim;
    this.#options = options;
    this.#rollouts = server.cluster.type('graylane.dev', 'v1alpha1', 'rollouts');
    const digits = String(options.size - 1).length;
    this.members = Array.from({ length: options.size }, (_, i) => ({
      namespace: `bench-${i % options.namespaces}`,
      name: `app-${String(i).padStart(digits, '0')}`,
      blueGreen: options.strategy === 'blue-green' || (options.strategy === 'mixed' && i % 2 === 0),
    }));
    this.#unsubscribe = server.cluster.store.subscribe((change) => this.#observe(change));
  }

  /** Starts the fake with graylane's CRDs, the namespaces and the simulated workloads (no Rollout yet). */
  static async start(options: KubeFleetOptions): Promise<KubeFleet> {
    for (const [field, value, min] of [['size', options.size, 1], ['namespaces', options.namespaces, 1], ['podReadyMs', options.podReadyMs, 0], ['scaleDownDelaySeconds', options.scaleDownDelaySeconds, 0]] as const) {
      if (!Number.isInteger(value) || value < min) throw new KubeFleetError({ code: 'FleetOptionsInvalid', message: `${field} must be a whole number ≥ ${min}, not ${value}` });
    }
    const namespaces = Array.from({ length: options.namespaces }, (_, i) => `bench-${i}`);
    // History sized so that a watch started during the fill can still resume after it.
    const server = await FakeApiServer.start({ namespaces: ['default', 'kube-system', ...namespaces], historyLimit: Math.max(10_000, options.size * 20) });
    const crds = server.cluster.type('apiextensions.k8s.io', 'v1', 'customresourcedefinitions');
    for (const kind of CRD_KINDS) server.cluster.create({ type: crds, body: customResourceDefinition(kind) });
    const readyMs = options.podReadyMs;
    const sim = SimulatedWorkloads.start({ cluster: server.cluster, podBehaviour: () => ({ kind: 'ready', afterMs: readyMs }) });
    return new KubeFleet(server, sim, options);
  }

  /** Creates every Rollout and the Services the blue-green ones name; once only. */
  fill(): void {
    if (this.#filled) throw new KubeFleetError({ code: 'FleetAlreadyFilled', message: 'the fleet already holds its Rollouts' });
    this.#filled = true;
    const cluster = this.server.cluster;
    const services = cluster.type('', 'v1', 'services');
    for (const m of this.members) {
      if (m.blueGreen) {
        cluster.create({ type: services, namespace: m.namespace, body: { apiVersion: 'v1', kind: 'Service', metadata: { name: m.name }, spec: { selector: { app: m.name }, ports: [{ port: 80, targetPort: 8080 }] } } });
      }
      cluster.create({ type: this.#rollouts, namespace: m.namespace, body: this.#rollout(m) });
    }
  }

  /**
   * Gives every Rollout a new template (the next image tag), remembering the revision each one
   * is Healthy on now so that {@link converged} counts only those on the new one.
   */
  changeTemplates(): void {
    this.#version += 1;
    const template = { spec: { template: { spec: { containers: [this.#container()] } } } };
    for (const m of this.members) {
      const key = `${m.namespace}/${m.name}`;
      this.#before.set(key, this.#seen.get(key)?.currentPodHash);
      const patched = this.server.cluster.patch({ type: this.#rollouts, namespace: m.namespace, name: m.name, patchType: 'application/merge-patch+json', patch: template });
      this.#changedAt.set(key, patched.metadata.generation ?? 0);
    }
  }

  /**
   * How many Rollouts are Healthy on the template they were last given: phase Healthy, the
   * stable revision the current one, the status decided on that generation (when the controller
   * says which), and after a template change a revision other than the one before it.
   */
  converged(): number {
    let n = 0;
    for (const m of this.members) if (this.#isConverged(`${m.namespace}/${m.name}`)) n += 1;
    return n;
  }

  /** The Rollouts by phase as last written (`none` before any status). */
  phases(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const m of this.members) {
      const phase = this.#seen.get(`${m.namespace}/${m.name}`)?.phase ?? 'none';
      out[phase] = (out[phase] ?? 0) + 1;
    }
    return out;
  }

  /**
   * Checks the controller's claims against the cluster: for each converged Rollout, a ReplicaSet
   * labelled with its current pod hash has a ready pod, and a blue-green Rollout's Service selects
   * that hash. Returns one sentence per Rollout that does not hold.
   */
  verify(): string[] {
    const cluster = this.server.cluster;
    const readyHashes = new Set<string>();
    for (const rs of cluster.list({ type: cluster.type('apps', 'v1', 'replicasets') }).items) {
      const hash = rs.metadata.labels?.['rollouts-pod-template-hash'];
      if (hash !== undefined && ((rs.status as { readyReplicas?: number } | undefined)?.readyReplicas ?? 0) > 0) readyHashes.add(`${rs.metadata.namespace}/${hash}`);
    }
    const selectors = new Map<string, string | undefined>();
    for (const svc of cluster.list({ type: cluster.type('', 'v1', 'services') }).items) {
      selectors.set(`${svc.metadata.namespace}/${svc.metadata.name}`, (svc.spec as { selector?: Record<string, string> }).selector?.['rollouts-pod-template-hash']);
    }
    const problems: string[] = [];
    for (const m of this.members) {
      const key = `${m.namespace}/${m.name}`;
      if (!this.#isConverged(key)) continue;
      const hash = this.#seen.get(key)!.currentPodHash!;
      if (!readyHashes.has(`${m.namespace}/${hash}`)) problems.push(`${key}: Healthy on ${hash}, but no ReplicaSet with that hash has a ready pod`);
      if (m.blueGreen && selectors.get(key) !== hash) problems.push(`${key}: Healthy on ${hash}, but its Service selects ${selectors.get(key) ?? 'no pod-template hash'}`);
    }
    return problems;
  }

  /**
   * What the first `limit` Rollouts that have not converged show, one line each: their status
   * (phase, hashes, the Progressing message), their ReplicaSets (replicas/ready) and, for a
   * blue-green one, the hash its Service selects. What a stuck run is diagnosed from.
   */
  stuck(limit = 3): string[] {
    const cluster = this.server.cluster;
    const sets = cluster.list({ type: cluster.type('apps', 'v1', 'replicasets') }).items;
    const out: string[] = [];
    for (const m of this.members) {
      if (out.length >= limit) break;
      const key = `${m.namespace}/${m.name}`;
      if (this.#isConverged(key)) continue;
      const rollout = cluster.store.get(ROLLOUTS_KEY, m.namespace, m.name);
      const status = (rollout?.status ?? {}) as { phase?: string; currentPodHash?: string; stableRS?: string; observedGeneration?: number | string; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
      const progressing = status.conditions?.find((c) => c.type === 'Progressing');
      const owned = sets.filter((rs) => rs.metadata.namespace === m.namespace && rs.metadata.ownerReferences?.some((o) => o.uid === rollout?.metadata.uid))
        .map((rs) => {
          const pods = cluster.store.ownedBy(rs.metadata.uid!).filter((o) => o.key === storageKey({ group: '', plural: 'pods' })).map((o) => o.object);
          const ready = pods.filter((p) => (p.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
          return `${rs.metadata.labels?.['rollouts-pod-template-hash'] ?? '?'} replicas ${(rs.spec as { replicas?: number }).replicas ?? '?'} ready ${(rs.status as { readyReplicas?: number } | undefined)?.readyReplicas ?? 0} (pods ${pods.length}, ${ready} ready)`;
        });
      const service = m.blueGreen ? cluster.store.get(storageKey({ group: '', plural: 'services' }), m.namespace, m.name) : undefined;
      const selects = (service?.spec as { selector?: Record<string, string> } | undefined)?.selector?.['rollouts-pod-template-hash'];
      out.push(`${key}: phase ${status.phase ?? 'none'}, generation ${rollout?.metadata.generation ?? '?'} observed ${status.observedGeneration ?? '?'}, current ${status.currentPodHash ?? '-'}, stable ${status.stableRS ?? '-'}, `
        + `Progressing ${progressing?.reason ?? '-'} "${progressing?.message ?? ''}", ReplicaSets [${owned.join(', ')}]${m.blueGreen ? `, Service selects ${selects ?? '-'}` : ''}`);
    }
    return out;
  }

  /** Counts of the objects in the fake, by storage key (`apps/replicasets` …). */
  objectCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const key of this.server.cluster.store.keys()) out[key] = this.server.cluster.store.list(key).length;
    return out;
  }

  /** Stops the simulated workloads and the fake. */
  async close(): Promise<void> {
    this.#unsubscribe();
    this.#sim.stop();
    await this.server.close();
  }

  #isConverged(key: string): boolean {
    const s = this.#seen.get(key);
    if (s?.phase !== 'Healthy' || s.currentPodHash === undefined || s.stableRS !== s.currentPodHash) return false;
    if (s.observedGeneration !== undefined && s.observedGeneration < (this.#changedAt.get(key) ?? s.generation)) return false;
    return !this.#before.has(key) || this.#before.get(key) !== s.currentPodHash;
  }

  #observe(change: StoredChange): void {
    if (change.key !== ROLLOUTS_KEY) return;
    const o = change.object;
    const key = `${o.metadata.namespace}/${o.metadata.name}`;
    if (change.type === 'DELETED') {
      this.#seen.delete(key);
      return;
    }
    const status = (o.status ?? {}) as { phase?: string; observedGeneration?: number; currentPodHash?: string; stableRS?: string };
    this.#seen.set(key, { generation: o.metadata.generation ?? 0, phase: status.phase, observedGeneration: status.observedGeneration, currentPodHash: status.currentPodHash, stableRS: status.stableRS });
  }

  #container(): Record<string, unknown> {
    return { name: 'app', image: `${IMAGE}:v${this.#version}`, ports: [{ containerPort: 8080 }] };
  }

  #rollout(m: FleetMember): KubeObject {
    const labels = { app: m.name };
    const strategy = m.blueGreen
      ? { blueGreen: { activeService: m.name, autoPromotionEnabled: true, scaleDownDelaySeconds: this.#options.scaleDownDelaySeconds } }
      : { canary: { steps: [{ setWeight: 100 }] } };
    return {
      apiVersion: 'graylane.dev/v1alpha1',
      kind: 'Rollout',
      metadata: { name: m.name, namespace: m.namespace, labels },
      spec: { replicas: 1, revisionHistoryLimit: 2, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [this.#container()] } }, strategy },
    };
  }
}
