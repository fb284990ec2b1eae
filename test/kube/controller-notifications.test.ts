/**
 * Notifications from the cluster controller, end to end against the fake API server: receivers
 * from the `graylane-notifications` ConfigMap (the same format as an App's section) get a
 * Rollout's transitions in order; `/metrics` counts them; an edit of the ConfigMap applies
 * without a restart; an invalid one is logged with its field and changes nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { jsonLog } from '../../src/controller/kubernetes/json-log.js';
import { KubernetesController } from '../../src/controller/kubernetes/kubernetes-controller.js';
import { NOTIFICATIONS_CONFIGMAP, NOTIFICATIONS_KEY } from '../../src/controller/kubernetes/cluster-notifications.js';
import { apply, patchRolloutSpec, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { startReceiver, type ReceiverServer } from '../fixtures/notify/receiver-server.js';

let cluster: Cluster | undefined;
let controller: KubernetesController | undefined;
const receivers: ReceiverServer[] = [];

afterEach(async () => {
  await controller?.stop();
  controller = undefined;
  await cluster?.close();
  cluster = undefined;
  for (const r of receivers.splice(0)) await r.close();
});

const template = (image: string) => ({ metadata: { labels: { app: 'demo' } }, spec: { containers: [{ name: 'demo', image, ports: [{ containerPort: 8080 }] }] } });
const rollout = (image: string) => ({
  apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'demo' },
  spec: {
    replicas: 2, selector: { matchLabels: { app: 'demo' } }, template: template(image),
    strategy: { blueGreen: { activeService: 'demo-service', autoPromotionEnabled: true, scaleDownDelaySeconds: 0 } },
  },
});
const demoService = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'demo-service' }, spec: { selector: { app: 'demo' }, ports: [{ port: 80, targetPort: 8080 }] } };

type Body = { transition: string; namespace: string; name: string; subject: string };

describe('notifications on the cluster', () => {
  it('a webhook from the ConfigMap gets started → completed of a Rollout, counted on /metrics; an invalid edit is logged with its field', async () => {
    const hook = await startReceiver();
    receivers.push(hook);
    cluster = await startCluster({ readyAfterMs: 100 });
    const config = `receivers:\n- name: ops\n  type: webhook\n  urlFrom: {fromEnv: OPS_HOOK}\n  filter: {namespaces: [default]}\n`;
    await cluster.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: NOTIFICATIONS_CONFIGMAP }, data: { [NOTIFICATIONS_KEY]: config } } });
    await apply(cluster, [demoService, rollout('demo:v1')]);
    const lines: string[] = [];
    controller = new KubernetesController({
      kubeConfig: cluster.kc, namespace: 'default', workers: 2, healthAddr: '127.0.0.1:0', metricsAddr: '127.0.0.1:0',
      log: jsonLog({ write: (l) => void lines.push(l) }), informerBackoff: { initialMs: 50, maxMs: 500 },
      notifications: { configMap: { namespace: 'default', name: NOTIFICATIONS_CONFIGMAP }, refreshMs: 200, secrets: { env: { OPS_HOOK: `${hook.url}/ops` } } },
    });
    await controller.start();
    await until('v1 healthy', () => cluster!.custom.getNamespacedCustomObject({ group: 'graylane.dev', version: 'v1alpha1', namespace: 'default', plural: 'rollouts', name: 'demo' }) as Promise<{ status?: { phase?: string } }>, (r) => r.status?.phase === 'Healthy', { timeoutMs: 20_000 });
    await patchRolloutSpec(cluster, 'default', 'demo', { template: template('demo:v2') });
    await until('the completed notification', () => Promise.resolve(hook.received.map((r) => (r.body as Body).transition)), (t) => t.includes('completed'), { timeoutMs: 20_000 });
    const bodies = hook.received.map((r) => r.body as Body);
    expect(bodies.map((b) => b.transition)).toEqual(['started', 'completed']);
    expect(bodies[0]).toMatchObject({ transition: 'started', subject: 'rollout', namespace: 'default', name: 'demo' });
    expect(hook.received[0]!.path).toBe('/ops');
    const metrics = await (await fetch(`${controller.urls!.metrics}/metrics`)).text();
    expect(metrics).toContain(`graylane_notifications_total{receiver="ops",outcome="delivered"} ${hook.received.length}`);

    // An invalid edit: logged with the field, the receivers in force stay.
    await cluster.core.replaceNamespacedConfigMap({ namespace: 'default', name: NOTIFICATIONS_CONFIGMAP, body: { metadata: { name: NOTIFICATIONS_CONFIGMAP }, data: { [NOTIFICATIONS_KEY]: 'receivers:\n- {name: ops, type: pager, url: "http://x"}\n' } } });
    await until('the invalid ConfigMap logged', () => Promise.resolve(lines.filter((l) => l.includes('is invalid'))), (found) => found.length > 0, { timeoutMs: 10_000 });
    expect(lines.find((l) => l.includes('is invalid'))).toContain('receivers.0.type');
    expect(lines.join('\n')).not.toContain(hook.url);
  }, 60_000);
});
