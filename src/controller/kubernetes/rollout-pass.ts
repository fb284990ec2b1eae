/**
 * One reconcile pass of one Rollout on Kubernetes, as an ordered list of steps that may end it
 * early: (a) the spec as written (absent: give back what it held; invalid: the InvalidSpec
 * condition and a Warning, nothing else touched); (b) the Services it names; (c) what this
 * controller cannot run yet (analysis, the guard, request-level routes); (d) the core's
 * reconciler pass, requeued when time alone will move it; (e) after it, from what was committed:
 * the `workloadRef` Deployment's replicas and a `spec.restartAt` restart, one pod at a time.
 * Retired revisions are deleted by the reconciler itself (`retireRevision` → the spec source's
 * `forgetRevision`). A Rollout's ReplicaSets go with it by the owner cascade.
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type AppsV1Api, type KubeConfig, type V1Deployment, type V1Service } from '@kubernetes/client-node';
import { rolloutGroupVersion, type RolloutFlavour } from '../../kube/rollout-flavour.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import type { KubernetesRuntime } from '../../runtime/kubernetes/kubernetes-runtime.js';
import { rfc3339 } from '../../state/kubernetes/status-projection.js';
import type { KubernetesState, RolloutObject } from '../../state/kubernetes/kubernetes-state.js';
import type { ObjectKey } from '../../state/state-port.js';
import { checkServices } from '../../traffic/service-selector/check-services.js';
import type { ServiceSelectorTrafficProvider } from '../../traffic/service-selector/service-selector-provider.js';
import type { Reconciler } from '../core/reconciler.js';
import type { ControllerLog } from './controller-loop.js';
import type { ReconcileOutcome } from './controller-metrics.js';
import { showsInvalidSpec } from './invalid-spec-state.js';
import type { RevisionTemplate, RolloutSpecSource } from './rollout-spec-source.js';
import { unsupportedFeatures } from './unsupported-features.js';
import { releaseReferencedDeployment, scaleReferencedDeployment } from './workload-ref.js';

/** Options of {@link RolloutPass}. */
export interface RolloutPassOptions {
  /** For the status write of `restartedAt`. */
  kubeConfig: KubeConfig;
  /** Where the workloadRef Deployment is scaled. */
  apps: AppsV1Api;
  /** What each Rollout should be. */
  specs: RolloutSpecSource;
  /** The Rollouts' status (InvalidSpec, the committed phase). */
  state: Pick<KubernetesState, 'load' | 'markInvalid'>;
  /** The core's reconciler. */
  reconciler: Pick<Reconciler, 'pass' | 'forget'>;
  /** The Service selector: its validate half, and the giving back of Services. */
  traffic: Pick<ServiceSelectorTrafficProvider, 'validate' | 'removeManagedRoutes'>;
  /** The pods (availability for `progressively`, restarts). */
  runtime: Pick<KubernetesRuntime, 'listInstances' | 'restartPods'>;
  /** The cached Rollouts (their status as last written). */
  rollouts: ObjectCache<RolloutObject>;
  /** The cached Services. */
  services: ObjectCache<V1Service>;
  /** The cached Deployments. */
  deployments: ObjectCache<V1Deployment>;
  /** Queues the key again after `afterMs` (0: now). */
  requeue: (key: ObjectKey, afterMs: number) => void;
  /** Clock, epoch ms. */
  nowMs: () => number;
  /** Structured log. */
  log: ControllerLog;
  /** Whose Rollouts (default `graylane`): where `status.restartedAt` is written. */
  flavour?: RolloutFlavour | undefined;
  /** The guard's Prometheus (`--prometheus-url`), if the controller was given one. */
  prometheusUrl?: string | undefined;
  /** While pods of a restart remain, the pass comes back this soon at the latest (default 1000 ms). */
  restartPollMs?: number | undefined;
  /** Whether the cluster serves the AnalysisRun API (default: it does); a Rollout with analysis is InvalidSpec when not. */
  analysisServed?: (() => boolean) | undefined;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const id = (key: ObjectKey): string => `${key.namespace}/${key.name}`;

/** See the file comment. */
export class RolloutPass {
  private readonly custom: CustomObjectsApi;
  /** The Deployment each Rollout took its template from, for the giving back once it is deleted. */
  private readonly workloadRefs = new Map<string, string>();

  constructor(private readonly options: RolloutPassOptions) {
    this.custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
  }

  /** Remembers a deleted Rollout's `workloadRef` (from the cache's deletion) for the giving back. */
  rolloutDeleted(rollout: RolloutObject): void {
    const ref = rollout.spec?.workloadRef;
    const namespace = rollout.metadata?.namespace;
    const name = rollout.metadata?.name;
    if (ref?.kind === 'Deployment' && namespace && name) this.workloadRefs.set(id({ namespace, name }), ref.name);
  }

