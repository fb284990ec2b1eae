// Operations on a Release in a cluster, end to end: the real CLI (`graylane --kubeconfig … promote
// shop`) against the fake API server, with the real controller running and leading. The CLI asks
// through the Release; the controller's release loop carries the operation out on every member,
// once, and answers.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { customResourceDefinition } from '../../src/documents/index.js';
import { parseReleaseOperationRequest, parseReleaseOperationResult, RELEASE_OPERATION_ANNOTATION, RELEASE_OPERATION_RESULT_ANNOTATION } from '../../src/kube/release-operation.js';
import { apply, ClusterTestBed, readRollout, runController, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { writeKubeconfig } from '../fixtures/kube/kubeconfig.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';
import { memberRollout, memberService, newMemberImages, readRelease } from '../fixtures/kube/release-members.js';

const bed = new ClusterTestBed();
const { log } = bed;
let dir: string | undefined;
afterEach(async () => {
  await bed.tearDown();
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const ns = 'default';
const service = memberService;
const rollout = (name: string, image: string) => memberRollout(name, image);
const releasePath = `/apis/graylane.dev/v1alpha1/namespaces/${ns}/releases/shop`;

/** Both members at the release's indefinite pause, on a cluster with the controller running; the CLI's kubeconfig. */
async function atTheGate(): Promise<{ c: Cluster; cli: (args: string[]) => Promise<{ code: number; out: string; err: string }>; before: Record<string, string> }> {
  const c = (bed.cluster = await startCluster({ readyAfterMs: 50 }));
  expect((await rawRequest({ server: c.server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: customResourceDefinition('Release') })).status).toBe(201);
  await apply(c, [service('web-stable', 'web'), service('web-canary', 'web'), service('api-stable', 'api'), service('api-canary', 'api'), rollout('web', 'web:1'), rollout('api', 'api:1')] as never);
  expect((await rawRequest({ server: c.server, method: 'POST', path: `/apis/graylane.dev/v1alpha1/namespaces/${ns}/releases`, body: {
    apiVersion: 'graylane.dev/v1alpha1', kind: 'Release', metadata: { name: 'shop' },
    spec: { services: ['web', 'api'], strategy: { canary: { steps: [{ setWeight: 50 }, { pause: {} }, { setWeight: 80 }, { pause: {} }] } } },
  } })).status).toBe(201);
  bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log });
  const before: Record<string, string> = {};
  for (const name of ['web', 'api']) before[name] = (await until(`${name} Healthy`, () => readRollout(c, ns, name), (r) => r.status?.phase === 'Healthy', { timeoutMs: 30_000 })).status!.stableRS!;
  await newMemberImages(c, ns, ['web', 'api']);
  for (const name of ['web', 'api']) await until(`${name} at the first gate`, () => readRollout(c, ns, name), (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 1, { timeoutMs: 30_000 });
  dir = await mkdtemp(join(tmpdir(), 'graylane-release-cli-'));
  const kubeconfig = await writeKubeconfig({ server: c.server, dir });
  const cli = async (args: string[]) => {
    let out = '';
    let err = '';
    const code = await main([...args, '--kubeconfig', kubeconfig, '-n', ns], { out: (s) => void (out += s), err: (s) => void (err += s), isTty: false, env: {}, cwd: dir! });
    return { code, out, err };
  };
  return { c, cli, before };
}

describe('release operations from the CLI on a cluster', () => {
  it('promote moves both members past the gate, once: a new leader does not carry the answered request out again', async () => {
    const { c, cli } = await atTheGate();
    const versionBefore = (await readRelease(c)).status?.graylane?.version ?? 0;
    const promoted = await cli(['promote', 'shop', '--json']);
    expect(promoted).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(promoted.out)).toMatchObject({ name: 'shop', kind: 'release' });
    for (const name of ['web', 'api']) await until(`${name} at the second gate`, () => readRollout(c, ns, name), (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 3, { timeoutMs: 30_000 });
    const after = await readRelease(c);
    const request = parseReleaseOperationRequest(after.metadata?.annotations?.[RELEASE_OPERATION_ANNOTATION]);
    expect(request).toMatchObject({ operation: { type: 'promote' }, version: versionBefore });
    expect(parseReleaseOperationResult(after.metadata?.annotations?.[RELEASE_OPERATION_RESULT_ANNOTATION])).toEqual({ id: request!.id, outcome: 'done', message: 'promote carried out on release shop' });
    // A new controller (a new leader) sees the request and its answer: nothing happens again.
    await bed.controller!.stop();
    const stepBefore = after.status?.currentStepIndex;
    bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect((await readRelease(c)).status?.currentStepIndex).toBe(stepBefore);
    for (const name of ['web', 'api']) expect((await readRollout(c, ns, name)).status?.currentStepIndex).toBe(3);
  }, 120_000);

  it('abort aborts every member; an operation that makes no sense is refused with the release loop\'s words and a non-zero exit', async () => {
    const { c, cli, before } = await atTheGate();
    const resumed = await cli(['resume', 'shop']);
    expect(resumed.code).not.toBe(0);
    expect(resumed.err).toBe('error: release shop was not paused by a person (`graylane promote shop` passes a pause step)\n');
    expect(await cli(['abort', 'shop'])).toMatchObject({ code: 0, err: '' });
    await until('the release aborted', () => readRelease(c), (r) => r.status?.phase === 'aborted');
    for (const name of ['web', 'api']) {
      const back = await until(`${name} aborted`, () => readRollout(c, ns, name), (r) => r.status?.phase === 'Degraded' && r.status.canary?.weights?.canary.weight === 0);
      expect(back.status?.stableRS).toBe(before[name]);
    }
  }, 120_000);

  it('a request made for an older version of the release is answered stale and not carried out', async () => {
    const { c } = await atTheGate();
    const release = await readRelease(c);
    const version = release.status?.graylane?.version ?? 0;
    const patched = await rawRequest({
      server: c.server, method: 'PATCH', path: releasePath, contentType: 'application/merge-patch+json',
      body: { metadata: { annotations: { [RELEASE_OPERATION_ANNOTATION]: JSON.stringify({ id: 'old', operation: { type: 'promote' }, version: version - 1 }) } } },
    });
    expect(patched.status).toBe(200);
    const answered = await until('an answer', () => readRelease(c), (r) => r.metadata?.annotations?.[RELEASE_OPERATION_RESULT_ANNOTATION] !== undefined);
    expect(parseReleaseOperationResult(answered.metadata?.annotations?.[RELEASE_OPERATION_RESULT_ANNOTATION])).toMatchObject({ id: 'old', outcome: 'stale' });
    for (const name of ['web', 'api']) expect((await readRollout(c, ns, name)).status?.currentStepIndex).toBe(1);
  }, 120_000);
});
