/**
 * What the Kubernetes adapters read the cluster through: a local, eventually consistent copy of
 * one kind of object, kept by an informer (list, then watch). Reading from the copy instead of
 * the API server is what lets one controller reconcile thousands of Rollouts; writes go to the
 * API server and come back through the watch.
 */
import type { KubernetesObject } from '@kubernetes/client-node';

/** Which cached objects to return; omitted fields match everything. */
export interface CacheQuery {
  /** Only this namespace. */
  namespace?: string | undefined;
  /** Only objects carrying every one of these labels with exactly these values. */
  labels?: Readonly<Record<string, string>> | undefined;
  /** Only objects with an owner reference to this uid. */
  ownerUid?: string | undefined;
}

/** What changed in the cache: the object after the change (before it, for a deletion). */
export interface CacheChange<T extends KubernetesObject> {
  /** `added`, `modified` or `deleted`. */
  type: 'added' | 'modified' | 'deleted';
  /** The object. */
  object: T;
}

/** A read-only, eventually consistent copy of one kind of object. */
export interface ObjectCache<T extends KubernetesObject = KubernetesObject> {
  /** The object, or undefined when the copy has none by that name. */
  get(namespace: string, name: string): T | undefined;
  /** The objects matching `query`, in no particular order. */
  list(query?: CacheQuery): T[];
  /** Calls `listener` after every change of the copy (also for each object of a re-list); returns the unsubscribe function. */
  onChange(listener: (change: CacheChange<T>) => void): () => void;
  /** Whether the first list has arrived: before it, an empty copy means "not known yet", not "none". */
  synced(): boolean;
}

/** Whether `object` matches `query` (shared by every cache implementation). */
export function matchesQuery(object: KubernetesObject, query: CacheQuery = {}): boolean {
  const meta = object.metadata ?? {};
  if (query.namespace !== undefined && meta.namespace !== query.namespace) return false;
  if (query.labels) {
    const labels = meta.labels ?? {};
    for (const [k, v] of Object.entries(query.labels)) if (labels[k] !== v) return false;
  }
  if (query.ownerUid !== undefined && !(meta.ownerReferences ?? []).some((o) => o.uid === query.ownerUid)) return false;
  return true;
}
