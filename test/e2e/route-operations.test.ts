/**
 * Header and mirror routes set by hand on a real daemon and its router, through the CLI: who
 * answers each request (and, for mirrors, who received a copy) is counted over loopback HTTP.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, cli, startDaemon, stopDaemon, view, waitFor, writeApp, type Daemon } from './harness.js';

// The canary runs one instance at weight 0: only routes set by hand reach it.
const canary = '      canary:\n        steps: [{setCanaryScale: {replicas: 1}}, {setWeight: 0}, {pause: {}}]\n        scaleDownDelaySeconds: 0';
let d: Daemon;
let dir: string;
let file: string;
let hitLog: string;

async function versions(n: number, headers: Record<string, string> = {}, path = '/'): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${d.info.routerUrl}${path}`, { headers });
    const { version } = (await res.json()) as { version: string };
    seen[version] = (seen[version] ?? 0) + 1;
  }
  return seen;
}

function served(version: string, path: string): number {
  return readFileSync(hitLog, 'utf8').split('\n').filter((l) => l.startsWith(`${version} `) && l.endsWith(` ${path}`)).length;
}

async function rollOut(version: string): Promise<void> {
  writeApp(dir, { version, strategy: canary, env: { HIT_LOG: hitLog } });
  expect((await cli(d.stateDir, ['apply', '-f', file])).code).toBe(0);
  await waitFor(async () => (await view(d)).phase === 'Paused', 30_000, `${version} paused at its pause step`);
}

beforeAll(async () => {
  dir = appDir();
  hitLog = join(dir, 'hits.log');
  file = writeApp(dir, { version: 'v1', strategy: canary, env: { HIT_LOG: hitLog } });
  d = await startDaemon(dir);
  await waitFor(async () => (await view(d)).phase === 'Healthy', 30_000, 'v1 healthy');
  await rollOut('v2');
}, 90_000);
afterAll(async () => {
  await stopDaemon(d);
});

describe('routes set by hand on a single host', () => {
  it('set header-route sends requests with the header to the canary and the others to stable; --remove ends it', async () => {
    expect(await versions(10, { 'x-beta': '1' })).toEqual({ v1: 10 });
    const set = await cli(d.stateDir, ['set', 'header-route', 'app', 'beta', '--header', 'x-beta=1', '--json']);
    expect(set.code).toBe(0);
    expect((JSON.parse(set.out) as { phase: string }).phase).toBe('Paused');
    await waitFor(async () => (await versions(1, { 'x-beta': '1' })).v2 === 1, 10_000, 'header route in force');
    expect(await versions(20, { 'x-beta': '1' })).toEqual({ v2: 20 });
    expect(await versions(20, { 'x-beta': '2' })).toEqual({ v1: 20 });
    expect(await versions(20)).toEqual({ v1: 20 });
    expect((await cli(d.stateDir, ['set', 'header-route', 'app', 'beta', '--remove'])).code).toBe(0);
    await waitFor(async () => (await versions(1, { 'x-beta': '1' })).v1 === 1, 10_000, 'header route removed');
    expect(await versions(20, { 'x-beta': '1' })).toEqual({ v1: 20 });
  }, 60_000);

  it('--cookie routes by cookie; removing a route that is not there is refused with exit 2 and a sentence (as other operations)', async () => {
    expect((await cli(d.stateDir, ['set', 'header-route', 'app', 'beta', '--cookie', 'beta=yes'])).code).toBe(0);
    await waitFor(async () => (await versions(1, { cookie: 'a=b; beta=yes' })).v2 === 1, 10_000, 'cookie route in force');
    expect(await versions(20, { cookie: 'a=b; beta=yes' })).toEqual({ v2: 20 });
    expect(await versions(20, { cookie: 'beta=no' })).toEqual({ v1: 20 });
    expect((await cli(d.stateDir, ['set', 'header-route', 'app', 'beta', '--remove'])).code).toBe(0);
    const again = await cli(d.stateDir, ['set', 'header-route', 'app', 'beta', '--remove']);
    expect(again.code).toBe(2);
    expect(again.err).toContain('no header route "beta" is in force (none is)');
  }, 60_000);

  it('bad arguments exit 2 before anything is asked', async () => {
    for (const args of [['--header', 'x-beta'], ['--header', 'x=1', '--cookie', 'b=1'], []]) {
      const r = await cli(d.stateDir, ['set', 'header-route', 'app', 'beta', ...args]);
      expect(r.code).toBe(2);
    }
    expect((await cli(d.stateDir, ['set', 'mirror-route', 'app', 'shadow', '--percent', '0'])).err).toContain('--percent must be a whole number from 1 to 100, not "0"');
  }, 30_000);

  it('set mirror-route copies requests to the canary while clients get stable\'s answers', async () => {
    expect((await cli(d.stateDir, ['set', 'mirror-route', 'app', 'shadow', '--percent', '100', '--path-prefix', '/mirrored'])).code).toBe(0);
    await waitFor(async () => (await versions(1, {}, '/mirrored/probe')).v1 === 1 && served('v2', '/mirrored/probe') > 0, 10_000, 'mirror in force');
    expect(await versions(20, {}, '/mirrored/x')).toEqual({ v1: 20 });
    expect(await versions(10, {}, '/other')).toEqual({ v1: 10 });
    await waitFor(() => served('v2', '/mirrored/x') === 20, 5_000, 'every copy reached the canary');
    expect({ canary: served('v2', '/mirrored/x'), stable: served('v1', '/mirrored/x'), canaryOther: served('v2', '/other') }).toEqual({ canary: 20, stable: 20, canaryOther: 0 });
  }, 60_000);

  it('abort removes every route set by hand', async () => {
    expect((await cli(d.stateDir, ['set', 'header-route', 'app', 'beta', '--header', 'x-beta=1'])).code).toBe(0);
    await waitFor(async () => (await versions(1, { 'x-beta': '1' })).v2 === 1, 10_000, 'header route in force');
    expect((await cli(d.stateDir, ['abort', 'app'])).code).toBe(0);
    expect(await versions(20, { 'x-beta': '1' })).toEqual({ v1: 20 });
    expect(await versions(10, {}, '/mirrored/after-abort')).toEqual({ v1: 10 });
    expect(served('v2', '/mirrored/after-abort')).toBe(0);
    const refused = await cli(d.stateDir, ['set', 'header-route', 'app', 'beta', '--header', 'x-beta=1']);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('the rollout is aborted: retry it first');
  }, 60_000);
});
