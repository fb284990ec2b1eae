import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchV1Api, type V1Job } from '@kubernetes/client-node';
import { Job } from 'kubernetes-models/batch/v1';
import { FakeApiServer } from '../../../test/fixtures/kube/fake-api-server.js';
import { JobRunner } from '../../../test/fixtures/kube/job-runner.js';
import { kubeConfigFor } from '../../../test/fixtures/kube/kubeconfig.js';
import { analysisLoadChecks } from '../../analysis/load-checks.js';
import { resolveTemplate } from '../../analysis/judge/template.js';
import { loadDocuments } from '../../documents/load.js';
import { describeProviderConformance, metricOf } from '../provider.case.test.js';
import { MetricProviderRegistry, ProviderError, type MeasureContext } from '../provider.js';
import { JobMetricProvider, registerJobProvider } from './job-provider.js';
import { ANALYSIS_RUN_METRIC_ANNOTATION, ANALYSIS_RUN_NAME_ANNOTATION, ANALYSIS_RUN_UID_LABEL, jobName } from './job-manifest.js';

const owner = { apiVersion: 'argoproj.io/v1alpha1', kind: 'AnalysisRun', name: 'web-6d4f-2-smoke', uid: '1b7c0e53-9a0e-4c55-a3a4-3a2d4b6a9f01' };
const context: MeasureContext = { namespace: 'default', owner };

/** A job block whose one container runs `sh -c <script>`. */
function shJob(script: string, extra: { backoffLimit?: number; restartPolicy?: string } = {}): unknown {
  return {
    job: {
      metadata: { labels: { purpose: 'smoke' }, annotations: { team: 'web' } },
      spec: {
        backoffLimit: extra.backoffLimit ?? 0,
        template: { spec: { restartPolicy: extra.restartPolicy ?? 'Never', containers: [{ name: 'smoke', image: 'busybox:1.36', command: ['sh', '-c', script], env: [{ name: 'GREETING', value: 'hello' }] }] } },
      },
    },
  };
}

async function startFake(): Promise<{ server: FakeApiServer; runner: JobRunner; provider: JobMetricProvider; batch: BatchV1Api }> {
  const server = await FakeApiServer.start();
  const runner = JobRunner.start({ cluster: server.cluster });
  const kubeConfig = kubeConfigFor({ server });
  return { server, runner, provider: new JobMetricProvider({ kubeConfig, pollIntervalMs: 50 }), batch: kubeConfig.makeApiClient(BatchV1Api) };
}

describeProviderConformance('job', async () => {
  const { server, runner, provider } = await startFake();
  return {
    provider,
    good: metricOf(shJob('exit 0')),
    // The run's namespace does not exist: the API server refuses the Job.
    failing: metricOf(shJob('exit 0')),
    failingContext: { namespace: 'no-such-namespace', owner },
    invalid: metricOf(shJob('exit 0', { restartPolicy: 'Always' })),
    slow: { skip: 'a Job has no provider timeout: its time limit is its own spec.activeDeadlineSeconds, which ends it Failed' },
    hanging: metricOf(shJob('sleep 60')),
    context,
    teardown: async () => {
      await runner.stop();
      await server.close();
    },
  };
});

