/**
 * Hooks on a single host, through a real daemon: a preRollout "expand" runs before the new
 * revision serves anyone, a postPromotion "contract" after everyone is on it, each with the new
 * revision's environment in its directory; a failing preRollout aborts with no request ever
 * reaching the new revision. Traffic is real requests through the router, counted.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appDir, cli, startDaemon, stopDaemon, view, waitFor, writeApp, type Daemon } from './harness.js';

let d: Daemon | undefined;
let stopTraffic: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stopTraffic?.();
  stopTraffic = undefined;
  if (d) await stopDaemon(d);
  d = undefined;
});

/** The hook: says what it saw (its revision, environment, directory, who answers through the router), then maybe fails. */
const MIGRATE = `import { appendFileSync } from 'node:fs';
const seen = [];
if (process.env.ROUTER_URL) for (let i = 0; i < 5; i++) seen.push((await (await fetch(process.env.ROUTER_URL)).json()).version);
await new Promise((r) => setTimeout(r, Number(process.env.HOOK_MS ?? 0)));
appendFileSync('migrations.log', JSON.stringify({ step: process.argv[2], hook: process.env.GRAYLANE_HOOK, version: process.env.VERSION, db: process.env.DB, cwd: process.cwd(), seen, atMs: Date.now() }) + '\\n');
if (process.env.FAIL) { process.stderr.write('column "email" already exists'); process.exit(3); }
`;

interface Migration { step: string; hook: string; version: string; db: string; cwd: string; seen: string[]; atMs: number }
const migrations = (dir: string): Migration[] => existsSync(join(dir, 'migrations.log'))
  ? readFileSync(join(dir, 'migrations.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Migration)
  : [];

/** Requests through the router, one after another, until stopped: who answered, when. */
function traffic(url: string): { answers: { version: string; atMs: number }[]; stop: () => Promise<void> } {
  const answers: { version: string; atMs: number }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const body = (await (await fetch(url)).json()) as { version: string };
        answers.push({ version: body.version, atMs: Date.now() });
      } catch {
        answers.push({ version: 'failed', atMs: Date.now() });
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return { answers, stop: async () => { running = false; await loop; } };
}

const canary = '      canary:\n        steps: [{setWeight: 50}, {pause: {duration: 1s}}]';
const hooks = (h: string) => `    hooks:\n${h}`;

describe('hooks on a single host', () => {
  it('runs expand before the new revision serves anyone and contract after everyone is on it, in the revision\'s environment; none on the first deploy', async () => {
    const dir = appDir();
    writeFileSync(join(dir, 'migrate.mjs'), MIGRATE);
    const v1Hooks = hooks('      preRollout: {command: [node, migrate.mjs, expand]}\n');
    const file = writeApp(dir, { version: 'v1', replicas: 1, strategy: canary, extra: v1Hooks, env: { DB: 'shop-db' } });
    d = await startDaemon(dir);
    const daemon = d;
    await waitFor(async () => (await view(daemon)).phase === 'Healthy', 20_000, 'v1 healthy');
    expect(migrations(dir)).toEqual([]);

    const url = daemon.info.routerUrl;
    const env = `{ROUTER_URL: "${url}"}`;
    writeApp(dir, {
      version: 'v2', replicas: 1, strategy: canary, env: { DB: 'shop-db' },
      extra: hooks(`      preRollout: {command: [node, migrate.mjs, expand], env: {ROUTER_URL: "${url}", HOOK_MS: "1500"}}\n      postPromotion: {command: [node, migrate.mjs, contract], env: ${env}}\n`),
    });
    const load = traffic(url);
    stopTraffic = load.stop;
    expect((await cli(daemon.stateDir, ['apply', '-f', file])).code).toBe(0);
    await waitFor(() => migrations(dir).length === 2, 40_000, 'expand and contract');
    await load.stop();

    const [expand, contract] = migrations(dir);
    expect(expand).toMatchObject({ step: 'expand', hook: 'preRollout', version: 'v2', db: 'shop-db', cwd: dir, seen: ['v1', 'v1', 'v1', 'v1', 'v1'] });
    expect(contract).toMatchObject({ step: 'contract', hook: 'postPromotion', version: 'v2', seen: ['v2', 'v2', 'v2', 'v2', 'v2'] });
    const v2 = load.answers.filter((a) => a.version === 'v2');
    expect(v2.length).toBeGreaterThan(0);
    // Not one request reached v2 before the expand migration had finished.
    expect(Math.min(...v2.map((a) => a.atMs))).toBeGreaterThanOrEqual(expand!.atMs);
    expect(load.answers.filter((a) => a.version === 'failed')).toEqual([]);
    // Done: Completed while v1 stays up for its scale-down delay, then Healthy; never Degraded.
    expect(['Completed', 'Healthy']).toContain((await view(daemon)).phase);
  }, 90_000);

  it('a failing preRollout aborts: no request ever reaches the new revision, and the status says which hook and why', async () => {
    const dir = appDir();
    writeFileSync(join(dir, 'migrate.mjs'), MIGRATE);
    const file = writeApp(dir, { version: 'v1', replicas: 1, strategy: canary });
    d = await startDaemon(dir);
    const daemon = d;
    await waitFor(async () => (await view(daemon)).phase === 'Healthy', 20_000, 'v1 healthy');

    writeApp(dir, { version: 'v2', replicas: 1, strategy: canary, extra: hooks('      preRollout: {command: [node, migrate.mjs, expand], env: {FAIL: "1", HOOK_MS: "1000"}}\n') });
    const load = traffic(daemon.info.routerUrl);
    stopTraffic = load.stop;
    expect((await cli(daemon.stateDir, ['apply', '-f', file])).code).toBe(0);
    const degraded = await waitFor(async () => {
      const v = await view(daemon);
      return v.phase === 'Degraded' ? v : undefined;
    }, 30_000, 'aborted by the hook');
    expect(degraded.aborted).toBe(true);
    expect(degraded.message).toContain('preRollout hook failed');
    expect(degraded.message).toContain('exited with code 3: column "email" already exists');
    // Traffic for a while longer: still nobody on v2.
    await new Promise((r) => setTimeout(r, 1500));
    await load.stop();
    expect(migrations(dir)).toMatchObject([{ step: 'expand', version: 'v2' }]);
    expect(load.answers.length).toBeGreaterThan(10);
    expect(new Set(load.answers.map((a) => a.version))).toEqual(new Set(['v1']));
    // The new revision never had an instance.
    expect(degraded.revisions.filter((r) => r.role !== 'stable').map((r) => [r.weight, r.total, r.instances.length])).toEqual([[0, 0, 0]]);
  }, 90_000);
});
