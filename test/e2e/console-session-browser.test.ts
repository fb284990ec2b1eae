// The console's session as a real browser lives it: Chromium signs in through the page's script,
// keeps the HttpOnly cookie (the script cannot read it), reads with it, changes only with the CSRF
// token, and the CSP keeps inline script out. The page is a small stand-in for the console, so
// this holds whatever the UI looks like.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneError } from '../../src/controller/control-plane.js';
import type { ApiBackend } from '../../src/api/api-backend.js';
import type { Operation } from '../../src/api/contract/index.js';
import { startApiServer, type ApiServer } from '../../src/api/server.js';

const TOKEN = 'browser-test-token-0123456789abcdef';
const operations: Operation[] = [];
const backend: ApiBackend = {
  list: () => [],
  get: (name) => { throw new ControlPlaneError('NotFound', `no service "${name}"`); },
  operate: (name, op) => {
    operations.push(op);
    return Promise.reject(new ControlPlaneError('NotFound', `no service "${name}"`));
  },
  history: () => [], analysis: () => [], events: () => [], subscribe: () => () => undefined,
};

// The page's script: sign in, then read and change with and without the CSRF token; results into the DOM.
const APP = `
const out = {};
const post = (path, body, headers = {}) => fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const wrong = await post('/v1/session', { token: 'guess' });
out.wrong = wrong.status;
const signIn = await post('/v1/session', { token: window.TOKEN_FROM_TEST });
const session = await signIn.json();
out.signIn = signIn.status;
out.cookieVisibleToScript = document.cookie.includes('graylane-session');
out.read = (await fetch('/v1/services')).status;
out.again = (await (await fetch('/v1/session')).json()).csrfToken === session.csrfToken;
out.changeWithoutCsrf = (await post('/v1/services/web/pause', {})).status;
out.changeWithCsrf = (await post('/v1/services/web/pause', {}, { 'x-graylane-csrf': session.csrfToken })).status;
out.end = (await post('/v1/session/end', {}, { 'x-graylane-csrf': session.csrfToken })).status;
out.afterEnd = (await fetch('/v1/services')).status;
out.inlineRan = window.inlineRan === true;
document.getElementById('out').textContent = JSON.stringify(out);
`;

let dir: string;
let server: ApiServer;
let browser: Browser;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'graylane-browser-'));
  mkdirSync(join(dir, 'assets'));
  // The inline script must not run under the CSP; the test's token is set by the test through the page, not inline.
  writeFileSync(join(dir, 'index.html'), '<!doctype html><html><head><script>window.inlineRan = true</script></head><body><pre id="out"></pre><script type="module" src="/assets/app-1.js"></script></body></html>');
  writeFileSync(join(dir, 'assets', 'app-1.js'), `await new Promise((r) => { const t = setInterval(() => { if (window.TOKEN_FROM_TEST) { clearInterval(t); r(); } }, 10); });\n${APP}`);
  server = await startApiServer({ backend, token: TOKEN, consoleDir: dir });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the console session in Chromium', () => {
  it('signs in, reads with the HttpOnly cookie, changes only with the CSRF token, and the CSP blocks inline script', async () => {
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (m) => { if (m.text().includes('Content Security Policy')) violations.push(m.text()); });
    await page.goto(`${server.url}/services/web`);
    // A string, not a function: this file is type-checked without the DOM's types. (waitForFunction
    // with a string would need eval in the page, which the CSP refuses: a selector waits instead.)
    await page.evaluate(`window.TOKEN_FROM_TEST = ${JSON.stringify(TOKEN)}`);
    await page.waitForSelector('#out:not(:empty)', { state: 'attached', timeout: 30_000 });
    const out = JSON.parse((await page.textContent('#out'))!) as Record<string, unknown>;
    expect(out).toEqual({
      wrong: 401, signIn: 200, cookieVisibleToScript: false, read: 200, again: true,
      changeWithoutCsrf: 403, changeWithCsrf: 404, end: 200, afterEnd: 401, inlineRan: false,
    });
    // The change with the token reached the backend (its 404 is the backend's: no such service); the one without did not.
    expect(operations).toEqual([{ type: 'pause' }]);
    expect(violations.length).toBeGreaterThan(0);
    await page.close();
  }, 60_000);
});