describe('job provider against the fake cluster, Jobs run as local processes', () => {
  let fake: Awaited<ReturnType<typeof startFake>>;
  beforeAll(async () => { fake = await startFake(); });
  afterAll(async () => {
    await fake.runner.stop();
    await fake.server.close();
  });
  const measure = (provider: unknown, signal = new AbortController().signal, ctx: MeasureContext | undefined = context) =>
    fake.provider.measure({ metric: metricOf(provider), args: {}, signal, now: Date.now(), ...(ctx ? { context: ctx } : {}) });

  it('a Job that exits 0 is a Successful measurement; the Job written is valid, owned by the AnalysisRun and labelled as Argo does', async () => {
    const result = await measure(shJob('test "$GREETING" = hello'));
    expect(result.phase).toBeUndefined();
    expect(result.value).toEqual({ succeeded: 1, failed: 0 });
    const name = result.metadata!['job-name']!;
    expect(result.metadata).toEqual({ 'job-name': name, 'job-namespace': 'default' });
    expect(name).toMatch(/^web-6d4f-2-smoke\.m\.[0-9a-z]+$/);
    const job: V1Job = await fake.batch.readNamespacedJob({ name, namespace: 'default' });
    expect(() => new Job(JSON.parse(JSON.stringify(job)) as never).validate()).not.toThrow();
    expect(job.metadata?.ownerReferences).toEqual([{ ...owner, controller: true, blockOwnerDeletion: true }]);
    expect(job.metadata?.labels).toEqual({ purpose: 'smoke', [ANALYSIS_RUN_UID_LABEL]: owner.uid });
    expect(job.metadata?.annotations).toMatchObject({ team: 'web', [ANALYSIS_RUN_NAME_ANNOTATION]: owner.name, [ANALYSIS_RUN_METRIC_ANNOTATION]: 'm' });
    expect(job.spec?.template.metadata?.labels).toEqual({ [ANALYSIS_RUN_UID_LABEL]: owner.uid });
    expect(job.status?.conditions?.[0]).toMatchObject({ type: 'Complete', status: 'True' });
    expect(job.status?.completionTime).toBeDefined();
  });

  it('a Job that exits 3 is Failed, with a message naming the Job and its failed pods, after its backoff limit', async () => {
    const result = await measure(shJob('exit 3', { backoffLimit: 1 }));
    const name = result.metadata!['job-name']!;
    expect(result.phase).toBe('Failed');
    expect(result.value).toEqual({ succeeded: 0, failed: 2 });
    expect(result.message).toBe(`Job default/${name} failed (BackoffLimitExceeded: Job has reached the specified backoff limit) with 2 failed pods`);
    expect(fake.runner.runsOf(name)).toHaveLength(2);
    for (const run of fake.runner.runsOf(name)) expect(await run.ended).toEqual({ code: 3, signal: null });
  });

  it('an aborted measurement deletes its Job and the Job’s process is killed', async () => {
    const controller = new AbortController();
    const pending = measure(shJob('sleep 60'), controller.signal);
    const started = Date.now();
    let name: string | undefined;
    while (name === undefined && Date.now() - started < 10_000) {
      const jobs = await fake.batch.listNamespacedJob({ namespace: 'default', labelSelector: `${ANALYSIS_RUN_UID_LABEL}=${owner.uid}` });
      name = jobs.items.find((j) => (j.status?.active ?? 0) > 0)?.metadata?.name;
      if (name === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    expect(name).toBeDefined();
    const [run] = fake.runner.runsOf(name!);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'aborted' });
    await expect(fake.batch.readNamespacedJob({ name: name!, namespace: 'default' })).rejects.toMatchObject({ code: 404 });
    expect(await run!.ended).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('a Job deleted by someone else while it runs is an Error measurement naming it', async () => {
    const pending = measure(shJob('sleep 60'));
    const started = Date.now();
    let name: string | undefined;
    while (name === undefined && Date.now() - started < 10_000) {
      const jobs = await fake.batch.listNamespacedJob({ namespace: 'default' });
      name = jobs.items.find((j) => (j.status?.active ?? 0) > 0)?.metadata?.name;
      if (name === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    await fake.batch.deleteNamespacedJob({ name: name!, namespace: 'default' });
    await expect(pending).rejects.toMatchObject({ code: 'bad-response', message: `job: Job default/${name} was deleted before it finished` });
  });

  it('refuses to run without a cluster run: no namespace or AnalysisRun is invalid-config', async () => {
    await expect(measure(shJob('exit 0'), undefined, null as never)).rejects.toMatchObject({ code: 'invalid-config', message: expect.stringMatching(/runs only on a cluster/) });
    await expect(measure(shJob('exit 0'), undefined, { namespace: 'default' })).rejects.toBeInstanceOf(ProviderError);
  });

  it.each([
    ['no restartPolicy', { job: { spec: { template: { spec: { containers: [{ name: 'x', image: 'busybox' }] } } } } }, /job\.spec\.template\.spec\.restartPolicy: must be Never or OnFailure .* got none/],
    ['restartPolicy Always', shJob('exit 0', { restartPolicy: 'Always' }), /job\.spec\.template\.spec\.restartPolicy: .*got "Always"/],
    ['no pod template', { job: { spec: { backoffLimit: 1 } } }, /job\.spec\.template\.spec: a pod template/],
    ['no containers', { job: { spec: { template: { spec: { containers: [], restartPolicy: 'Never' } } } } }, /job\.spec\.template\.spec\.containers: at least one container/],
    ['a container without image', { job: { spec: { template: { spec: { containers: [{ name: 'x' }], restartPolicy: 'Never' } } } } }, /job\.spec\.template\.spec\.containers\[0\]\.image: required/],
    ['a negative backoffLimit', shJob('exit 0', { backoffLimit: -1 }), /job\.spec\.backoffLimit: must be an integer ≥ 0/],
  ])('an invalid job block (%s) is invalid-config naming the field', async (_what, block, message) => {
    expect(() => fake.provider.validate(metricOf(block))).toThrow(message);
    await expect(measure(block)).rejects.toMatchObject({ code: 'invalid-config', message: expect.stringMatching(message) });
  });

  it('registers in a registry for the controller root', () => {
    const registry = registerJobProvider(new MetricProviderRegistry(), { kubeConfig: kubeConfigFor({ server: fake.server }) });
    expect(registry.get('job')).toBeInstanceOf(JobMetricProvider);
  });

  it('Argo’s own sleep-job AnalysisTemplate loads, and its job runs: exit code 0 is Successful, 1 is Failed', async () => {
    const text = await readFile(new URL('../../../test/fixtures/kube/argo-sleep-job-analysistemplate.yaml', import.meta.url), 'utf8');
    const loaded = loadDocuments({ text, file: 'sleep-job.yaml' }, analysisLoadChecks);
    expect(loaded.errors).toEqual([]);
    const template = loaded.documents[0];
    if (template?.kind !== 'AnalysisTemplate') throw new Error('expected an AnalysisTemplate');
    for (const [exitCode, phase] of [['0', undefined], ['1', 'Failed']] as const) {
      const [metric] = resolveTemplate({ spec: template.doc.spec, args: [{ name: 'duration', value: '0.1' }, { name: 'exit-code', value: exitCode }, { name: 'rev', value: 'canary' }] }).metrics;
      const result = await fake.provider.measure({ metric: metric!, args: {}, signal: new AbortController().signal, now: Date.now(), context });
      expect(result.phase).toBe(phase);
      const job = await fake.batch.readNamespacedJob({ name: result.metadata!['job-name']!, namespace: 'default' });
      expect(job.spec?.template.metadata?.labels).toEqual({ rev: 'canary', [ANALYSIS_RUN_UID_LABEL]: owner.uid });
    }
  });
});

describe('job names', () => {
  it('are the run, the metric and the start, shortened to 63 characters for the pod label', () => {
    expect(jobName('web-1', 'Smoke_Test', 0)).toBe('web-1.smoke-test.0');
    const long = jobName('r'.repeat(60), 'metric-with-a-long-name', Date.UTC(2030, 0, 1));
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^r+\.metric-w\.[0-9a-z]+$/);
  });
});