  /** One pass of `key`; see the file comment. */
  async run(key: ObjectKey): Promise<Exclude<ReconcileOutcome, 'error'>> {
    const o = this.options;
    const check = o.specs.check(key);
    if (check.state === 'absent') {
      await this.giveBack(key);
      return 'success';
    }
    if (check.state === 'invalid') return this.invalid(key, check.message);
    const { spec } = check.desired;
    const template = check.desired.revisions.find((r) => r.name === check.desired.desiredRevision)?.template as RevisionTemplate | undefined;
    const problems = [
      ...checkServices({ spec, namespace: key.namespace, rollout: key.name, services: o.services, templateLabels: template?.podTemplate.metadata?.labels ?? {} }),
      ...unsupportedFeatures(spec, o.traffic, { prometheusUrl: o.prometheusUrl, analysisServed: o.analysisServed?.() ?? true }),
      ...(spec.restartAt !== undefined && Number.isNaN(Date.parse(spec.restartAt)) ? [`spec.restartAt: "${spec.restartAt}" is not a time (RFC 3339, e.g. 2026-01-02T03:04:05Z)`] : []),
    ];
    if (problems.length > 0) return this.invalid(key, problems.join('; '));
    if (spec.workloadRef?.kind === 'Deployment') this.workloadRefs.set(id(key), spec.workloadRef.name);
    const result = await o.reconciler.pass(key);
    if (result.outcome === 'gone') {
      await this.giveBack(key);
      return 'success';
    }
    if (result.outcome === 'requeue') {
      o.requeue(key, 0);
      return 'requeue';
    }
    if (result.requeueAfterMs !== undefined) o.requeue(key, result.requeueAfterMs);
    await this.scaleWorkloadRef(key);
    await this.restart(key);
    return 'success';
  }

  /** The InvalidSpec condition and its Warning, written once per sentence (the write itself comes back as a change). */
  private async invalid(key: ObjectKey, message: string): Promise<'invalid'> {
    const rollout = this.options.rollouts.get(key.namespace, key.name);
    const shown = rollout?.status?.conditions?.find((c) => c.type === 'InvalidSpec');
    if (!(showsInvalidSpec(rollout) && shown?.message === message)) {
      await this.options.state.markInvalid(key, message);
      this.options.log('warn', 'invalid spec', { rollout: id(key), message });
    }
    return 'invalid';
  }

  /** A deleted Rollout gives its Services and its workloadRef Deployment back. */
  private async giveBack(key: ObjectKey): Promise<void> {
    this.options.reconciler.forget(key);
    await this.options.traffic.removeManagedRoutes({ namespace: key.namespace, service: key.name });
    const deployment = this.workloadRefs.get(id(key));
    if (deployment !== undefined && await releaseReferencedDeployment({ apps: this.options.apps, namespace: key.namespace, name: deployment })) {
      this.options.log('info', 'workloadRef Deployment given back', { rollout: id(key), deployment });
    }
    this.workloadRefs.delete(id(key));
  }

  /** Scales the `workloadRef` Deployment as its `scaleDown` mode says, from the committed phase. */
  private async scaleWorkloadRef(key: ObjectKey): Promise<void> {
    const o = this.options;
    const ref = o.rollouts.get(key.namespace, key.name)?.spec?.workloadRef;
    if (ref?.kind !== 'Deployment') return;
    const deployment = o.deployments.get(key.namespace, ref.name);
    const record = await o.state.load(key);
    if (!deployment || !record) return;
    const availableReplicas = o.runtime.listInstances({ namespace: key.namespace, service: key.name }).filter((i) => i.state === 'ready').length;
    await scaleReferencedDeployment({ apps: o.apps, deployment, mode: ref.scaleDown ?? 'never', rollout: { phase: record.status.phase, availableReplicas } });
  }

  /**
   * `spec.restartAt` as Argo does it: once the time has come, one pod at a time is deleted (its
   * ReplicaSet recreates it) while every other pod of its revision is ready; when none older is
   * left, `status.restartedAt` records it, so the same restartAt is not acted on again.
   */
  private async restart(key: ObjectKey): Promise<void> {
    const o = this.options;
    const rollout = o.rollouts.get(key.namespace, key.name);
    const restartAt = rollout?.spec?.restartAt;
    if (restartAt === undefined) return;
    const atMs = Date.parse(restartAt);
    const doneMs = rollout?.status?.restartedAt === undefined ? Number.NaN : Date.parse(String(rollout.status.restartedAt));
    if (doneMs === atMs) return;
    const now = o.nowMs();
    if (atMs > now) {
      o.requeue(key, atMs - now);
      return;
    }
    const step = await o.runtime.restartPods({ namespace: key.namespace, service: key.name, before: atMs });
    if (step.restarted !== undefined) o.log('info', 'pod restarted', { rollout: id(key), pod: step.restarted });
    if (step.more) {
      o.requeue(key, o.restartPollMs ?? 1000);
      return;
    }
    await this.custom.patchNamespacedCustomObjectStatus(
      { ...rolloutGroupVersion(o.flavour ?? 'graylane'), namespace: key.namespace, plural: 'rollouts', name: key.name, body: { status: { restartedAt: rfc3339(atMs) } } },
      mergePatch,
    );
    o.log('info', 'restart done', { rollout: id(key), restartAt });
  }
}
