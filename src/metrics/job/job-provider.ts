/**
 * The `job` provider (Argo Rollouts' `provider.job`): each measurement creates a Kubernetes Job
 * from the metric's block, in the AnalysisRun's namespace and owned by it, and waits for it. The
 * Job completing (condition Complete) is a Successful measurement, the Job failing (condition
 * Failed: its backoff limit or deadline reached) a Failed one. A measurement that is aborted, or
 * that cannot follow its Job, deletes the Job with propagation Background so its pods go too.
 * It runs only on a cluster: a measurement without the run's namespace and owner is refused.
 */
import type { ApiException, BatchV1Api, KubeConfig, V1Job, V1JobCondition } from '@kubernetes/client-node';
import type { ResolvedMetric } from '../../analysis/judge/types.js';
import { jobBlockIssues, jobBlockPath } from '../../analysis/job-block.js';
import { throwIfAborted } from '../deadline.js';
import { providerConfig, ProviderError, type MeasureRequest, type MeasureResult, type MetricProvider, type MetricProviderRegistry, type ProviderCapability } from '../provider.js';
import { jobManifest, type JobManifestInput } from './job-manifest.js';

/** The provider key. */
export const JOB_PROVIDER_TYPE = 'job';
/** How often a running Job is read back by default. */
export const DEFAULT_JOB_POLL_INTERVAL_MS = 2_000;

/** Options for {@link JobMetricProvider}. */
export interface JobProviderOptions {
  /** The cluster the controller talks to (the one its AnalysisRuns live in). */
  kubeConfig: KubeConfig;
  /** How often the Job's status is read while it runs (default {@link DEFAULT_JOB_POLL_INTERVAL_MS}). */
  pollIntervalMs?: number;
}

type JobBlock = JobManifestInput['block'];

// Matched by shape: the client is loaded on first use, and the single-host daemon, which registers
// this provider too, never loads it (it costs a process ~80 MB).
const statusOf = (err: unknown): number | undefined => (err instanceof Error && err.constructor.name === 'ApiException' && typeof (err as ApiException<unknown>).code === 'number' ? (err as ApiException<unknown>).code : undefined);

