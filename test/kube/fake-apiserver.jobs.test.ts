import { afterEach, describe, expect, it } from 'vitest';
import { BatchV1Api, type V1Job } from '@kubernetes/client-node';
import { FakeApiServer } from '../fixtures/kube/fake-api-server.js';
import { JobRunner } from '../fixtures/kube/job-runner.js';
import { kubeConfigFor } from '../fixtures/kube/kubeconfig.js';

let server: FakeApiServer;
let runner: JobRunner;
afterEach(async () => {
  await runner.stop();
  await server.close();
});

async function setup(): Promise<BatchV1Api> {
  server = await FakeApiServer.start();
  runner = JobRunner.start({ cluster: server.cluster, retryDelayMs: 10 });
  return kubeConfigFor({ server }).makeApiClient(BatchV1Api);
}

const job = (name: string, command: string[], spec: Partial<{ backoffLimit: number; restartPolicy: string }> = {}): V1Job => ({
  metadata: { name },
  spec: {
    ...(spec.backoffLimit === undefined ? {} : { backoffLimit: spec.backoffLimit }),
    template: { spec: { ...(spec.restartPolicy === undefined ? {} : { restartPolicy: spec.restartPolicy }), containers: [{ name: 'c', image: 'busybox', command }] } },
  },
});

async function until(batch: BatchV1Api, name: string, check: (j: V1Job) => boolean): Promise<V1Job> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const j = await batch.readNamespacedJob({ name, namespace: 'default' });
    if (check(j)) return j;
    if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(j.status)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('fake cluster: batch/v1 Jobs, run by the job runner', () => {
  it('refuses a Job whose pods would restart always, as the real server does', async () => {
    const batch = await setup();
    await expect(batch.createNamespacedJob({ namespace: 'default', body: job('bad', ['true']) })).rejects.toMatchObject({ code: 422, body: expect.stringContaining('spec.template.spec.restartPolicy') });
    await expect(batch.createNamespacedJob({ namespace: 'default', body: job('bad', ['true'], { restartPolicy: 'Always' }) })).rejects.toMatchObject({ code: 422 });
  });

  it('runs a Job’s command and reports Complete with its times', async () => {
    const batch = await setup();
    await batch.createNamespacedJob({ namespace: 'default', body: job('ok', ['sh', '-c', 'exit 0'], { restartPolicy: 'Never' }) });
    const done = await until(batch, 'ok', (j) => (j.status?.conditions ?? []).length > 0);
    expect(done.status).toMatchObject({ active: 0, succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] });
    expect(done.status?.startTime).toBeInstanceOf(Date);
    expect(done.status?.completionTime).toBeInstanceOf(Date);
    expect(done.spec?.backoffLimit).toBe(6);
  });

  it('runs a failing pod again up to backoffLimit, then marks the Job Failed', async () => {
    const batch = await setup();
    await batch.createNamespacedJob({ namespace: 'default', body: job('flaky', ['sh', '-c', 'exit 2'], { restartPolicy: 'OnFailure', backoffLimit: 2 }) });
    const failed = await until(batch, 'flaky', (j) => (j.status?.conditions ?? []).length > 0);
    expect(failed.status).toMatchObject({ active: 0, failed: 3, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] });
    expect(runner.runsOf('flaky')).toHaveLength(3);
  });

  it('kills the process when its Job is deleted', async () => {
    const batch = await setup();
    await batch.createNamespacedJob({ namespace: 'default', body: job('long', ['sleep', '60'], { restartPolicy: 'Never' }) });
    await until(batch, 'long', (j) => j.status?.active === 1);
    await batch.deleteNamespacedJob({ name: 'long', namespace: 'default', propagationPolicy: 'Background' });
    expect(await runner.runsOf('long')[0]!.ended).toEqual({ code: null, signal: 'SIGKILL' });
  });
});
