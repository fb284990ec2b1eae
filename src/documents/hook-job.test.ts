import { Job } from 'kubernetes-models/batch/v1/Job';
import { describe, expect, it } from 'vitest';
import { HookJobError, hookJobTemplate } from './hook-job.js';
import type { AnalysisTemplateSpec } from './schema.js';

/** A hook run's template as the engine makes it (src/engine/hooks.ts). */
const hookRun = (command: string[], env?: Record<string, string>): AnalysisTemplateSpec => ({
  metrics: [{ name: 'preRollout', provider: { command: { command, ...(env ? { env } : {}), timeoutSeconds: 300 } }, count: 1, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 0 }],
});

const podTemplate = {
  metadata: { labels: { app: 'shop', 'rollouts-pod-template-hash': '7d9f' }, annotations: { 'vault.hashicorp.com/agent-inject': 'true' } },
  spec: {
    serviceAccountName: 'shop',
    volumes: [{ name: 'config', configMap: { name: 'shop' } }],
    containers: [
      {
        name: 'shop', image: 'shop:2.0', args: ['serve'], ports: [{ containerPort: 8080 }],
        env: [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db', key: 'url' } } }, { name: 'LOG', value: 'info' }],
        readinessProbe: { httpGet: { path: '/healthz', port: 8080 } }, livenessProbe: { httpGet: { path: '/healthz', port: 8080 } },
        volumeMounts: [{ name: 'config', mountPath: '/etc/shop' }],
      },
      { name: 'proxy', image: 'envoy:1' },
    ],
  },
};

describe('hookJobTemplate', () => {
  it('runs a bare command hook as a Job from the new revision\'s pod template, its first container\'s command replaced', () => {
    const out = hookJobTemplate({ template: hookRun(['./migrate', 'expand'], { LOG: 'debug' }), podTemplate, rollout: 'shop', revision: '7d9f' });
    const labels = { 'graylane.dev/hook': 'preRollout', 'graylane.dev/rollout': 'shop', 'graylane.dev/revision': '7d9f' };
    expect(out.metrics).toEqual([{
      name: 'preRollout', count: 1, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 0,
      provider: {
        job: {
          metadata: { labels },
          spec: {
            backoffLimit: 0,
            activeDeadlineSeconds: 300,
            template: {
              metadata: { annotations: { 'vault.hashicorp.com/agent-inject': 'true' }, labels },
              spec: {
                serviceAccountName: 'shop',
                volumes: [{ name: 'config', configMap: { name: 'shop' } }],
                restartPolicy: 'Never',
                containers: [{
                  name: 'shop', image: 'shop:2.0', command: ['./migrate', 'expand'],
                  env: [
                    { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db', key: 'url' } } },
                    { name: 'LOG', value: 'debug' }, { name: 'GRAYLANE_HOOK', value: 'preRollout' }, { name: 'GRAYLANE_REVISION', value: '7d9f' },
                  ],
                  volumeMounts: [{ name: 'config', mountPath: '/etc/shop' }],
                }],
              },
            },
          },
        },
      },
    }]);
    // The pod template given is not changed.
    expect(podTemplate.spec.containers).toHaveLength(2);
  });

  it('makes a Job the Kubernetes schema accepts', () => {
    const job = hookJobTemplate({ template: hookRun(['./migrate', 'contract']), podTemplate, rollout: 'shop', revision: '7d9f' }).metrics[0]!.provider.job!;
    expect(() => new Job({ metadata: { name: 'shop-7d9f-prerollout', ...job.metadata }, spec: job.spec as never }).validate()).not.toThrow();
  });

  it('leaves a hook that names its own Job alone', () => {
    const own: AnalysisTemplateSpec = { metrics: [{ name: 'postPromotion', provider: { job: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'm', image: 'm:1' }] } } } } }, count: 1 }] };
    expect(hookJobTemplate({ template: own, podTemplate, rollout: 'shop', revision: '7d9f' })).toEqual(own);
  });

  it('refuses a pod template without a container, naming the hook and the revision', () => {
    const run = () => hookJobTemplate({ template: hookRun(['./migrate']), podTemplate: { spec: { containers: [] } }, rollout: 'shop', revision: '7d9f' });
    expect(run).toThrow(HookJobError);
    expect(run).toThrow('preRollout hook: the pod template of revision 7d9f has no container to run ["./migrate"] in');
  });
});
