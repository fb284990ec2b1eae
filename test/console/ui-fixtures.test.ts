/**
 * The console's accessible surface (docs: the UI contract), driven in real Chromium against the
 * built console (dist/console, from `npm run build`) and the fixture API of
 * test/fixtures/console: the roles and names the browser tests rely on, and what each sends.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, installFixtureApi, serveStatic, type FixtureApi } from '../fixtures/console/harness.js';
import { FIXTURE_TOKEN, fixturePromotedRelease, fixtureViews } from '../fixtures/console/views.js';

const dist = fileURLToPath(new URL('../../dist/console', import.meta.url));
const WAIT_MS = 10_000;

let browser: Browser;
let site: { url: string; close: () => Promise<void> };

beforeAll(async () => {
  expect(existsSync(`${dist}/index.html`), 'dist/console is built by `npm run build` (CI builds before vitest)').toBe(true);
  site = await serveStatic(dist);
  browser = await chromium.launch({ ...CHROMIUM, timeout: 30_000 });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
});

/** A fresh page (its own cookies) with the fixture API, at `path`. */
async function open(path: string, options: { signedIn?: boolean; width?: number } = {}): Promise<{ page: Page; api: FixtureApi; close: () => Promise<void> }> {
  const context = await browser.newContext({ viewport: { width: options.width ?? 1280, height: 800 } });
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  const api = await installFixtureApi(page, { signedIn: options.signedIn ?? true });
  await page.goto(`${site.url}${path}`);
  return { page, api, close: () => context.close() };
}

