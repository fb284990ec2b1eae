/**
 * An {@link ObjectCache} holding objects read once: the CLI reads a Rollout and its ReplicaSets
 * for one operation and hands them to the state adapter, which reads through the cache port.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { matchesQuery, type CacheQuery, type ObjectCache } from '../../kube/object-cache.js';

/** See the file comment; it never changes, so listeners are never called. */
export class SnapshotCache<T extends KubernetesObject> implements ObjectCache<T> {
  constructor(private readonly objects: readonly T[]) {}

  /** {@inheritDoc ObjectCache.get} */
  get(namespace: string, name: string): T | undefined {
    return this.objects.find((o) => o.metadata?.namespace === namespace && o.metadata?.name === name);
  }

  /** {@inheritDoc ObjectCache.list} */
  list(query?: CacheQuery): T[] {
    return this.objects.filter((o) => matchesQuery(o, query));
  }

  /** {@inheritDoc ObjectCache.onChange} */
  onChange(): () => void {
    return () => {};
  }

  /** {@inheritDoc ObjectCache.synced} */
  synced(): boolean {
    return true;
  }
}
