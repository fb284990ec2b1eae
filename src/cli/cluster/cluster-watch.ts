/**
 * `status --watch/--wait` against a cluster: informers (list, then watch) on the namespace's
 * Rollouts, ReplicaSets and pods; the view is built again on every change and given out when it
 * differs from the last one.
 */
import type { KubernetesObject, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { ServiceView } from '../../controller/view-model.js';
import { Informer } from '../../kube/informer.js';
import { GRAYLANE_API_VERSION } from '../../kube/names.js';
import type { RolloutObject } from '../../state/kubernetes/kubernetes-state.js';
import type { ClusterReader } from './cluster-reader.js';
import { clusterRolloutView } from './cluster-view.js';

/** Options of {@link watchRollout}. */
export interface WatchRolloutOptions {
  /** The namespace's reader (its target, and the not-found sentence). */
  reader: ClusterReader;
  /** The Rollout's name. */
  name: string;
  /** Ends the watch. */
  signal: AbortSignal;
  /** Clock, epoch ms. */
  nowMs: () => number;
}

/** See the file comment. A Rollout deleted meanwhile ends the watch with the daemon's not-found. */
export async function* watchRollout(options: WatchRolloutOptions): AsyncGenerator<ServiceView> {
  const { reader, name, signal } = options;
  const { kubeConfig, namespace } = reader.target;
  const informer = <T extends KubernetesObject>(apiVersion: string, kind: string, plural: string) => new Informer<T>({ kubeConfig, apiVersion, kind, plural, namespace });
  const rollouts = informer<RolloutObject>(GRAYLANE_API_VERSION, 'Rollout', 'rollouts');
  const replicaSets = informer<V1ReplicaSet>('apps/v1', 'ReplicaSet', 'replicasets');
  const pods = informer<V1Pod>('v1', 'Pod', 'pods');
  const all = [rollouts, replicaSets, pods];
  let dirty = true;
  let wake: (() => void) | undefined;
  const poke = () => {
    dirty = true;
    wake?.();
  };
  const unsubscribe = all.map((i) => i.onChange(poke));
  signal.addEventListener('abort', poke);
  try {
    await Promise.race([Promise.all(all.map((i) => i.start())), new Promise((resolve) => signal.addEventListener('abort', resolve))]);
    let last = '';
    while (!signal.aborted) {
      if (!dirty) await new Promise<void>((resolve) => (wake = resolve));
      dirty = false;
      if (signal.aborted) break;
      const rollout = rollouts.get(namespace, name);
      if (!rollout) throw await reader.notFound(name);
      const owned = replicaSets.list({ namespace, ownerUid: rollout.metadata?.uid ?? '' });
      const view = clusterRolloutView({ rollout, replicaSets: owned, pods: pods.list({ namespace }) }, options.nowMs());
      const text = JSON.stringify(view);
      if (text !== last) {
        last = text;
        yield view;
      }
    }
  } finally {
    signal.removeEventListener('abort', poke);
    for (const off of unsubscribe) off();
    await Promise.all(all.map((i) => i.stop()));
  }
}
