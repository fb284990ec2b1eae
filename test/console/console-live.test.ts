/**
 * The web console in real Chromium against a real daemon (`graylane up`, built), real app
 * processes and real traffic through the built-in router: what a person at the console sees and
 * what their clicks do to users' requests.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readToken } from '../../src/api/state-dir.js';
import { appDir, cli, startDaemon, startLoad, versionCounts, stopDaemon, view, waitFor, writeApp, type Daemon } from '../e2e/harness.js';
import { launchChromium, openPage, signIn } from '../fixtures/browser/chromium.js';

const canary = '      canary:\n        steps: [{setWeight: 20}, {pause: {}}, {setWeight: 40}, {pause: {}}]\n        scaleDownDelaySeconds: 0';
/** Screenshots go to docs/ when asked (`UPDATE_SCREENSHOTS=1`), elsewhere a temp dir: CI never writes the tree. */
const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? resolve(import.meta.dirname, '../../docs/console') : join(appDir(), 'shots');

let d: Daemon;
let dir: string;
let file: string;
let browser: Browser;
let token: string;

const shares = (n: number) => versionCounts(`${d.info.routerUrl}/`, n);

async function rollOut(version: string): Promise<void> {
  writeApp(dir, { version, strategy: canary });
  expect((await cli(d.stateDir, ['apply', '-f', file])).code).toBe(0);
  await waitFor(async () => {
    const v = await view(d);
    const c = v.revisions.find((r) => r.role === 'canary');
    return v.phase === 'Paused' && v.step === 2 && c !== undefined && c.total > 0 && c.ready === c.total;
  }, 30_000, `${version} paused at step 2 with its instances ready`);
}

async function rolloutPage(page: Page): Promise<void> {
  await page.getByRole('link', { name: 'app', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'app' }).waitFor();
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = appDir();
  file = writeApp(dir, { version: 'v1', strategy: canary });
  [d, browser] = await Promise.all([startDaemon(dir), launchChromium()]);
  token = readToken(d.stateDir)!;
  await waitFor(async () => (await view(d)).phase === 'Healthy', 30_000, 'v1 healthy');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (d) await stopDaemon(d);
});

describe('the console against a real daemon', () => {
  it('refuses a wrong token with a sentence and keeps the API closed to the page', async () => {
    const { context, page } = await openPage(browser);
    try {
      await page.goto(`${d.info.apiUrl}/`);
      await page.getByLabel('Token').fill('not-the-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/token/i);
      expect(await page.getByRole('heading', { name: 'Rollouts' }).count()).toBe(0);
      const status = await page.evaluate(async () => (await fetch('/v1/services')).status);
      expect(status).toBe(401);
    } finally {
      await context.close();
    }
  }, 30_000);

  it('follows a real rollout live: a step change shows within 1 s', async () => {
    await rollOut('v2');
    const { context, page, errors } = await openPage(browser);
    try {
      await signIn(page, d.info.apiUrl, token);
      await page.screenshot({ path: join(SHOTS, 'overview.png') });
      await rolloutPage(page);
      const state = page.getByRole('status', { name: 'Rollout state' });
      await expect.poll(() => state.textContent()).toMatch(/step 2\/4/);
      expect((await cli(d.stateDir, ['promote', 'app'])).code).toBe(0);
      const promotedAt = Date.now();
      // The daemon has changed its status when promote returns; the page must show it within 1 s.
      await state.filter({ hasText: /step [34]\/4/ }).waitFor({ timeout: 1_000 });
      expect(Date.now() - promotedAt).toBeLessThan(1_000);
      // Before signing in the page asks for its session and is told 401: Chromium logs that; nothing else may fail.
      expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('the slider at 50 moves real traffic to 50/50, and the realized split follows', async () => {
    await waitFor(async () => (await view(d)).step === 4, 10_000, 'paused at step 4');
    // Steady users beside the test's own requests: the charts and the realized split have something to show.
    const load = startLoad(`${d.info.routerUrl}/`, 40, 20_000);
    const { context, page } = await openPage(browser);
    try {
      await signIn(page, d.info.apiUrl, token);
      await rolloutPage(page);
      const slider = page.getByRole('slider', { name: 'Canary weight' });
      await expect.poll(() => slider.getAttribute('aria-valuenow')).toBe('40');
      await slider.focus();
      for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowRight');
      expect(await slider.getAttribute('aria-valuenow')).toBe('50');
      // Moving the slider alone changes nothing: the split moves on confirmation.
      expect((await view(d)).revisions.map((r) => r.weight)).toEqual([60, 40]);
      await page.getByRole('button', { name: 'Set weight to 50%' }).click();
      await waitFor(async () => (await view(d)).revisions.find((r) => r.role === 'canary')?.weight === 50, 5_000, 'weight 50 in force');
      const seen = await shares(400);
      // 400 requests at p = 0.5: a standard deviation of 10; 50 is five of them.
      expect(seen.v2 ?? 0).toBeGreaterThan(150);
      expect(seen.v1 ?? 0).toBeGreaterThan(150);
      const realized = page.getByLabel('Realized split');
      await expect.poll(async () => Number(/canary ([0-9.]+)%/.exec((await realized.textContent()) ?? '')?.[1] ?? NaN), { timeout: 15_000 }).toBeGreaterThan(35);
      await expect.poll(async () => Number(/canary ([0-9.]+)%/.exec((await realized.textContent()) ?? '')?.[1] ?? NaN), { timeout: 15_000 }).toBeLessThan(65);
      await page.screenshot({ path: join(SHOTS, 'rollout.png'), fullPage: true });
      await page.getByRole('slider', { name: 'Canary weight' }).locator('xpath=ancestor::*[self::section or self::form][1]').screenshot({ path: join(SHOTS, 'slider.png') });
    } finally {
      load.stop();
      await context.close();
    }
  }, 90_000);

  it('a change without the CSRF token is refused and changes nothing', async () => {
    const { context, page } = await openPage(browser);
    try {
      await signIn(page, d.info.apiUrl, token);
      const before = await view(d);
      const status = await page.evaluate(async () => (await fetch('/v1/services/app/pause', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status);
      expect(status).toBe(403);
      const after = await view(d);
      expect(after.version).toBe(before.version);
      expect(after.phase).toBe(before.phase);
    } finally {
      await context.close();
    }
  }, 30_000);

  it('abort from the console sends all traffic back to stable', async () => {
    const { context, page } = await openPage(browser);
    try {
      await signIn(page, d.info.apiUrl, token);
      await rolloutPage(page);
      await page.getByRole('button', { name: 'Abort', exact: true }).click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      await dialog.getByRole('button', { name: 'Confirm' }).click();
      await expect.poll(() => page.getByRole('status', { name: 'Rollout state' }).textContent()).toMatch(/Degraded/);
      const seen = await shares(100);
      expect(seen).toEqual({ v1: 100 });
    } finally {
      await context.close();
    }
  }, 60_000);
});
