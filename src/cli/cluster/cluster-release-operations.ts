/**
 * A person's operation on a Release in a cluster (`graylane --kubeconfig … promote shop`): asked of
 * the leading controller through a request annotation on the Release, then waited for (see
 * src/kube/release-operation.ts for why the CLI does not operate the members itself, and how the
 * request is carried out exactly once). A request the controller found stale (the release moved
 * meanwhile) is asked again once on the new version; with `--expected-version` never.
 */
import { randomBytes } from 'node:crypto';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { ApiError } from '../../api/client.js';
import type { Operation } from '../../controller/control-plane.js';
import { fromApiOperation } from '../../controller/core/operations.js';
import { releaseRouteRefusal } from '../../engine/release/operate.js';
import { FIELD_MANAGER, GRAYLANE_API_VERSION } from '../../kube/names.js';
import {
  parseReleaseOperationRequest, parseReleaseOperationResult, RELEASE_OPERATION_ANNOTATION, RELEASE_OPERATION_RESULT_ANNOTATION, type ReleaseOperationRequest, type ReleaseOperationResult,
} from '../../kube/release-operation.js';
import { releaseStateOf, releaseVersionOf, type ReleaseObject } from '../../state/kubernetes/kubernetes-release-state.js';
import { buildReleaseView, type ServiceView } from '../../view/index.js';
import { clusterFailure, httpStatusOf } from './cluster-errors.js';
import type { ClusterReader } from './cluster-reader.js';
import { clusterRolloutView } from './cluster-view.js';

const [GROUP, VERSION] = GRAYLANE_API_VERSION.split('/') as [string, string];
const RELEASES = { group: GROUP, version: VERSION, plural: 'releases' } as const;

/** How often the Release is read while waiting for the controller's answer. */
const POLL_MS = 200;

/** Options of {@link ClusterReleaseOperations}. */
export interface ClusterReleaseOperationsOptions {
  /** Reads and writes the namespace. */
  reader: ClusterReader;
  /** Clock, epoch ms. */
  nowMs: () => number;
  /** How long to wait for the controller's answer (default 30 s). */
  answerTimeoutMs?: number | undefined;
}

/** See the file comment. */
export class ClusterReleaseOperations {
  private readonly timeoutMs: number;

  constructor(private readonly options: ClusterReleaseOperationsOptions) {
    this.timeoutMs = options.answerTimeoutMs ?? 30_000;
  }

  /** The Release `name`, or undefined when there is none (or the cluster does not serve Releases). */
  async find(name: string): Promise<ReleaseObject | undefined> {
    const { reader } = this.options;
    try {
      return await reader.custom.getNamespacedCustomObject({ ...RELEASES, namespace: reader.namespace, name }) as ReleaseObject;
    } catch (error) {
      if (httpStatusOf(error) === 404) return undefined;
      throw clusterFailure(error, reader.target, `reading release ${reader.namespace}/${name}`);
    }
  }

  /** Asks for `operation` on the Release `release` and waits for the controller's answer; see the file comment. */
  async run(release: ReleaseObject, operation: Operation, expectedVersion: number | undefined): Promise<void> {
    const name = release.metadata?.name ?? '';
    const op = fromApiOperation(operation);
    if (op.type === 'undo' || op.type === 'restart') {
      throw new ApiError('InvalidOperation', `${op.type} of release ${name} is not done on a cluster yet: ${op.type} its members one by one`, 409);
    }
    if (op.type === 'setHeaderRoute' || op.type === 'setMirrorRoute') throw new ApiError('InvalidOperation', releaseRouteRefusal(name, op.type), 409);
    let current = release;
    for (let attempt = 1; ; attempt++) {
      const version = releaseVersionOf(current);
      if (expectedVersion !== undefined && version !== expectedVersion) throw this.conflict(name, op.type, expectedVersion, version);
      const request: ReleaseOperationRequest = { id: randomBytes(8).toString('hex'), operation: op, version };
      await this.ask(current, request);
      const result = await this.answer(name, request.id);
      if (result.outcome === 'done') return;
      if (result.outcome === 'refused') throw new ApiError('InvalidOperation', result.message, 409);
      const fresh = await this.find(name);
      if (!fresh) throw new ApiError('NotFound', `release ${name} was deleted`, 404);
      if (attempt >= 2 || expectedVersion !== undefined) throw this.conflict(name, op.type, version, releaseVersionOf(fresh), attempt >= 2);
      current = fresh;
    }
  }

  /** The release as `status` shows it, with its members' own views. */
  async view(name: string): Promise<ServiceView> {
    const release = await this.find(name);
    if (!release) throw new ApiError('NotFound', `no release "${name}" in namespace ${this.options.reader.namespace}`, 404);
    const now = this.options.nowMs();
    const members = await Promise.all(release.spec.services.map(async (service) => clusterRolloutView(await this.options.reader.snapshot(service), now)));
    return buildReleaseView({
      name, namespace: this.options.reader.namespace, steps: release.spec.strategy.canary?.steps?.length ?? 0, state: releaseStateOf(release), members,
    });
  }

  /** Writes the request at the resourceVersion read, refusing while another person's request waits for its answer. */
  private async ask(release: ReleaseObject, request: ReleaseOperationRequest): Promise<void> {
    const { reader } = this.options;
    const name = release.metadata?.name ?? '';
    const annotations = release.metadata?.annotations ?? {};
    const pending = parseReleaseOperationRequest(annotations[RELEASE_OPERATION_ANNOTATION]);
    if (pending && parseReleaseOperationResult(annotations[RELEASE_OPERATION_RESULT_ANNOTATION])?.id !== pending.id) {
      throw new ApiError('Conflict', `release ${name} has an operation (${pending.operation.type}) the controller has not answered yet; wait for it, or check that the controller is running`, 409);
    }
    try {
      await reader.custom.patchNamespacedCustomObject(
        { ...RELEASES, namespace: reader.namespace, name, fieldManager: FIELD_MANAGER, body: { metadata: { resourceVersion: release.metadata?.resourceVersion, annotations: { [RELEASE_OPERATION_ANNOTATION]: JSON.stringify(request) } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (error) {
      if (httpStatusOf(error) === 409) throw new ApiError('Conflict', `${request.operation.type} not asked: release ${name} changed while it was asked. Look again with \`graylane status ${name}\` and repeat the command if it still makes sense.`, 409);
      throw clusterFailure(error, reader.target, `writing release ${reader.namespace}/${name}`);
    }
  }

  /** Waits for the controller's answer to request `id`. */
  private async answer(name: string, id: string): Promise<ReleaseOperationResult> {
    const deadline = this.options.nowMs() + this.timeoutMs;
    for (;;) {
      const release = await this.find(name);
      const result = parseReleaseOperationResult(release?.metadata?.annotations?.[RELEASE_OPERATION_RESULT_ANNOTATION]);
      if (result?.id === id) return result;
      if (this.options.nowMs() >= deadline) {
        throw new ApiError('Timeout', `the graylane controller has not carried out the operation on release ${name} within ${Math.round(this.timeoutMs / 1000)} s (is it running, and leading?); it stays asked and is carried out when the controller gets to it`, 504);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  private conflict(name: string, what: string, expected: number, actual: number, retried = false): ApiError {
    return new ApiError(
      'Conflict',
      `${what} not done: release ${name} ${retried ? 'kept changing while it was decided' : 'changed since you looked'} (version ${expected}, now ${actual}). Look again with \`graylane status ${name}\` and repeat the command if it still makes sense.`,
      409,
    );
  }
}
