/**
 * How one pod reads as an instance of the runtime port: its state, address, restarts and last
 * error, from the pod object alone plus what the runtime remembers of it (whether it was ever
 * ready, and its restart count then), since a pod does not say whether it used to be ready.
 */
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { InstanceInfo, InstanceState } from '../runtime.js';

/** What the runtime remembers of a pod across observations (lost with the process: see {@link instanceOfPod}). */
export interface PodMemory {
  /** Restart count when the pod was last seen ready; absent: never seen ready. */
  restartsWhenReady?: number;
}

/** Where a pod belongs, as read from its ReplicaSet. */
export interface PodOwner {
  /** The Rollout's name. */
  service: string;
  /** The ReplicaSet's pod-template hash. */
  revision: string;
  /** The ReplicaSet's `minReadySeconds` (0 when unset). */
  minReadySeconds: number;
}

/**
 * Waiting reasons that mean the container will not run without a change: the kubelet keeps
 * retrying, but a rollout should treat the instance as failed, as `kubectl rollout status` does.
 */
const FAILING_WAIT_REASONS = new Set([
  'CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError',
]);

/** Waiting reasons of a container on its way up: no error to report. */
const STARTING_WAIT_REASONS = new Set(['ContainerCreating', 'PodInitializing']);

/** The instance id of a pod: `<namespace>/<pod name>`, unique in a cluster (a pod name alone is not). */
export function podInstanceId(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** When the pod's Ready condition last became True (epoch ms), or undefined when it is not True. */
export function readySinceMs(pod: V1Pod): number | undefined {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') return undefined;
  // Like the API machinery's IsPodAvailable: with no transition time the pod counts as ready
  // for no time at all, which only matters when minReadySeconds asks for some.
  return ready.lastTransitionTime === undefined ? Number.NaN : new Date(ready.lastTransitionTime).getTime();
}

/**
 * When a ready pod becomes available after `minReadySeconds` (epoch ms), or undefined when it is
 * not ready or has no transition time to count from.
 */
export function availableAtMs(pod: V1Pod, minReadySeconds: number): number | undefined {
  const since = readySinceMs(pod);
  if (since === undefined) return undefined;
  if (minReadySeconds <= 0) return Number.NEGATIVE_INFINITY;
  return Number.isNaN(since) ? undefined : since + minReadySeconds * 1000;
}

function statusesOf(pod: V1Pod): V1ContainerStatus[] {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
}

function failing(status: V1ContainerStatus): boolean {
  const waiting = status.state?.waiting?.reason;
  if (waiting !== undefined && FAILING_WAIT_REASONS.has(waiting)) return true;
  const exit = status.state?.terminated?.exitCode;
  return exit !== undefined && exit !== 0;
}

/** The last thing that went wrong with the pod's containers, in a sentence, if anything did. */
export function podLastError(pod: V1Pod): string | undefined {
  for (const s of statusesOf(pod)) {
    const waiting = s.state?.waiting;
    const terminated = s.state?.terminated ?? s.lastState?.terminated;
    const parts: string[] = [];
    if (waiting?.reason !== undefined && !STARTING_WAIT_REASONS.has(waiting.reason)) {
      parts.push(`${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`);
    }
    if (terminated !== undefined && terminated.exitCode !== 0) {
      parts.push(`exited with code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ''}${terminated.message ? `: ${terminated.message}` : ''}`);
    }
    if (parts.length > 0) return `container ${s.name}: ${parts.join('; last ')}`;
  }
  if (pod.status?.phase === 'Failed') return `pod failed${pod.status.reason ? ` (${pod.status.reason})` : ''}${pod.status.message ? `: ${pod.status.message}` : ''}`;
  return undefined;
}

/**
 * The address the pod serves at: `podIP:port` of the first declared container port. A pod with no
 * IP yet, or no declared port, gets port 0 (`<pod name>:0` without an IP): it is listed, so
 * replica counts stay right, and the `:0` tells the reconciler there is nowhere to route yet.
 */
export function podAddress(pod: V1Pod): string {
  const port = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? [])[0]?.containerPort ?? 0;
  const ip = pod.status?.podIP;
  return ip ? `${ip.includes(':') ? `[${ip}]` : ip}:${port}` : `${pod.metadata?.name ?? 'pod'}:0`;
}

/**
 * The instance a pod is, at `nowMs`. States: `stopping` when deleted (or when the runtime is
 * stopping it: `stopping`), `ready` once Ready has held for the ReplicaSet's `minReadySeconds`,
 * `failed` while a container crash-loops, cannot pull its image or exited with an error,
 * `unready` when it was seen ready before and is not now, else `starting`. Updates `memory`.
 * A runtime that restarted forgets which pods were ready: such a pod reads `starting` rather than
 * `unready` (both count as not ready), and all its restarts count as since-ready.
 */
export function instanceOfPod(options: { pod: V1Pod; owner: PodOwner; memory: PodMemory; nowMs: number; stopping: boolean }): InstanceInfo {
  const { pod, owner, memory, nowMs } = options;
  const meta = pod.metadata ?? {};
  const restarts = (pod.status?.containerStatuses ?? []).reduce((sum, s) => sum + s.restartCount, 0);
  const available = availableAtMs(pod, owner.minReadySeconds);
  const isReady = available !== undefined && available <= nowMs;
  if (isReady) memory.restartsWhenReady = restarts;
  const failed = statusesOf(pod).some(failing) || pod.status?.phase === 'Failed';
  let state: InstanceState;
  if (meta.deletionTimestamp !== undefined || options.stopping) state = 'stopping';
  else if (isReady) state = 'ready';
  else if (failed) state = 'failed';
  else if (memory.restartsWhenReady !== undefined) state = 'unready';
  else state = 'starting';
  const started = pod.status?.startTime ?? meta.creationTimestamp;
  const lastError = podLastError(pod);
  return {
    id: podInstanceId(meta.namespace ?? '', meta.name ?? ''),
    namespace: meta.namespace ?? '',
    service: owner.service,
    revision: owner.revision,
    address: podAddress(pod),
    state,
    restarts,
    restartsSinceReady: Math.max(0, restarts - (memory.restartsWhenReady ?? 0)),
    startedAtMs: started === undefined ? 0 : new Date(started).getTime(),
    ...(lastError === undefined ? {} : { lastError }),
  };
}
