/** Reads a namespace's Rollouts, ReplicaSets and pods from the API server, failures as sentences. */
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type V1Pod, type V1ReplicaSet } from '@kubernetes/client-node';
import { ApiError } from '../../api/client.js';
import { GRAYLANE_API_VERSION, ROLLOUT_NAME_LABEL } from '../../kube/names.js';
import type { RolloutObject } from '../../state/kubernetes/kubernetes-state.js';
import { clusterFailure, httpStatusOf } from './cluster-errors.js';
import type { StoredAnalysisRun } from './cluster-analysis.js';
import type { ClusterTarget } from './cluster-target.js';
import type { RolloutSnapshot } from './cluster-view.js';

const [GROUP, VERSION] = GRAYLANE_API_VERSION.split('/') as [string, string];

/** Where graylane's Rollouts live in the custom objects API. */
export const ROLLOUTS = { group: GROUP, version: VERSION, plural: 'rollouts' } as const;

/** See the file comment. */
export class ClusterReader {
  /** Writes of Rollouts go through the same client. */
  readonly custom: CustomObjectsApi;
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;

  constructor(readonly target: ClusterTarget) {
    this.custom = target.kubeConfig.makeApiClient(CustomObjectsApi);
    this.apps = target.kubeConfig.makeApiClient(AppsV1Api);
    this.core = target.kubeConfig.makeApiClient(CoreV1Api);
  }

  /** The namespace read. */
  get namespace(): string {
    return this.target.namespace;
  }

  /** A Rollout; `ApiError` NotFound naming the ones there are. */
  async rollout(name: string): Promise<RolloutObject> {
    try {
      return await this.custom.getNamespacedCustomObject({ ...ROLLOUTS, namespace: this.namespace, name }) as RolloutObject;
    } catch (error) {
      if (httpStatusOf(error) === 404) throw await this.notFound(name);
      throw clusterFailure(error, this.target, `reading rollout ${this.namespace}/${name}`);
    }
  }

  /** Every Rollout of the namespace, by name; none when graylane's CRD is not installed. */
  async rollouts(): Promise<RolloutObject[]> {
    try {
      const list = await this.custom.listNamespacedCustomObject({ ...ROLLOUTS, namespace: this.namespace }) as { items?: RolloutObject[] };
      return (list.items ?? []).sort((a, b) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1));
    } catch (error) {
      if (httpStatusOf(error) === 404) return [];
      throw clusterFailure(error, this.target, `listing rollouts in namespace ${this.namespace}`);
    }
  }

  /** The ReplicaSets the Rollout owns. */
  async replicaSetsOf(rollout: RolloutObject): Promise<V1ReplicaSet[]> {
    try {
      const list = await this.apps.listNamespacedReplicaSet({ namespace: this.namespace });
      return list.items.filter((rs) => (rs.metadata?.ownerReferences ?? []).some((o) => o.uid === rollout.metadata?.uid));
    } catch (error) {
      throw clusterFailure(error, this.target, `listing replicasets in namespace ${this.namespace}`);
    }
  }

  /** The pods of the namespace. */
  async pods(): Promise<V1Pod[]> {
    try {
      return (await this.core.listNamespacedPod({ namespace: this.namespace })).items;
    } catch (error) {
      throw clusterFailure(error, this.target, `listing pods in namespace ${this.namespace}`);
    }
  }

  /** The Rollout's AnalysisRuns (by the controller's label); none when the analysis CRDs are not installed. */
  async analysisRunsOf(rollout: RolloutObject): Promise<StoredAnalysisRun[]> {
    const name = rollout.metadata?.name ?? '';
    try {
      const list = await this.custom.listNamespacedCustomObject({
        group: GROUP, version: VERSION, plural: 'analysisruns', namespace: this.namespace, labelSelector: `${ROLLOUT_NAME_LABEL}=${name}`,
      }) as { items?: StoredAnalysisRun[] };
      return list.items ?? [];
    } catch (error) {
      if (httpStatusOf(error) === 404) return [];
      throw clusterFailure(error, this.target, `listing the analysis runs of rollout ${this.namespace}/${name}`);
    }
  }

  /** A Rollout with its ReplicaSets and pods. */
  async snapshot(name: string): Promise<RolloutSnapshot> {
    const rollout = await this.rollout(name);
    const [replicaSets, pods] = await Promise.all([this.replicaSetsOf(rollout), this.pods()]);
    return { rollout, replicaSets, pods };
  }

  /** The daemon's not-found, in this namespace's words. */
  async notFound(name: string): Promise<ApiError> {
    const known = (await this.rollouts()).map((r) => r.metadata?.name ?? '');
    return new ApiError('NotFound', `no service "${name}" in namespace ${this.namespace}${known.length > 0 ? `; services: ${known.join(', ')}` : '; it has no graylane Rollouts'}`, 404);
  }
}
