/**
 * Where a Rollout keeps the engine's memory between passes, by flavour. graylane's own CRD
 * declares `status.graylane`, written in the same status PUT as the fields projected from it.
 * Argo's CRD types its `status` closed, so a real API server prunes an unknown field there: an
 * Argo Rollout keeps the memory in the annotation {@link ENGINE_MEMORY_ANNOTATION} instead.
 *
 * The annotation is chosen over a ConfigMap owned by the Rollout because it lives on the object
 * the decision is about: one resourceVersion guards the spec the engine decided on and the memory
 * it wrote (a ConfigMap would need a second object, cluster-wide ConfigMap RBAC and a second
 * informer, and could be edited or lost separately). Kubernetes never lets one request write
 * metadata and the status subresource together, so an Argo commit is two writes: the memory
 * first (the decision is durable before anything acts on it), then the status projected from
 * it. The memory carries a digest of that projected status; a crash or a failed write between the
 * two leaves a status whose digest differs, which loads as stale and is written again by the
 * next pass. Nothing is lost, and the status is never ahead of what was decided.
 */
import { createHash } from 'node:crypto';
import type { RolloutStatusDoc } from '../../documents/status-schema.js';
import { ENGINE_MEMORY_ANNOTATION } from '../../kube/names.js';
import type { RolloutFlavour } from '../../kube/rollout-flavour.js';
import { KubernetesStateError } from './kubernetes-state-error.js';
import type { RolloutObject } from './kubernetes-state.js';

/** The engine's memory as stored (graylane's `status.graylane`, or the Argo annotation). */
export interface EngineMemory {
  /** Bumped by every commit: what the next commit is decided on. */
  version: number;
  /** The engine's status, in the engine's own format. */
  engine: unknown;
  /** The traffic decision in force, when one was made. */
  traffic?: unknown;
  /** Whether the traffic in force was verified when this was written (the Healthy gate). */
  trafficVerified?: boolean | undefined;
  /** Argo flavour only: {@link statusDigest} of the status written with this memory. */
  statusDigest?: string | undefined;
}

/**
 * The memory a Rollout carries, or undefined before the first commit. An Argo Rollout whose
 * annotation is not graylane's memory (someone edited it) is a `MemoryUnreadable` error rather
 * than a fresh start: starting over mid-rollout could move traffic the user did not ask to move.
 */
export function readEngineMemory(rollout: RolloutObject | undefined, flavour: RolloutFlavour): EngineMemory | undefined {
  if (flavour === 'graylane') return rollout?.status?.graylane;
  const text = rollout?.metadata?.annotations?.[ENGINE_MEMORY_ANNOTATION];
  if (text === undefined) return undefined;
  const where = `rollout ${rollout?.metadata?.namespace ?? ''}/${rollout?.metadata?.name ?? ''}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw unreadable(where, `it is not JSON (${(error as Error).message})`, error);
  }
  const memory = parsed as Partial<EngineMemory> | null;
  if (typeof memory !== 'object' || memory === null || Array.isArray(memory)) throw unreadable(where, 'it is not a JSON object');
  if (!Number.isSafeInteger(memory.version) || (memory.version ?? -1) < 0) throw unreadable(where, '"version" is not a whole number');
  if (typeof memory.engine !== 'object' || memory.engine === null) throw unreadable(where, '"engine" is not an object');
  if (memory.trafficVerified !== undefined && typeof memory.trafficVerified !== 'boolean') throw unreadable(where, '"trafficVerified" is not true or false');
  if (memory.statusDigest !== undefined && typeof memory.statusDigest !== 'string') throw unreadable(where, '"statusDigest" is not a string');
  return memory as EngineMemory;
}

/** The memory's version, 0 when there is none or it cannot be read (for ordering copies, never for deciding). */
export function memoryVersion(rollout: RolloutObject | undefined, flavour: RolloutFlavour): number {
  try {
    return readEngineMemory(rollout, flavour)?.version ?? 0;
  } catch {
    return 0;
  }
}

/** The annotation's value for `memory` (Argo flavour). */
export function encodeEngineMemory(memory: EngineMemory): string {
  return JSON.stringify(memory);
}

/**
 * A digest of the status fields a commit decides. `restartedAt` is left out: the controller
 * writes it on its own after a restart, with no commit.
 */
export function statusDigest(status: RolloutStatusDoc): string {
  const { restartedAt: _restartedAt, ...decided } = status as RolloutStatusDoc & { graylane?: unknown };
  delete (decided as { graylane?: unknown }).graylane;
  return `sha256:${createHash('sha256').update(canonicalJson(decided)).digest('base64url')}`;
}

/**
 * JSON with object keys sorted: the API server returns a custom object's fields in its own
 * order (alphabetical), not the order they were written in.
 */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function unreadable(where: string, why: string, cause?: unknown): KubernetesStateError {
  return new KubernetesStateError(
    'MemoryUnreadable',
    `${where}: the annotation ${ENGINE_MEMORY_ANNOTATION} is not graylane's memory: ${why}; it is graylane's own, never edit it (remove it to have graylane start over from the cluster's state)`,
    cause === undefined ? undefined : { cause },
  );
}
