/**
 * The web console on a cluster, in real Chromium: `graylane dashboard` (the built CLI, a child
 * process) serving one namespace of the fake API server, graylane's real controller rolling a
 * canary out through an Istio VirtualService, and a person at the console signing in with the
 * printed code, following a step live, moving the split with the slider and aborting. What the
 * controller writes to the VirtualService is read back from the fake.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubernetesController } from '../../src/controller/kubernetes/kubernetes-controller.js';
import { jsonLog } from '../../src/controller/kubernetes/json-log.js';
import { launchChromium, openPage, signIn } from '../fixtures/browser/chromium.js';
import { apply, patchRolloutSpec, readRollout, runController, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { installIstioCrds } from '../fixtures/kube/istio-crds.js';
import { writeKubeconfig } from '../fixtures/kube/kubeconfig.js';
import { signalChild } from '../../src/lib/signal-child.js';

const BIN = join(import.meta.dirname, '../../bin/graylane.js');
const ns = 'default';
const labels = { app: 'shop' };
const template = (image: string) => ({ metadata: { labels }, spec: { containers: [{ name: 'shop', image, ports: [{ containerPort: 8080 }] }] } });
const services = ['shop-stable', 'shop-canary'].map((name) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] } }));
const rollout = {
  apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'shop', namespace: ns },
  spec: {
    replicas: 2, selector: { matchLabels: labels }, template: template('shop:1'),
    strategy: {
      canary: {
        stableService: 'shop-stable', canaryService: 'shop-canary', trafficRouting: { istio: { virtualService: { name: 'shop-vs', routes: ['primary'] } } },
        steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 40 }, { pause: {} }],
      },
    },
  },
};
const VS = { group: 'networking.istio.io', version: 'v1', namespace: ns, plural: 'virtualservices' };
type Http = { name?: string; route: Array<{ destination: { host: string }; weight?: number }> };

let cluster: Cluster;
let controller: KubernetesController | undefined;
let dashboard: ChildProcess | undefined;
let dashboardExited: Promise<number | null> | undefined;
let browser: Browser | undefined;
let dir: string;
let kubeconfig: string;
let url: string;
let code: string;

/** The VirtualService's primary route as `stable,canary` weights, read from the fake. */
async function weights(): Promise<string> {
  const custom = cluster.kc.makeApiClient(CustomObjectsApi);
  const vs = (await custom.getNamespacedCustomObject({ ...VS, name: 'shop-vs' })) as { spec: { http: Http[] } };
  const primary = vs.spec.http.find((h) => h.name === 'primary');
  return (primary?.route ?? []).map((r) => `${r.destination.host}=${r.weight ?? 0}`).join(',');
}

/** The real CLI, a child process, against the fake cluster. */
function graylane(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args, '--kubeconfig', kubeconfig, '-n', ns], { cwd: dir, env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 }, (error, out, err) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out, err });
    });
  });
}

/** Starts `graylane dashboard --port 0` and reads its address and sign-in code from what it prints. */
async function startDashboard(): Promise<void> {
  const child = (dashboard = spawn(process.execPath, [BIN, 'dashboard', '--kubeconfig', kubeconfig, '-n', ns, '--port', '0'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
  dashboardExited = new Promise((resolve) => child.once('exit', (c) => resolve(c)));
  [url, code] = await new Promise<[string, string]>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`graylane dashboard printed no address within 30 s; stdout: ${out}; stderr: ${err}`)), 30_000);
    child.stderr.on('data', (d: Buffer) => void (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /graylane dashboard: (http:\/\/127\.0\.0\.1:[0-9]+)\/ — sign in with code ([A-Z0-9-]+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve([m[1]!, m[2]!]);
      }
    });
    child.once('exit', (c) => {
      clearTimeout(timer);
      reject(new Error(`graylane dashboard exited ${c}; stdout: ${out}; stderr: ${err}`));
    });
  });
}

/** The engine's step (1-based) and phase of the stored Rollout. */
async function engine(): Promise<{ phase?: string; step: number }> {
  const r = await readRollout(cluster, ns, 'shop');
  const status = r.status as { phase?: string; graylane?: { engine?: { currentStepIndex?: number } } } | undefined;
  return { phase: status?.phase, step: (status?.graylane?.engine?.currentStepIndex ?? -1) + 1 };
}

async function rolloutPage(page: Page): Promise<void> {
  await signIn(page, url, code);
  await page.getByRole('link', { name: 'shop', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'shop' }).waitFor();
  // The page's first reads go to the cluster through the dashboard: generous on a shared machine, and a failure says what the page showed.
  await page.getByRole('status', { name: 'Rollout state' }).waitFor({ timeout: 20_000 }).catch(async (error: unknown) => {
    throw new Error(`the rollout page did not show its state: ${(await page.locator('body').textContent())?.slice(0, 1000)}`, { cause: error });
  });
}

/** Refused requests (401) Chromium logs as errors; anything else the page logged as one. */
function unexpected(errors: string[]): string[] {
  return errors.filter((e) => !/status of 401/.test(e));
}

