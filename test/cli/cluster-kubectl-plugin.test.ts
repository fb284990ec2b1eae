// `kubectl graylane …`: the real kubectl finds bin/kubectl-graylane on PATH (as npm links it) and
// runs it with the arguments typed; the plugin drives the fake API server in cluster mode. The
// plugin runs the compiled CLI: `npm test` builds dist/ before the tests.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKubeconfig } from '../fixtures/kube/kubeconfig.js';
import { NAMESPACE, startTestCluster, type TestCluster } from './cluster-fixture.js';

const kubectlPath = '/usr/bin/kubectl';
const plugin = resolve(import.meta.dirname, '../../bin/kubectl-graylane');
const run = promisify(execFile);

interface Ran { code: number; stdout: string; stderr: string }

describe.skipIf(!existsSync(kubectlPath))('kubectl graylane (skipped only when /usr/bin/kubectl is absent)', () => {
  let cluster: TestCluster;
  let pathDir: string;
  let kubeconfig: string;

  const kubectl = async (args: string[], env: Record<string, string> = {}): Promise<Ran> => {
    try {
      const { stdout, stderr } = await run(kubectlPath, args, {
        timeout: 30_000,
        // Only the plugin's folder, node's and kubectl's on PATH: no other kubectl-* plugin interferes.
        env: { PATH: [pathDir, dirname(process.execPath), dirname(kubectlPath)].join(':'), HOME: pathDir, ...env },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  beforeAll(async () => {
    if (!existsSync(resolve(import.meta.dirname, '../../dist/cli/main.js'))) throw new Error('dist/ is not built: run `npm run build` (npm test does) before this test');
    cluster = await startTestCluster();
    pathDir = await mkdtemp(join(tmpdir(), 'graylane-plugin-'));
    // npm links a package's bins into node_modules/.bin, as this does.
    await symlink(plugin, join(pathDir, 'kubectl-graylane'));
    kubeconfig = await writeKubeconfig({ server: cluster.server, dir: pathDir, namespace: NAMESPACE });
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
    if (pathDir) await rm(pathDir, { recursive: true, force: true });
  });

  it('is listed by `kubectl plugin list`', async () => {
    const r = await kubectl(['plugin', 'list']);
    expect(r.stdout).toContain(join(pathDir, 'kubectl-graylane'));
  });

  it('`kubectl graylane get` lists the Rollouts of the namespace given with -n', async () => {
    const r = await kubectl(['graylane', 'get', '--kubeconfig', kubeconfig, '-n', NAMESPACE]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^NAME\s+STRATEGY\s+PHASE/);
    expect(r.stdout).toMatch(/\nweb\s+canary\s+Paused\s+2\/4/);
  });

  it('`kubectl graylane promote web` promotes through $KUBECONFIG and the context\'s namespace', async () => {
    const r = await kubectl(['graylane', 'promote', 'web'], { KUBECONFIG: kubeconfig });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^web \(canary\) {2}Progressing {2}step 3\/4/);
    expect((await cluster.stored()).status?.currentStepIndex).toBe(2);
  });

  it('`kubectl graylane set weight web 50` sets the canary\'s weight by hand (KubeSphere\'s slider, seed 004)', async () => {
    const r = await kubectl(['graylane', 'set', 'weight', 'web', '50'], { KUBECONFIG: kubeconfig });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect((await cluster.stored()).status?.graylane?.engine).toMatchObject({ manualWeight: 50 });
  });

  it('exits as graylane does: a Rollout not found is exit 2 with the sentence', async () => {
    const r = await kubectl(['graylane', 'status', 'nope', '-n', NAMESPACE], { KUBECONFIG: kubeconfig });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: no service "nope" in namespace ${NAMESPACE}; services: web\n`);
  });
});