/** The `message` of a Status body the server answered with, else the body as text. */
function statusMessage(body: unknown): string {
  if (typeof body !== 'string') return '';
  try {
    return (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    return body;
  }
}

/** The condition of `type` that holds, if any. */
function holds(job: V1Job, type: 'Complete' | 'Failed'): V1JobCondition | undefined {
  return (job.status?.conditions ?? []).find((c) => c.type === type && c.status === 'True');
}

/** Creates a Job per measurement and reports how it ended. */
export class JobMetricProvider implements MetricProvider {
  readonly type = JOB_PROVIDER_TYPE;
  // A Job's time limit is its own spec.activeDeadlineSeconds (it then fails), not a provider timeout.
  readonly capabilities: readonly ProviderCapability[] = [];
  private batchClient: Promise<BatchV1Api> | undefined;
  private readonly kubeConfig: KubeConfig;
  private readonly pollIntervalMs: number;

  constructor(options: JobProviderOptions) {
    this.kubeConfig = options.kubeConfig;
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_JOB_POLL_INTERVAL_MS;
  }

  /** The Batch API client, made on first use. */
  private batch(): Promise<BatchV1Api> {
    this.batchClient ??= import('@kubernetes/client-node').then(({ BatchV1Api: Api }) => this.kubeConfig.makeApiClient(Api));
    return this.batchClient;
  }

  validate(metric: ResolvedMetric): void {
    const block = providerConfig<unknown>(metric, this.type);
    const [first] = jobBlockIssues(block);
    if (first) throw new ProviderError('invalid-config', this.type, `metric "${metric.name}": job.${jobBlockPath(first.path) || '(block)'}: ${first.reason}`);
  }

  // async so that bad config and an early abort reject rather than throw.
  async measure({ metric, signal, now, context }: MeasureRequest): Promise<MeasureResult> {
    this.validate(metric);
    const namespace = context?.namespace;
    const owner = context?.owner;
    if (namespace === undefined || owner === undefined) {
      throw new ProviderError('invalid-config', this.type, `metric "${metric.name}": the job provider runs only on a cluster (it creates a Kubernetes Job owned by the AnalysisRun); this run has no namespace or AnalysisRun`);
    }
    throwIfAborted(signal, this.type);
    const body = jobManifest({ block: providerConfig<JobBlock>(metric, this.type), metricName: metric.name, namespace, owner, startedAtMs: now });
    const name = body.metadata!.name!;
    const label = `Job ${namespace}/${name}`;
    const metadata = { 'job-name': name, 'job-namespace': namespace };
    await this.create(body, owner.uid, label);
    try {
      for (;;) {
        const job = await this.read(name, namespace, label, signal);
        const failed = holds(job, 'Failed');
        if (failed) {
          const pods = job.status?.failed ?? 0;
          const why = [failed.reason, failed.message].filter((s) => s !== undefined && s !== '').join(': ');
          return { value: { succeeded: job.status?.succeeded ?? 0, failed: pods }, phase: 'Failed', message: `${label} failed${why ? ` (${why})` : ''} with ${pods} failed pod${pods === 1 ? '' : 's'}`, metadata };
        }
        if (holds(job, 'Complete')) {
          return { value: { succeeded: job.status?.succeeded ?? 0, failed: job.status?.failed ?? 0 }, message: `${label} completed`, metadata };
        }
        await this.sleep(signal);
      }
    } catch (err) {
      // Whatever ended the wait before the Job did (abort, a lost Job, an unreachable server), the
      // Job must not run on: a retried measurement creates its own.
      await this.remove(name, namespace);
      if (signal.aborted) throw new ProviderError('aborted', this.type, `measurement aborted; ${label} deleted`, { cause: err });
      throw err;
    }
  }

  private async create(body: V1Job, ownerUid: string, label: string): Promise<void> {
    const namespace = body.metadata!.namespace!;
    try {
      await (await this.batch()).createNamespacedJob({ namespace, body });
    } catch (err) {
      if (statusOf(err) === 409) {
        // A retried create whose first attempt landed: the Job is ours if it is owned by this run.
        const existing = await (await this.batch()).readNamespacedJob({ name: body.metadata!.name!, namespace }).catch(() => undefined);
        if (existing?.metadata?.ownerReferences?.some((r) => r.uid === ownerUid && r.controller === true)) return;
        throw new ProviderError('bad-status', this.type, `${label} already exists and belongs to another run`, { cause: err });
      }
      throw this.apiError(err, `cannot create ${label}`);
    }
  }

  private async read(name: string, namespace: string, label: string, signal: AbortSignal): Promise<V1Job> {
    throwIfAborted(signal, this.type);
    try {
      return await (await this.batch()).readNamespacedJob({ name, namespace });
    } catch (err) {
      if (statusOf(err) === 404) throw new ProviderError('bad-response', this.type, `${label} was deleted before it finished`, { cause: err });
      throw this.apiError(err, `cannot read ${label}`);
    }
  }

  private async remove(name: string, namespace: string): Promise<void> {
    try {
      await (await this.batch()).deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' });
    } catch {
      // Already gone, or the server is unreachable: the Job is owned by the run and goes with it.
    }
  }

  private apiError(err: unknown, what: string): ProviderError {
    const code = statusOf(err);
    if (code !== undefined) {
      const detail = statusMessage((err as ApiException<unknown>).body);
      return new ProviderError('bad-status', this.type, `${what}: the API server answered ${code}${detail ? `: ${detail}` : ''}`, { cause: err });
    }
    return new ProviderError('unreachable', this.type, `${what}: ${(err as Error).message}`, { cause: err });
  }

  /** Waits one poll interval, or less when aborted (then the next read throws `aborted`). */
  private sleep(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, this.pollIntervalMs);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** Adds the job provider to a registry (the Kubernetes controller's composition root calls this). */
export function registerJobProvider(registry: MetricProviderRegistry, options: JobProviderOptions): MetricProviderRegistry {
  return registry.register(new JobMetricProvider(options));
}
