/**
 * Routes set by hand on a cluster, end to end: `graylane set header-route` run as a child process
 * against the fake API server, the controller putting the route into the user's Istio
 * VirtualService, and a Rollout routed by Service selectors refusing with a sentence.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { apply, ClusterTestBed, patchRolloutSpec, readRollout, runController, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { installIstioCrds } from '../fixtures/kube/istio-crds.js';
import { writeKubeconfig } from '../fixtures/kube/kubeconfig.js';

const BIN = join(import.meta.dirname, '../../bin/graylane.js');
const bed = new ClusterTestBed();
const { log } = bed;
const dirs: string[] = [];
afterEach(async () => {
  await bed.tearDown();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const ns = 'default';
const labels = { app: 'shop' };
const template = (image: string) => ({ metadata: { labels }, spec: { containers: [{ name: 'shop', image, ports: [{ containerPort: 8080 }] }] } });
const services = ['shop-stable', 'shop-canary'].map((name) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] } }));
const rollout = (trafficRouting: Record<string, unknown> | undefined) => ({
  apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'shop', namespace: ns },
  spec: {
    replicas: 2, selector: { matchLabels: labels }, template: template('shop:1'),
    strategy: { canary: { stableService: 'shop-stable', canaryService: 'shop-canary', ...(trafficRouting ? { trafficRouting } : {}), steps: [{ setWeight: 50 }, { pause: {} }] } },
  },
});

/** The real CLI, a child process, against the fake cluster. */
async function graylane(c: Cluster, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'graylane-route-ops-'));
  dirs.push(dir);
  const kubeconfig = await writeKubeconfig({ server: c.server, dir });
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args, '--kubeconfig', kubeconfig, '-n', ns], { cwd: dir, env: { PATH: process.env.PATH ?? '' } }, (error, out, err) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out, err });
    });
  });
}

async function toPausedCanary(c: Cluster): Promise<void> {
  const first = await until('Healthy on the first revision', () => readRollout(c, ns, 'shop'), (r) => r.status?.phase === 'Healthy');
  const v1 = first.status!.stableRS!;
  await patchRolloutSpec(c, ns, 'shop', { template: template('shop:2') });
  await until('paused at 50%', () => readRollout(c, ns, 'shop'), (r) => r.status?.phase === 'Paused' && r.status.currentPodHash !== v1);
}

describe('routes set by hand on a cluster', () => {
  it('Istio: set header-route puts a header route to the canary first in the VirtualService; --remove takes it out', async () => {
    const c = (bed.cluster = await startCluster({ readyAfterMs: 50 }));
    await installIstioCrds(c.server);
    const custom = c.kc.makeApiClient(CustomObjectsApi);
    const vs = { group: 'networking.istio.io', version: 'v1', namespace: ns, plural: 'virtualservices' };
    await custom.createNamespacedCustomObject({ ...vs, body: {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'shop-vs' },
      spec: { hosts: ['shop'], http: [{ name: 'primary', route: [{ destination: { host: 'shop-stable' }, weight: 100 }, { destination: { host: 'shop-canary' }, weight: 0 }] }] },
    } });
    await apply(c, [...services, rollout({ istio: { virtualService: { name: 'shop-vs', routes: ['primary'] } }, managedRoutes: [{ name: 'beta' }] })] as never);
    bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log });
    await toPausedCanary(c);
    type Http = { name?: string; match?: unknown[]; route: Array<{ destination: { host: string }; weight?: number }> };
    const http = async () => ((await custom.getNamespacedCustomObject({ ...vs, name: 'shop-vs' })) as { spec: { http: Http[] } }).spec.http;
    await until('50/50 in the VirtualService', http, (h) => h.length === 1 && h[0]!.route.map((r) => r.weight).join() === '50,50');

    const set = await graylane(c, ['set', 'header-route', 'shop', 'beta', '--header', 'x-beta=1', '--json']);
    expect(set).toMatchObject({ code: 0, err: '' });
    const routed = await until('the header route in the VirtualService', http, (h) => h.some((r) => r.name === 'beta'));
    expect(routed.map((r) => r.name)).toEqual(['beta', 'primary']);
    expect(routed[0]).toMatchObject({ match: [{ headers: { 'x-beta': { exact: '1' } } }], route: [{ destination: { host: 'shop-canary' } }] });

    const unlisted = await graylane(c, ['set', 'header-route', 'shop', 'gamma', '--header', 'x-gamma=1']);
    expect(unlisted.code).toBe(2);
    expect(unlisted.err).toContain('route "gamma" is not listed in trafficRouting.managedRoutes (listed: beta); add it there first');

    expect((await graylane(c, ['set', 'header-route', 'shop', 'beta', '--remove'])).code).toBe(0);
    await until('the header route gone from the VirtualService', http, (h) => h.map((r) => r.name).join() === 'primary');
  });

  it('a Rollout routed by Service selectors refuses a header route with a sentence, and its status does not change', async () => {
    const c = (bed.cluster = await startCluster({ readyAfterMs: 50 }));
    await apply(c, [...services, rollout(undefined)] as never);
    bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log });
    await toPausedCanary(c);
    const version = (r: Awaited<ReturnType<typeof readRollout>>) => (r.status as { graylane?: { version?: number } } | undefined)?.graylane?.version;
    const before = version(await readRollout(c, ns, 'shop'));
    const refused = await graylane(c, ['set', 'header-route', 'shop', 'beta', '--header', 'x-beta=1']);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('a header route needs a canary with steps and trafficRouting (a Service selector routes whole revisions, not requests one by one)');
    expect(before).toBeGreaterThan(0);
    expect(version(await readRollout(c, ns, 'shop'))).toBe(before);
  });
});
