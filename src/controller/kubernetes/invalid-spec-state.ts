/**
 * The state port the reconciler sees on Kubernetes: KubernetesState, with a record read as stale
 * while its Rollout shows the InvalidSpec condition. `markInvalid` writes the condition beside an
 * engine memory it leaves alone; once the spec is fixed the engine may have nothing new to say,
 * and an idle pass writes nothing, so the condition would stay for ever. Stale makes the pass
 * commit, and a commit projects the status afresh (InvalidSpec gone).
 */
import type { ObjectCache } from '../../kube/object-cache.js';
import type { RolloutRecord, StatePort } from '../../state/state-port.js';
import type { RolloutObject } from '../../state/kubernetes/kubernetes-state.js';

/** Whether the Rollout's status carries `InvalidSpec` True now. */
export function showsInvalidSpec(rollout: RolloutObject | undefined): boolean {
  return (rollout?.status?.conditions ?? []).some((c) => c.type === 'InvalidSpec' && c.status === 'True');
}

/** See the file comment. */
export function invalidSpecAwareState(state: StatePort, rollouts: ObjectCache<RolloutObject>): StatePort {
  const load = async (key: Parameters<StatePort['load']>[0]): Promise<RolloutRecord | undefined> => {
    const record = await state.load(key);
    if (record && showsInvalidSpec(rollouts.get(key.namespace, key.name))) return { ...record, stale: true };
    return record;
  };
  return {
    type: state.type,
    load,
    commit: (key, change, expectedVersion) => state.commit(key, change, expectedVersion),
    loadRelease: (key) => state.loadRelease(key),
    commitRelease: (key, release, expectedVersion) => state.commitRelease(key, release, expectedVersion),
  };
}
