/** A person finds the console: `graylane up` prints its address, `graylane token` the token to sign in with. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, cli, startDaemon, stopDaemon, waitFor, writeApp, type Daemon } from './harness.js';
import { ApiClient } from '../../src/api/client.js';

let d: Daemon;

beforeAll(async () => {
  const dir = appDir();
  writeApp(dir, { version: 'v1', strategy: '      canary:\n        steps: [{setWeight: 50}, {pause: {}}]' });
  d = await startDaemon(dir);
}, 45_000);
afterAll(async () => {
  await stopDaemon(d);
});

describe('the console of `graylane up`', () => {
  it('is printed with its address, serves the built page there, and signs in with what `graylane token` prints', async () => {
    const line = d.output().split('\n').find((l) => l.trim().startsWith('console'));
    expect(line?.trim()).toBe(`console  ${d.info.apiUrl}/ (sign in with the token from \`graylane token\`)`);
    // Built by `npm run build` (CI builds before it tests).
    const page = await fetch(`${d.info.apiUrl}/services/app`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="root">');
    const token = await cli(d.stateDir, ['token']);
    expect(token.code).toBe(0);
    const session = await new ApiClient(d.info.apiUrl, undefined).signIn(token.out.trim());
    expect(session.place).toBe('single-host');
    expect(session.csrfToken.length).toBeGreaterThan(20);
    // The plan of the service is there too: the console's step pipeline.
    const plan = await waitFor(() => new ApiClient(d.info.apiUrl, token.out.trim()).plan('app'), 10_000, 'plan');
    expect(plan.rows.filter((r) => r.step !== null).map((r) => r.description)).toEqual(['set weight 50%', 'pause until promoted']);
  });
});
