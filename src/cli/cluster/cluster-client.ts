/** The rollout verbs against a Kubernetes cluster: a {@link RolloutClient} over the API server. */
import type { Operation } from '../../controller/control-plane.js';
import type { AnalysisRunView, RevisionView, ServiceView } from '../../controller/view-model.js';
import type { OperateOptions, RolloutClient } from '../rollout-client.js';
import { clusterAnalysisRuns } from './cluster-analysis.js';
import { ClusterOperations } from './cluster-operations.js';
import { ClusterReader } from './cluster-reader.js';
import { ClusterReleaseOperations } from './cluster-release-operations.js';
import type { ClusterTarget } from './cluster-target.js';
import { clusterHistory, clusterRolloutView } from './cluster-view.js';
import { watchRollout } from './cluster-watch.js';

/** Options of {@link ClusterClient}. */
export interface ClusterClientOptions {
  /** The cluster and namespace. */
  target: ClusterTarget;
  /** Clock, epoch ms (default `Date.now`). */
  nowMs?: (() => number) | undefined;
}

/** See the file comment. */
export class ClusterClient implements RolloutClient {
  private readonly reader: ClusterReader;
  private readonly operations: ClusterOperations;
  private readonly releaseOperations: ClusterReleaseOperations;
  private readonly now: () => number;
  /** {@inheritDoc RolloutClient.noneMessage} */
  readonly noneMessage: string;

  constructor(options: ClusterClientOptions) {
    this.noneMessage = `no graylane Rollouts in namespace ${options.target.namespace} (context ${options.target.context})`;
    this.now = options.nowMs ?? Date.now;
    this.reader = new ClusterReader(options.target);
    this.operations = new ClusterOperations({ reader: this.reader, nowMs: this.now });
    this.releaseOperations = new ClusterReleaseOperations({ reader: this.reader, nowMs: this.now });
  }

  /** {@inheritDoc RolloutClient.list} */
  async list(): Promise<ServiceView[]> {
    const rollouts = await this.reader.rollouts();
    if (rollouts.length === 0) return [];
    const pods = await this.reader.pods();
    return Promise.all(rollouts.map(async (rollout) => clusterRolloutView({ rollout, replicaSets: await this.reader.replicaSetsOf(rollout), pods }, this.now())));
  }

  /** {@inheritDoc RolloutClient.get} */
  async get(name: string): Promise<ServiceView> {
    return clusterRolloutView(await this.reader.snapshot(name), this.now());
  }

  /** {@inheritDoc RolloutClient.history} */
  async history(name: string): Promise<RevisionView[]> {
    const rollout = await this.reader.rollout(name);
    return clusterHistory({ rollout, replicaSets: await this.reader.replicaSetsOf(rollout) });
  }

  /** {@inheritDoc RolloutClient.analysis} */
  async analysis(name: string): Promise<AnalysisRunView[]> {
    return clusterAnalysisRuns(await this.reader.analysisRunsOf(await this.reader.rollout(name)));
  }

  /** {@inheritDoc RolloutClient.operate} */
  async operate(name: string, operation: Operation, options: OperateOptions): Promise<ServiceView> {
    // A Rollout's name first, as before; a name no Rollout has may be a Release's.
    const rollout = (await this.reader.rollouts()).some((r) => r.metadata?.name === name);
    const release = rollout ? undefined : await this.releaseOperations.find(name);
    if (release) {
      await this.releaseOperations.run(release, operation, options.expectedVersion);
      return this.releaseOperations.view(name);
    }
    await this.operations.run(name, operation, options.expectedVersion);
    return this.get(name);
  }

  /** {@inheritDoc RolloutClient.watch} */
  watch(name: string, signal: AbortSignal): AsyncIterable<ServiceView> {
    return watchRollout({ reader: this.reader, name, signal, nowMs: this.now });
  }
}