/** Before signing in the page asks for its session and is told 401 once: Chromium logs that; nothing else may fail. */
function onlyTheSessionCheck(errors: string[]): void {
  expect(unexpected(errors)).toEqual([]);
  expect(errors.length).toBeLessThanOrEqual(1);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'graylane-console-cluster-'));
  const launched = launchChromium();
  cluster = await startCluster({ readyAfterMs: 50 });
  kubeconfig = await writeKubeconfig({ server: cluster.server, dir });
  await installIstioCrds(cluster.server);
  await cluster.kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ ...VS, body: {
    apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'shop-vs' },
    spec: { hosts: ['shop'], http: [{ name: 'primary', route: [{ destination: { host: 'shop-stable' }, weight: 100 }, { destination: { host: 'shop-canary' }, weight: 0 }] }] },
  } });
  await apply(cluster, [...services, rollout] as never);
  controller = await runController({ kubeConfig: cluster.kc, namespace: ns, log: jsonLog({ write: () => undefined }) });
  const first = await until('Healthy on shop:1', () => readRollout(cluster, ns, 'shop'), (r) => r.status?.phase === 'Healthy', { timeoutMs: 30_000 });
  await patchRolloutSpec(cluster, ns, 'shop', { template: template('shop:2') });
  await until('paused at step 2 on shop:2', () => readRollout(cluster, ns, 'shop'), (r) => r.status?.phase === 'Paused' && r.status.currentPodHash !== first.status!.stableRS, { timeoutMs: 30_000 });
  await until('20% to the canary in the VirtualService', weights, (w) => w === 'shop-stable=80,shop-canary=20');
  [browser] = await Promise.all([launched, startDashboard()]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (dashboard && dashboard.exitCode === null) {
    signalChild(dashboard, 'SIGTERM');
    const stopped = await Promise.race([dashboardExited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
    if (stopped === 'timeout') signalChild(dashboard, 'SIGKILL');
  }
  await controller?.stop();
  await cluster?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('the console on a cluster (graylane dashboard, the real controller, Chromium)', () => {
  it('refuses a wrong code with a sentence; the printed code shows the Rollout with its phase and step, on Kubernetes', async () => {
    const { context, page, errors } = await openPage(browser!);
    try {
      await page.goto(`${url}/`);
      await page.getByLabel('Token').fill('AAAA-BBBB-CCCC');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/the code `graylane dashboard` printed/);
      expect(await page.getByRole('heading', { name: 'Rollouts' }).count()).toBe(0);
      expect(await page.evaluate(async () => (await fetch('/v1/services')).status)).toBe(401);

      await page.getByLabel('Token').fill(code);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { level: 1, name: 'Rollouts' }).waitFor();
      const item = page.getByRole('list', { name: 'Rollouts' }).getByRole('listitem').filter({ has: page.getByRole('link', { name: 'shop', exact: true }) });
      await expect.poll(() => item.textContent()).toMatch(/Paused/);
      expect(await item.textContent()).toMatch(/step 2\/4/);
      expect(await item.textContent()).toMatch(/stable 80% · canary 20%/);
      expect(await page.getByRole('banner').textContent()).toMatch(/kubernetes/i);
      expect(unexpected(errors)).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('follows the controller live: graylane promote moves the page from step 2 to the next within a few seconds', async () => {
    const { context, page, errors } = await openPage(browser!);
    try {
      await rolloutPage(page);
      const state = page.getByRole('status', { name: 'Rollout state' });
      await expect.poll(() => state.textContent()).toMatch(/step 2\/4/);
      expect(await page.getByRole('list', { name: 'Steps' }).locator('[aria-current="step"]').textContent()).toMatch(/pause/i);
      const promoted = await graylane(['promote', 'shop']);
      expect(promoted).toMatchObject({ code: 0 });
      // The CLI has written the Rollout when it returns (its own start takes seconds on a busy machine, so
      // the bound starts here); the controller, the dashboard's watch and the stream follow.
      await state.filter({ hasText: /step [34]\/4/ }).waitFor({ timeout: 8_000 });
      await until('the controller paused at step 4', engine, (e) => e.phase === 'Paused' && e.step === 4);
      await state.filter({ hasText: /Paused · step 4\/4/ }).waitFor({ timeout: 8_000 });
      onlyTheSessionCheck(errors);
    } finally {
      await context.close();
    }
  }, 90_000);

  it('the slider at 50, confirmed, puts 50/50 into the VirtualService and the page shows it', async () => {
    await until('40% to the canary in the VirtualService', weights, (w) => w === 'shop-stable=60,shop-canary=40');
    const { context, page, errors } = await openPage(browser!);
    try {
      await rolloutPage(page);
      const slider = page.getByRole('slider', { name: 'Canary weight' });
      await expect.poll(() => slider.getAttribute('aria-valuenow')).toBe('40');
      await slider.focus();
      for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowRight');
      expect(await slider.getAttribute('aria-valuenow')).toBe('50');
      // Moving the slider alone changes nothing: the split moves on confirmation.
      expect(await weights()).toBe('shop-stable=60,shop-canary=40');
      await page.getByRole('button', { name: 'Set weight to 50%' }).click();
      await until('50/50 in the VirtualService', weights, (w) => w === 'shop-stable=50,shop-canary=50', { timeoutMs: 10_000 });
      await page.getByText('stable 50% · canary 50%').first().waitFor({ timeout: 8_000 });
      expect(await page.getByRole('alert').count()).toBe(0);
      onlyTheSessionCheck(errors);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('Abort, confirmed in the dialog, puts the VirtualService back to 100/0 and the page shows Degraded', async () => {
    const { context, page, errors } = await openPage(browser!);
    try {
      await rolloutPage(page);
      await page.getByRole('button', { name: 'Abort', exact: true }).click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      await dialog.getByRole('button', { name: 'Confirm' }).click();
      await until('all traffic back to stable in the VirtualService', weights, (w) => w === 'shop-stable=100,shop-canary=0', { timeoutMs: 10_000 });
      await page.getByRole('status', { name: 'Rollout state' }).filter({ hasText: /Degraded/ }).waitFor({ timeout: 8_000 });
      expect(await page.getByRole('banner').textContent()).toMatch(/kubernetes/i);
      onlyTheSessionCheck(errors);
    } finally {
      await context.close();
    }
  }, 60_000);
});
