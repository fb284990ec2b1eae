/**
 * The release half of the state port on Kubernetes: a release's record lives in its `Release`
 * object (graylane.dev/v1alpha1), the memory in `status.graylane` beside the fields people read
 * (`phase`, `currentStepIndex`, `members`, `message`). A commit is ONE PUT of the status
 * subresource at the resourceVersion it was decided on, as for Rollouts: two controllers (or a
 * person's `kubectl edit`) racing cannot both land, and a 409 is a {@link StateConflictError}.
 *
 * The memory holds the token secret the built-in router signs pins with. On a cluster no data plane
 * checks a signature (Istio, Gateway API and ingress-nginx match plain cookie and header values),
 * so it protects nothing there; it is kept so that the record comes back as it was committed.
 */
import { CustomObjectsApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Release } from '../../documents/schema.js';
import type { ReleaseStatusDoc } from '../../documents/status-schema.js';
import type { ReleaseState } from '../../engine/release/releases.js';
import { GRAYLANE_API_VERSION } from '../../kube/names.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import { serverRetryAfterMs } from '../../kube/retry-after.js';
import { StateConflictError, type CommitResult, type ObjectKey, type ReleaseRecord } from '../state-port.js';
import { KubernetesStateError } from './kubernetes-state-error.js';

/** A graylane Release as the API server returns it. */
export interface ReleaseObject extends KubernetesObject {
  /** The user's spec. */
  spec: Omit<Release, 'name'>;
  /** What the controller wrote. */
  status?: ReleaseStatusDoc | undefined;
}

/** Options of {@link KubernetesReleaseState}. */
export interface KubernetesReleaseStateOptions {
  /** Where to write. */
  kubeConfig: KubeConfig;
  /** The informer's copy of the Releases. */
  releases: ObjectCache<ReleaseObject>;
}

const GROUP = 'graylane.dev';
const VERSION = 'v1alpha1';
const PLURAL = 'releases';

const id = (key: ObjectKey): string => `${key.namespace}/${key.name}`;

function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The version of the memory a Release carries; 0 before the first commit. */
export function releaseVersionOf(release: ReleaseObject | undefined): number {
  const version = release?.status?.graylane?.version;
  return typeof version === 'number' ? version : 0;
}

/** The release's memory as a Release carries it; undefined before the first commit. */
export function releaseStateOf(release: ReleaseObject | undefined): ReleaseState | undefined {
  const memory = release?.status?.graylane;
  if (!memory || typeof memory.state !== 'object' || memory.state === null) return undefined;
  return structuredClone(memory.state) as ReleaseState;
}

/** The status people read, projected from the memory (the memory itself rides along). */
export function projectReleaseStatus(state: ReleaseState, version: number, generation: number | undefined): ReleaseStatusDoc {
  return {
    phase: state.phase,
    message: state.message,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    currentStepIndex: state.stepIndex,
    ...(state.paused === true ? { paused: true } : {}),
    members: state.members.map((m) => ({ service: m.service, from: m.from, to: m.to })),
    graylane: { version, state: structuredClone(state) },
  };
}

/** See the file comment. */
export class KubernetesReleaseState {
  private readonly api: CustomObjectsApi;
  private readonly releases: ObjectCache<ReleaseObject>;
  /** Our last write per release, until the informer shows it (it lags; a pass right after a commit must not conflict with itself). */
  private readonly written = new Map<string, ReleaseObject>();

  constructor(options: KubernetesReleaseStateOptions) {
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.releases = options.releases;
  }

  /** The record in the Release's status; undefined before the first commit (or with no such Release). */
  loadRelease(key: ObjectKey): Promise<ReleaseRecord | undefined> {
    const release = this.freshest(key);
    const state = releaseStateOf(release);
    if (!release || !state) return Promise.resolve(undefined);
    return Promise.resolve({ key: { ...key }, state, version: releaseVersionOf(release) });
  }

  /** Writes the status subresource once at the resourceVersion read; see the state port's `commitRelease`. */
  async commitRelease(key: ObjectKey, state: ReleaseState, expectedVersion: number): Promise<CommitResult> {
    const release = this.freshest(key);
    if (!release) throw new KubernetesStateError('ReleaseNotFound', `release ${id(key)} not found: its status cannot be written`);
    const actual = releaseVersionOf(release);
    if (actual !== expectedVersion) throw new StateConflictError(key, expectedVersion, actual);
    const replaced = release.metadata?.resourceVersion;
    const body: ReleaseObject = {
      apiVersion: GRAYLANE_API_VERSION, kind: 'Release',
      metadata: { name: key.name, namespace: key.namespace, ...(replaced === undefined ? {} : { resourceVersion: replaced }) },
      spec: release.spec,
      status: { ...projectReleaseStatus(state, expectedVersion + 1, release.metadata?.generation), ...(release.status?.conditions ? { conditions: release.status.conditions } : {}) },
    };
    let stored: ReleaseObject;
    try {
      stored = await this.api.replaceNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, namespace: key.namespace, plural: PLURAL, name: key.name, body }) as ReleaseObject;
    } catch (error) {
      const code = statusCode(error);
      if (code === 409) throw new StateConflictError(key, expectedVersion, await this.versionNow(key));
      if (code === 404) throw new KubernetesStateError('ReleaseNotFound', `release ${id(key)} not found: its status cannot be written`, { cause: error });
      const retryAfterMs = serverRetryAfterMs(error);
      throw new KubernetesStateError('StatusWriteFailed', `the status of release ${id(key)} was not written: ${(error as Error).message}`, { cause: error, retryAfterMs });
    }
    this.written.set(id(key), stored);
    return { version: expectedVersion + 1, eventIds: [] };
  }

  /** After a 409: the version stored now, read from the server (and kept as the freshest copy known). */
  private async versionNow(key: ObjectKey): Promise<number> {
    try {
      const fresh = await this.api.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: key.namespace, plural: PLURAL, name: key.name }) as ReleaseObject;
      this.written.set(id(key), fresh);
      return releaseVersionOf(fresh);
    } catch {
      // The conflict stands either way; the informer will show what is there.
      return releaseVersionOf(this.releases.get(key.namespace, key.name));
    }
  }

  /** The cache's copy, unless a write of ours is newer. */
  private freshest(key: ObjectKey): ReleaseObject | undefined {
    const cached = this.releases.get(key.namespace, key.name);
    const mine = this.written.get(id(key));
    if (!mine) return cached;
    if (cached && cached.metadata?.uid === mine.metadata?.uid && releaseVersionOf(cached) < releaseVersionOf(mine)) return mine;
    this.written.delete(id(key));
    return cached;
  }
}
