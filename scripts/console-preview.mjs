#!/usr/bin/env node
// Looks at the built console without a daemon: serves dist/console, answers /v1 from the test
// fixtures (a canary paused at 2/4, a release of two members, a healthy service), and takes
// screenshots of every page at 1280×800 and 360×740 in both colour schemes.
//   npm run build && node scripts/console-preview.mjs [out-dir]   (default .scratch-console/)
import { mkdir } from 'node:fs/promises';
import { fileURLToPath, URL } from 'node:url';
import process from 'node:process';
import console from 'node:console';
import { tsImport } from 'tsx/esm/api';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = process.argv[2] ?? `${root}.scratch-console`;
const { CHROMIUM, installFixtureApi, serveStatic } = await tsImport('../test/fixtures/console/harness.ts', import.meta.url);

await mkdir(out, { recursive: true });
const site = await serveStatic(`${root}dist/console`);
const browser = await chromium.launch(CHROMIUM);
try {
  const shots = [
    ['sign-in', '/sign-in', false],
    ['overview', '/', true],
    ['rollout', '/services/checkout', true],
    ['release', '/releases/storefront', true],
  ];
  for (const [scheme, suffix] of [['light', ''], ['dark', '-dark']]) {
    for (const [w, h, size] of [[1280, 800, 'wide'], [360, 740, 'phone']]) {
      const context = await browser.newContext({ viewport: { width: w, height: h }, colorScheme: scheme, deviceScaleFactor: 1 });
      for (const [name, path, signedIn] of shots) {
        const page = await context.newPage();
        await installFixtureApi(page, { signedIn });
        await page.goto(`${site.url}${path}`);
        await page.locator(name === 'sign-in' ? 'form' : 'h1').first().waitFor({ timeout: 10_000 });
        // Charts draw after their first series answer.
        if (name === 'rollout' || name === 'release') await page.locator('.chart-canvas canvas').first().waitFor({ timeout: 10_000 });
        const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
        if (overflow > 0) console.warn(`${name} ${size}${suffix}: scrolls sideways by ${overflow}px`);
        await page.screenshot({ path: `${out}/${name}-${size}${suffix}.png`, fullPage: true });
        await page.close();
      }
      await context.close();
    }
  }
  console.log(`screenshots in ${out}`);
} finally {
  await browser.close();
  await site.close();
}
