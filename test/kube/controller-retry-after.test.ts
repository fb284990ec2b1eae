/**
 * The controller against an API server that sheds its writes (API priority and fairness: 429
 * with Retry-After): the ReplicaSet creation and the Rollout's status write are each refused
 * twice. Read from the fake's request log: no write is tried again before the server's delay is
 * over (the work queue's own 100 ms back-off would have hammered it), and the Rollout still
 * converges.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonLog } from '../../src/controller/kubernetes/json-log.js';
import type { KubernetesController } from '../../src/controller/kubernetes/kubernetes-controller.js';
import { POD_TEMPLATE_HASH_LABEL } from '../../src/kube/names.js';
import { apply, documents, readRollout, runController, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';

const EXAMPLES = resolve(import.meta.dirname, '../../examples/kubernetes');
const RETRY_AFTER_SECONDS = 2;

let cluster: Cluster | undefined;
let controller: KubernetesController | undefined;
const lines: Array<Record<string, unknown>> = [];

afterEach(async () => {
  await controller?.stop();
  await cluster?.close();
  controller = undefined;
  cluster = undefined;
  lines.length = 0;
});

/** The requests of one write, in order of arrival, with the time each came after the one before it answered 429. */
function attempts(c: Cluster, method: string, path: string): Array<{ atMs: number; status: number | undefined; sinceThrottledMs: number | undefined }> {
  const seen = c.server.requests.filter((r) => r.method === method && r.path.split('?')[0]!.includes(path));
  return seen.map((r, i) => {
    const before = seen[i - 1];
    return { atMs: r.atMs, status: r.status, sinceThrottledMs: before?.status === 429 ? r.atMs - before.atMs : undefined };
  });
}

describe('the controller under a throttling API server', () => {
  it('waits as long as a 429\'s Retry-After asks before writing a ReplicaSet or the status again, and the Rollout still reaches Healthy', async () => {
    const c = (cluster = await startCluster());
    await apply(c, documents(readFileSync(join(EXAMPLES, '001-blue-green.yaml'), 'utf8')));
    c.server.injectFault({ status: 429, times: 2, method: 'PUT', pathIncludes: '/rollouts/demo/status', retryAfterSeconds: RETRY_AFTER_SECONDS });
    c.server.injectFault({ status: 429, times: 2, method: 'POST', pathIncludes: '/replicasets', retryAfterSeconds: RETRY_AFTER_SECONDS });
    controller = await runController({ kubeConfig: c.kc, namespace: 'default', log: jsonLog({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }) });

    const healthy = await until('Healthy with 3 available', () => readRollout(c, 'default', 'demo'), (r) => r.status?.phase === 'Healthy' && r.status.availableReplicas === 3, { timeoutMs: 30_000 });
    const v1 = healthy.status!.stableRS!;
    await until('demo-service on the first revision', async () => (await c.core.readNamespacedService({ namespace: 'default', name: 'demo-service' })).spec?.selector?.[POD_TEMPLATE_HASH_LABEL], (h) => h === v1);
    expect((await c.apps.listNamespacedReplicaSet({ namespace: 'default' })).items.map((rs) => rs.metadata?.name)).toEqual([`demo-${v1}`]);

    for (const [method, path] of [['PUT', '/rollouts/demo/status'], ['POST', '/replicasets']] as const) {
      const tried = attempts(c, method, path);
      // Both refusals were answered, and each was tried again, once, only after the delay.
      expect(tried.filter((t) => t.status === 429), `${method} ${path}`).toHaveLength(2);
      const retries = tried.filter((t) => t.sinceThrottledMs !== undefined);
      expect(retries, `${method} ${path}`).toHaveLength(2);
      for (const retry of retries) expect(retry.sinceThrottledMs, `${method} ${path}`).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS * 1000);
    }
    // The refused status writes failed passes that the queue retried after the server's delay.
    const failed = lines.filter((l) => l.msg === 'reconcile failed');
    expect(failed.map((l) => l.retryInMs)).toEqual([RETRY_AFTER_SECONDS * 1000, RETRY_AFTER_SECONDS * 1000]);
  }, 60_000);
});