describe('console UI against the fixture API', () => {
  it('signs in with the token: a refusal shows the API\'s sentence, success shows the overview', async () => {
    const { page, api, close } = await open('/', { signedIn: false });
    try {
      await page.waitForURL('**/sign-in');
      const token = page.getByLabel('Token');
      expect(await token.getAttribute('type')).toBe('password');
      expect(await token.getAttribute('autocomplete')).toBe('off');
      await token.fill('wrong');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('That token is not this server\'s');
      await token.fill(FIXTURE_TOKEN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { level: 1, name: 'Rollouts' }).waitFor();
      expect(new URL(page.url()).pathname).toBe('/');
      expect(api.requests.find((r) => r.method === 'POST' && r.path === '/v1/session')?.body).toEqual({ token: 'wrong' });
    } finally {
      await close();
    }
  });

  it('lists every service and release with its phase, step, weights and ready instances, linked to its page', async () => {
    const { page, close } = await open('/');
    try {
      const list = page.getByRole('list', { name: 'Rollouts' });
      await list.waitFor();
      expect(await list.getByRole('listitem').count()).toBe(3);
      const checkout = list.getByRole('listitem').filter({ has: page.getByRole('link', { name: 'checkout' }) });
      const text = await checkout.textContent();
      for (const part of ['Paused', 'step 2/4', 'stable 80% · canary 20%', 'ready 3/3']) expect(text).toContain(part);
      expect(await list.getByRole('listitem').filter({ has: page.getByRole('link', { name: 'storefront' }) }).textContent()).toContain('stable 70% · canary 30%');
      await page.getByRole('link', { name: 'storefront' }).click();
      await page.getByRole('heading', { level: 1, name: 'storefront' }).waitFor();
      expect(new URL(page.url()).pathname).toBe('/releases/storefront');
    } finally {
      await close();
    }
  });

  it('shows a rollout\'s state, steps, plan, revisions, charts and sections, and follows a step change from the stream', async () => {
    const { page, api, close } = await open('/services/checkout');
    try {
      await page.getByRole('heading', { level: 1, name: 'checkout' }).waitFor();
      const state = page.getByRole('status', { name: 'Rollout state' });
      expect(await state.textContent()).toContain('Paused · step 2/4');
      const steps = page.getByRole('list', { name: 'Steps' });
      await steps.waitFor();
      expect(await steps.getByRole('listitem').count()).toBe(4);
      expect(await steps.locator('[aria-current="step"]').textContent()).toContain('pause until promoted');
      expect(await page.getByText('waits for a person').count()).toBeGreaterThan(0);
      expect(await page.getByText('worst-case rollback 1.2s').count()).toBe(1);
      const table = page.getByRole('table').first();
      expect(await table.textContent()).toContain('b21e04d');
      for (const name of ['Requests per second', 'Error rate', 'p99 latency (ms)']) {
        await page.getByRole('figure', { name }).locator('canvas').first().waitFor();
      }
      for (const name of ['Analysis', 'Events', 'History']) expect(await page.getByRole('heading', { level: 2, name }).count()).toBe(1);
      expect(await page.getByRole('button', { name: 'Undo to revision 2' }).count()).toBe(1);
      expect(await page.getByRole('button', { name: 'Undo to revision 3' }).count()).toBe(0);

      // A message the contract does not allow is skipped, not shown half.
      api.pushStatus({ ...fixtureViews().checkout!, phase: 'Sideways' as never, step: 3, version: 42 });
      await page.waitForTimeout(1_500);
      expect(await state.textContent()).toContain('Paused · step 2/4');
      const moved = { ...fixtureViews().checkout!, phase: 'Progressing' as const, step: 3, pauseReasons: [], version: 42 };
      api.pushStatus(moved);
      await expect.poll(() => state.textContent(), { timeout: WAIT_MS }).toContain('Progressing · step 3/4');

      // A canary with no ready instance: where its requests went instead, under the table, as `status` says it.
      const notes = page.getByRole('list', { name: 'Revisions without a ready instance' });
      expect(await notes.count()).toBe(0);
      const [stable, canary] = moved.revisions;
      api.pushStatus({ ...moved, version: 43, revisions: [stable!, { ...canary!, ready: 0, fallbacks: 4, unreadyServed: 20 }] });
      await expect.poll(() => notes.textContent(), { timeout: WAIT_MS }).toBe('#4 b21e04d has no ready instance: 4 of its requests went to the other side and its unready instances served 20 requests of pages pinned to it in the last 10 s');
      expect(await notes.getByRole('listitem').count()).toBe(1);
    } finally {
      await close();
    }
  });

  it('moves the slider\'s pending weight with the keyboard and sends it only on "Set weight to N%", with the version and the CSRF header', async () => {
    const { page, api, close } = await open('/services/checkout');
    try {
      const slider = page.getByRole('slider', { name: 'Canary weight' });
      await slider.waitFor();
      expect(await slider.getAttribute('aria-valuenow')).toBe('20');
      await slider.focus();
      await page.keyboard.press('ArrowRight');
      expect(await slider.getAttribute('aria-valuenow')).toBe('21');
      expect(await slider.getAttribute('aria-valuetext')).toBe('21% to the canary');
      expect(api.requests.some((r) => r.path.endsWith('/weight'))).toBe(false);
      expect(await page.getByLabel('Realized split').textContent()).toBe('canary 20% of 212 req/s');
      await page.getByRole('button', { name: 'Set weight to 21%' }).click();
      await expect.poll(() => api.requests.find((r) => r.path === '/v1/services/checkout/weight')).toBeTruthy();
      const sent = api.requests.find((r) => r.path === '/v1/services/checkout/weight')!;
      expect(sent.method).toBe('POST');
      expect(sent.body).toEqual({ percent: 21, expectedVersion: 41 });
      expect(sent.headers['x-graylane-csrf']).toBe('csrf-fixture-7c1d');
      // The answer's weight is the one in force now: nothing pending is left.
      await expect.poll(() => slider.getAttribute('aria-valuenow')).toBe('21');
      expect(await page.getByRole('button', { name: 'Set weight to 21%' }).isDisabled()).toBe(true);
    } finally {
      await close();
    }
  });

  it('shows a refused operation\'s message in an alert', async () => {
    const { page, api, close } = await open('/services/checkout');
    try {
      api.refuseNext('/v1/services/checkout/promote', 409, 'Conflict', 'the status moved on (version 42, not 41); look again and retry');
      await page.getByRole('button', { name: 'Promote', exact: true }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toBe('the status moved on (version 42, not 41); look again and retry');
      expect(await page.getByRole('button', { name: 'Promote', exact: true }).isEnabled()).toBe(true);
    } finally {
      await close();
    }
  });

  it('asks before Abort: Cancel sends nothing, Confirm sends the abort with the version', async () => {
    const { page, api, close } = await open('/services/checkout');
    try {
      await page.getByRole('button', { name: 'Abort' }).click();
      const dialog = page.getByRole('dialog');
      expect(await dialog.textContent()).toContain('all traffic goes back to the stable revision');
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'detached' });
      expect(api.requests.some((r) => r.path.endsWith('/abort'))).toBe(false);
      await page.getByRole('button', { name: 'Abort' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
      await expect.poll(() => api.requests.find((r) => r.path === '/v1/services/checkout/abort')?.body).toEqual({ expectedVersion: 41 });
    } finally {
      await close();
    }
  });

  it('adds and removes header routes through the header-route operation', async () => {
    const { page, api, close } = await open('/services/checkout');
    try {
      const form = page.getByRole('form', { name: 'Header route' });
      await form.getByLabel('Route name').fill('qa');
      await form.getByLabel('Match on').selectOption('cookie');
      await form.getByLabel('Name', { exact: true }).fill('qa-team');
      await form.getByLabel('Value').fill('yes');
      await form.getByRole('button', { name: 'Add header route' }).click();
      await expect.poll(() => api.requests.find((r) => r.path === '/v1/services/checkout/header-route')?.body)
        .toEqual({ name: 'qa', match: [{ cookieName: 'qa-team', cookieValue: { exact: 'yes' } }], expectedVersion: 41 });
      await page.getByRole('button', { name: 'Remove route beta' }).click();
      await expect.poll(() => api.requests.filter((r) => r.path === '/v1/services/checkout/header-route').at(-1)?.body).toEqual({ name: 'beta', expectedVersion: 42 });
    } finally {
      await close();
    }
  });

  it('asks before an undo and sends the revision chosen', async () => {
    const { page, api, close } = await open('/services/checkout');
    try {
      await page.getByRole('button', { name: 'Undo to revision 2' }).click();
      const dialog = page.getByRole('dialog');
      expect(await dialog.textContent()).toContain('rolls back to revision 2 (0c6e2b9)');
      await dialog.getByRole('button', { name: 'Confirm' }).click();
      await expect.poll(() => api.requests.find((r) => r.path === '/v1/services/checkout/undo')?.body).toEqual({ toRevision: 2, expectedVersion: 41 });
    } finally {
      await close();
    }
  });

  it('adds a mirror route, and shows a refused route change\'s message in an alert', async () => {
    const { page, api, close } = await open('/services/checkout');
    try {
      const form = page.getByRole('form', { name: 'Mirror route' });
      await form.getByLabel('Route name').fill('shadow');
      await form.getByLabel('Percent').fill('25');
      await form.getByLabel('Path prefix').fill('/api');
      await form.getByRole('button', { name: 'Add mirror route' }).click();
      await expect.poll(() => api.requests.find((r) => r.path === '/v1/services/checkout/mirror-route')?.body)
        .toEqual({ name: 'shadow', percentage: 25, match: [{ path: { prefix: '/api' } }], expectedVersion: 41 });

      api.refuseNext('/v1/services/checkout/header-route', 409, 'InvalidOperation', 'header routes need a traffic router that matches headers; this one does not');
      await page.getByRole('button', { name: 'Remove route beta' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toBe('header routes need a traffic router that matches headers; this one does not');
    } finally {
      await close();
    }
  });

  it('says so when the service asked for does not exist', async () => {
    const { page, close } = await open('/services/nope');
    try {
      await page.getByRole('heading', { level: 1, name: 'nope' }).waitFor();
      await expect.poll(() => page.getByRole('alert').textContent()).toBe('no service or release named nope');
    } finally {
      await close();
    }
  });

  it('shows a release\'s members side by side, its pinned clients, and sets the release\'s weight', async () => {
    const { page, api, close } = await open('/releases/storefront');
    try {
      await page.getByRole('heading', { level: 1, name: 'storefront' }).waitFor();
      expect(await page.getByRole('status', { name: 'Rollout state' }).textContent()).toContain('Progressing · step 1/2');
      for (const member of ['web', 'api']) expect(await page.getByRole('link', { name: member, exact: true }).count()).toBe(1);
      await page.getByRole('heading', { level: 2, name: 'Pinned clients' }).waitFor();
      expect(await page.getByRole('row', { name: /Page loads/ }).textContent()).toContain('30.1%');
      const slider = page.getByRole('slider', { name: 'Canary weight' });
      expect(await slider.getAttribute('aria-valuenow')).toBe('30');
      await slider.fill('50');
      await page.getByRole('button', { name: 'Set weight to 50%' }).click();
      await expect.poll(() => api.requests.find((r) => r.path === '/v1/services/storefront/weight')?.body).toEqual({ percent: 50, expectedVersion: 17 });
    } finally {
      await close();
    }
  });

  it('shows a release\'s skew errors caught (emphasised when any), and once promoted the skew window\'s end counting down each second', async () => {
    const { page, api, close } = await open('/releases/storefront');
    try {
      await page.getByRole('heading', { level: 2, name: 'Skew' }).waitFor();
      const caught = page.getByLabel('Skew errors caught');
      expect(await caught.textContent()).toContain('3 skew errors caught in the last 1m');
      expect(await caught.locator('strong').getAttribute('class')).toBe('bad');
      expect(await page.getByText('No skew window running').count()).toBe(1);

      const promoted = fixturePromotedRelease(Date.now());
      api.pushStatus(promoted);
      const window = page.getByLabel('Skew window');
      await window.waitFor();
      const clock = await page.evaluate((ms) => new Date(ms).toLocaleTimeString('en-GB', { hour12: false }), promoted.skewWindowEndsAtMs!);
      const first = (await window.textContent())!;
      expect(first).toMatch(new RegExp(`^Old pages stay on stable until ${clock} \\(in 2m \\d{1,2}s\\)\\.$`));
      // The countdown moves on its own, with no new view from the server.
      await expect.poll(() => window.textContent(), { timeout: 5_000 }).not.toBe(first);
      expect(await caught.textContent()).toContain('0 skew errors caught');
      expect(await caught.locator('strong').getAttribute('class')).toBeNull();
    } finally {
      await close();
    }
  });

  it('sends the user back to sign-in, saying why, when the session ends', async () => {
    const { page, api, close } = await open('/services/checkout');
    try {
      await page.getByRole('heading', { level: 1, name: 'checkout' }).waitFor();
      // The next request the page makes (the 2 s figures refresh, the stream's reconnect) is a 401.
      api.endSession();
      await page.waitForURL('**/sign-in');
      expect(await page.getByRole('alert').textContent()).toBe('Your session ended; sign in again.');
    } finally {
      await close();
    }
  });

  it('signs out from the header: the session ends on the server and the sign-in form returns', async () => {
    const { page, api, close } = await open('/');
    try {
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL('**/sign-in');
      await page.getByLabel('Token').waitFor();
      const end = api.requests.find((r) => r.path === '/v1/session/end');
      expect(end?.method).toBe('POST');
      expect(end?.headers['x-graylane-csrf']).toBe('csrf-fixture-7c1d');
    } finally {
      await close();
    }
  });

  it('fits a 360 px wide screen without sideways scrolling on the overview and the rollout page', async () => {
    for (const path of ['/', '/services/checkout']) {
      const { page, close } = await open(path, { width: 360 });
      try {
        await page.getByRole('heading', { level: 1 }).waitFor();
        await page.getByRole('figure', { name: 'Error rate' }).or(page.getByRole('list', { name: 'Rollouts' })).first().waitFor();
        expect(await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'), path).toBeLessThanOrEqual(0);
      } finally {
        await close();
      }
    }
  });
});
