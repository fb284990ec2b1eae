import { describe, expect, it } from 'vitest';
import { ObjectStore, type KubeObject, type StoredChange } from '../fixtures/kube/object-store.js';

const owned = (name: string, ...owners: string[]): KubeObject => ({
  metadata: { name, namespace: 'ns', ...(owners.length === 0 ? {} : { ownerReferences: owners.map((uid) => ({ apiVersion: 'v1', kind: 'X', name: uid, uid })) }) },
});

describe('the fake’s object store', () => {
  it('finds an owner’s dependents across types, following writes that add or drop the reference and removals', () => {
    const store = new ObjectStore();
    store.put('/pods', owned('p1', 'rs-a'), 'ADDED');
    store.put('/pods', owned('p2', 'rs-b'), 'ADDED');
    store.put('/configmaps', owned('c1', 'rs-a', 'rs-b'), 'ADDED');
    const names = (uid: string) => store.ownedBy(uid).map((d) => `${d.key} ${d.object.metadata.name}`).sort();
    expect(names('rs-a')).toEqual(['/configmaps c1', '/pods p1']);
    expect(names('rs-b')).toEqual(['/configmaps c1', '/pods p2']);
    store.put('/configmaps', owned('c1', 'rs-b'), 'MODIFIED');
    expect(names('rs-a')).toEqual(['/pods p1']);
    store.put('/pods', owned('p2'), 'MODIFIED');
    expect(names('rs-b')).toEqual(['/configmaps c1']);
    store.remove('/configmaps', 'ns', 'c1');
    expect(names('rs-b')).toEqual([]);
    // What ownedBy hands out is a copy: changing it changes nothing stored.
    store.ownedBy('rs-a')[0]!.object.metadata.name = 'changed';
    expect(names('rs-a')).toEqual(['/pods p1']);
  });

  it('shares one frozen copy of each change with every listener, and none with the writer', () => {
    const store = new ObjectStore();
    const seen: StoredChange[] = [];
    store.subscribe((c) => seen.push(c));
    store.subscribe((c) => seen.push(c));
    const body = owned('p1');
    const returned = store.put('/pods', body, 'ADDED');
    expect(seen[0]).toBe(seen[1]);
    expect(() => {
      (seen[0]!.object.metadata as { name: string }).name = 'x';
    }).toThrow(TypeError);
    // The writer's body and the returned object stay its own to change.
    returned.metadata.name = 'mine';
    body.metadata.name = 'also-mine';
    expect(store.get('/pods', 'ns', 'p1')?.metadata.name).toBe('p1');
    expect(store.peek('/pods').map((o) => o.metadata.name)).toEqual(['p1']);
    expect(Object.isFrozen(store.peek('/pods')[0]!.metadata)).toBe(true);
  });
});
