/** The CLI's operations against a real daemon: what a person at a terminal (or a pipeline) does. */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, cli, startDaemon, stopDaemon, versionCounts, waitFor, writeApp, type Daemon } from './harness.js';
import type { ServiceView } from '../../src/controller/view-model.js';

const canary = '      canary:\n        steps: [{setWeight: 10}, {pause: {}}, {setWeight: 50}, {pause: {}}]\n        scaleDownDelaySeconds: 0';
let d: Daemon;
let dir: string;
let file: string;

async function view(): Promise<ServiceView> {
  return JSON.parse((await cli(d.stateDir, ['status', 'app', '--json'])).out) as ServiceView;
}
const share = (n = 200) => versionCounts(`${d.info.routerUrl}/`, n);
async function rollOut(version: string): Promise<void> {
  writeApp(dir, { version, strategy: canary });
  expect((await cli(d.stateDir, ['apply', '-f', file])).code).toBe(0);
  await waitFor(async () => (await view()).phase === 'Paused', 20_000, `${version} paused at step 2`);
}

beforeAll(async () => {
  dir = appDir();
  file = writeApp(dir, { version: 'v1', strategy: canary });
  d = await startDaemon(dir);
  await waitFor(async () => (await view()).phase === 'Healthy', 20_000, 'v1 healthy');
}, 30_000);
afterAll(async () => {
  await stopDaemon(d);
});

describe('operations through the CLI', () => {
  it('get lists the service; status exits 0 when healthy', async () => {
    const get = await cli(d.stateDir, ['get']);
    expect(get.out).toMatch(/app\s+canary\s+Healthy/);
    expect((await cli(d.stateDir, ['status', 'app'])).code).toBe(0);
  });

  it('set weight moves the split by hand, promote goes to the next step, abort returns everything to stable at once', async () => {
    await rollOut('v2');
    expect((await view()).revisions.map((r) => r.weight)).toEqual([90, 10]);
    expect((await cli(d.stateDir, ['set', 'weight', 'app', '50'])).code).toBe(0);
    const half = await share();
    expect(half.v2).toBeGreaterThan(60);
    expect(half.v1).toBeGreaterThan(60);
    expect((await cli(d.stateDir, ['promote', 'app'])).code).toBe(0);
    await waitFor(async () => (await view()).step === 4, 10_000, 'step 4');
    expect((await cli(d.stateDir, ['abort', 'app'])).code).toBe(0);
    expect((await share(50)).v1).toBe(50);
    const aborted = await cli(d.stateDir, ['status', 'app']);
    expect(aborted.code).toBe(1);
    const again = await cli(d.stateDir, ['abort', 'app']);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/error: .*abort/i);
  }, 60_000);

  it('retry restarts the aborted rollout from its first step; pause and resume hold and release it', async () => {
    expect((await cli(d.stateDir, ['retry', 'app'])).code).toBe(0);
    await waitFor(async () => {
      const v = await view();
      return v.phase === 'Paused' && v.step === 2;
    }, 20_000, 'paused at step 2 after retry');
    expect((await cli(d.stateDir, ['pause', 'app'])).code).toBe(0);
    expect((await view()).pauseReasons).toContain('UserPause');
    expect((await cli(d.stateDir, ['resume', 'app'])).code).toBe(0);
    expect((await view()).pauseReasons).not.toContain('UserPause');
    expect((await cli(d.stateDir, ['promote', 'app'])).code).toBe(0);
    await waitFor(async () => (await view()).step === 4, 10_000, 'step 4');
    expect((await cli(d.stateDir, ['promote', 'app', '--full'])).code).toBe(0);
    const done = await cli(d.stateDir, ['status', 'app', '--wait', '--timeout', '30s']);
    expect(done.code).toBe(0);
    expect((await share(30)).v2).toBe(30);
  }, 60_000);

  it('history numbers the revisions; undo goes back to the previous one; logs show the instances output', async () => {
    const history = await cli(d.stateDir, ['history', 'app', '--json']);
    const revisions = JSON.parse(history.out).revisions as { number: number; role: string }[];
    expect(revisions.map((r) => [r.number, r.role])).toEqual([[2, 'stable'], [1, 'retired']]);
    const undo = await cli(d.stateDir, ['undo', 'app']);
    expect(undo.err).toBe('');
    expect(undo.code).toBe(0);
    await waitFor(async () => (await view()).phase === 'Paused', 20_000, 'undo rollout paused');
    expect((await cli(d.stateDir, ['promote', 'app', '--full'])).code).toBe(0);
    await waitFor(async () => (await share(20)).v1 === 20, 20_000, 'back on v1');
    expect((await cli(d.stateDir, ['undo', 'app', '--to-revision', '9'])).code).toBe(2);
    const logs = await cli(d.stateDir, ['logs', 'app']);
    expect(logs.code).toBe(0);
  }, 60_000);

  it('the API wants its token, serves its OpenAPI document, and streams events', async () => {
    const anonymous = await fetch(`${d.info.apiUrl}/v1/services`);
    expect(anonymous.status).toBe(401);
    const wrong = await fetch(`${d.info.apiUrl}/v1/services`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const doc = (await (await fetch(`${d.info.apiUrl}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/v1/services/{name}/promote');
    const token = readFileSync(join(d.stateDir, 'token'), 'utf8').trim();
    expect((statSync(join(d.stateDir, 'token')).mode & 0o777).toString(8)).toBe('600');
    const abort = new AbortController();
    const res = await fetch(`${d.info.apiUrl}/v1/events?after=0`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: abort.signal });
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: status')) text += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    expect(text).toContain('event: event');
    expect(text).toMatch(/"reason":"Applied"/);
  });

  it('an unknown service and a bad weight are usage errors (exit 2)', async () => {
    const r = await cli(d.stateDir, ['promote', 'nope']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('no service "nope"; services: app');
    expect((await cli(d.stateDir, ['set', 'weight', 'app', 'lots'])).code).toBe(2);
  });
});
