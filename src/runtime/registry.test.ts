import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { ObjectCache } from '../kube/object-cache.js';
import { KubernetesRuntime } from './kubernetes/kubernetes-runtime.js';
import { ProcessRuntime } from './process/process-runtime.js';
import { createRuntime, isRuntimeType, runtimeTypeOf, runtimeTypes } from './registry.js';
import { StaticRuntime } from './static/static-runtime.js';

describe('runtime registry', () => {
  it('creates adapters by type', async () => {
    const p = createRuntime('process', { stateDir: '/tmp/graylane-registry-test', baseDir: '.' });
    const s = createRuntime('static', {});
    expect(p).toBeInstanceOf(ProcessRuntime);
    expect(s).toBeInstanceOf(StaticRuntime);
    expect([p.type, s.type]).toEqual(['process', 'static']);
    await p.shutdown({ stopInstances: false });
    expect(runtimeTypes()).toEqual(['process', 'static', 'kubernetes']);
    expect(isRuntimeType('nomad')).toBe(false);
  });

  it('creates the kubernetes adapter over its caches, without a request to the cluster', async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({ clusters: [{ name: 'c', server: 'http://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: 'shop' }], currentContext: 'x' });
    const empty: ObjectCache<never> = { get: () => undefined, list: () => [], onChange: () => () => {}, synced: () => true };
    const k = createRuntime('kubernetes', { kubeConfig, replicaSets: empty, pods: empty });
    expect(k).toBeInstanceOf(KubernetesRuntime);
    expect([k.type, k.capabilities]).toEqual(['kubernetes', { processes: true, logs: false, adopt: false }]);
    expect(k.listInstances()).toEqual([]);
    await k.shutdown({ stopInstances: false });
  });

  it('names the known types for an unknown one', () => {
    expect(() => createRuntime('nomad' as 'static', {})).toThrow(/unknown runtime type "nomad"; known: process, static, kubernetes/);
  });

  it.each([
    [{ name: 'a', process: { command: ['x'] } }, 'process'],
    [{ name: 'a', targets: ['127.0.0.1:80'] }, 'static'],
  ])('picks the adapter of %j', (service, type) => expect(runtimeTypeOf(service)).toBe(type));

  it('rejects a service with both or neither', () => {
    expect(() => runtimeTypeOf({ name: 'a', process: { command: ['x'] }, targets: ['h:1'] })).toThrow(/service a has both "process" and "targets"/);
    expect(() => runtimeTypeOf({ name: 'a' })).toThrow(/service a has neither "process" nor "targets"/);
  });
});
