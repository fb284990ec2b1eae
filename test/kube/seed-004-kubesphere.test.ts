/**
 * Seed 004 (KubeSphere's canary over Istio) end to end: examples/kubernetes/004 applied to the fake
 * API server with Istio's own CRDs, the real controller rolling it out, and the real CLI moving the
 * split as the console's slider does. The DestinationRule's circuit breaking must come through
 * every write untouched.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { apply, ClusterTestBed, documents, patchRolloutSpec, readRollout, runController, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { installIstioCrds } from '../fixtures/kube/istio-crds.js';
import { writeKubeconfig } from '../fixtures/kube/kubeconfig.js';

const EXAMPLE = resolve(import.meta.dirname, '../../examples/kubernetes/004-kubesphere-istio.yaml');
const ns = 'kubesphere-demo';
const bed = new ClusterTestBed();
const dirs: string[] = [];
afterEach(async () => {
  await bed.tearDown();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

type Json = Record<string, unknown>;
interface HttpRoute { name?: string; route: Array<{ destination: { subset: string }; weight: number }>; mirror?: { subset: string }; mirrorPercentage?: { value: number }; match?: Json[] }

const istio = (plural: string) => ({ group: 'networking.istio.io', version: 'v1', namespace: ns, plural, name: 'service-a' });

/** The VirtualService's HTTP routes, each as `name: stable=W,canary=W [mirror canary P%]`. */
async function routes(c: Cluster): Promise<string[]> {
  const vs = (await c.custom.getNamespacedCustomObject(istio('virtualservices'))) as { spec: { http: HttpRoute[] } };
  return vs.spec.http.map((r) => `${r.name ?? ''}: ${r.route.map((d) => `${d.destination.subset}=${d.weight}`).join(',')}${r.mirror ? ` mirror ${r.mirror.subset} ${r.mirrorPercentage?.value}%` : ''}`);
}

/** The DestinationRule as stored. */
async function destinationRule(c: Cluster): Promise<{ spec: { trafficPolicy: unknown; subsets: Array<{ name: string; labels: Record<string, string> }> } }> {
  return (await c.custom.getNamespacedCustomObject(istio('destinationrules'))) as never;
}

describe('seed 004: KubeSphere\'s canary over Istio', () => {
  it('mirrors to v2, moves the split by `graylane set weight` as the slider does, and keeps the circuit breaking byte-for-byte through promotion and abort', async () => {
    const c = (bed.cluster = await startCluster({ namespaces: [ns], readyAfterMs: 50 }));
    await installIstioCrds(c.server);
    await apply(c, documents(readFileSync(EXAMPLE, 'utf8')));
    const breaker = JSON.stringify((await destinationRule(c)).spec.trafficPolicy);
    expect(breaker).toContain('outlierDetection');
    // Checked on every poll from here on: no write ever changes the circuit breaking.
    const invariant = async () => expect(JSON.stringify((await destinationRule(c)).spec.trafficPolicy)).toBe(breaker);

    const dir = await mkdtemp(join(tmpdir(), 'graylane-seed004-'));
    dirs.push(dir);
    const kubeconfig = await writeKubeconfig({ server: c.server, dir, namespace: ns });
    const cli = async (...args: string[]) => {
      let out = '';
      let err = '';
      const code = await main([...args, '--kubeconfig', kubeconfig, '-n', ns], { out: (s) => void (out += s), err: (s) => void (err += s), isTty: false, env: {}, cwd: dir });
      return { code, out, err };
    };

    bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log: bed.log });
    const v1 = (await until('Healthy on v1', () => readRollout(c, ns, 'service-a'), (r) => r.status?.phase === 'Healthy', { invariant })).status!.stableRS!;

    // B 小姐姐: the v2 image.
    await patchRolloutSpec(c, ns, 'service-a', { template: { metadata: { labels: { app: 'service-a' } }, spec: { containers: [{ name: 'service-a', image: 'harbor.example/service-a/service-a:v2', ports: [{ containerPort: 7777 }] }] } } });
    const paused = await until('paused with the mirror in place', () => readRollout(c, ns, 'service-a'), (r) => r.status?.phase === 'Paused' && r.status.currentPodHash !== v1, { invariant });
    const v2 = paused.status!.currentPodHash!;
    expect(await until('the mirror route first, users still all on v1', () => routes(c), (r) => r.length === 2 && r[0]!.includes('mirror'), { invariant }))
      .toEqual(['mirror-to-v2: stable=100,canary=0 mirror canary 50%', 'primary: stable=100,canary=0']);
    const subsets = (await destinationRule(c)).spec.subsets;
    expect(subsets.map((s) => `${s.name}=${s.labels['rollouts-pod-template-hash']}`)).toEqual([`stable=${v1}`, `canary=${v2}`]);

    // The slider: 50/50, then dragged to 30.
    expect(await cli('set', 'weight', 'service-a', '50')).toMatchObject({ code: 0, err: '' });
    await until('50/50 by hand', () => routes(c), (r) => r.includes('primary: stable=50,canary=50'), { invariant });
    expect((await cli('set', 'weight', 'service-a', '30')).code).toBe(0);
    await until('70/30 by hand', () => routes(c), (r) => r.includes('primary: stable=70,canary=30'), { invariant });

    // The next steps take the mirror away and give v2 half of the traffic.
    expect((await cli('promote', 'service-a')).code).toBe(0);
    expect(await until('the mirror gone, 50/50 by the step', () => routes(c), (r) => r.length === 1 && r[0] === 'primary: stable=50,canary=50', { invariant })).toEqual(['primary: stable=50,canary=50']);

    expect((await cli('promote', 'service-a', '--full')).code).toBe(0);
    await until('v2 stable', () => readRollout(c, ns, 'service-a'), (r) => r.status?.stableRS === v2, { invariant });
    await until('all traffic on the stable subset, now v2', () => routes(c), (r) => r.join() === 'primary: stable=100,canary=0', { invariant });
    await until('both subsets select v2', () => destinationRule(c), (d) => d.spec.subsets.every((s) => s.labels['rollouts-pod-template-hash'] === v2), { invariant });

    // A v3 that is aborted while mirrored: the mirror goes, every request back on v2.
    await patchRolloutSpec(c, ns, 'service-a', { template: { metadata: { labels: { app: 'service-a' } }, spec: { containers: [{ name: 'service-a', image: 'harbor.example/service-a/service-a:v3', ports: [{ containerPort: 7777 }] }] } } });
    await until('v3 mirrored', () => routes(c), (r) => r[0]?.startsWith('mirror-to-v2') === true, { invariant, timeoutMs: 30_000 });
    expect((await cli('abort', 'service-a')).code).toBe(0);
    await until('the mirror gone after the abort', () => routes(c), (r) => r.join() === 'primary: stable=100,canary=0', { invariant });
    await invariant();
  }, 90_000);
});
