import { afterEach, describe, expect, it } from 'vitest';
import { appYaml, startHarness, until, type Harness } from '../fixtures/controller/local-harness.js';
import { startApiServer, type ApiServer } from '../../src/api/server.js';
import { loadOrCreateToken, writeDaemonInfo } from '../../src/api/state-dir.js';
import { main } from '../../src/cli/main.js';

let h: Harness | undefined;
let api: ApiServer | undefined;
afterEach(async () => {
  await api?.close();
  await h?.stop();
  h = api = undefined;
});

const strategy = '      canary:\n        trafficRouting: {}\n        steps: [{setWeight: 50}, {pause: {}}]';

async function pausedRollout(): Promise<{ post: (path: string, body: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: { error?: { code: string; message: string }; phase?: string; version?: number } }> }> {
  h = await startHarness();
  await h.apply(appYaml({ version: 'v1', replicas: 1, strategy }));
  await until(() => h!.controller.get('app').phase === 'Healthy', 15_000, 'v1 healthy');
  await h.apply(appYaml({ version: 'v2', replicas: 1, strategy }));
  await until(() => h!.controller.get('app').phase === 'Paused', 15_000, 'v2 paused at the gate');
  const token = loadOrCreateToken(h.stateDir);
  api = await startApiServer({ backend: h.controller, token });
  writeDaemonInfo(h.stateDir, { apiUrl: api.url, routerUrl: h.routerUrl, adminUrl: undefined, pid: process.pid, appFile: h.appFile, startedAtMs: Date.now() });
  const base = api.url;
  return {
    async post(path, body, headers = {}) {
      const res = await fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as never };
    },
  };
}

describe('concurrent operators', () => {
  it('two operations decided on the same version: one wins, the other gets 409 saying what changed', async () => {
    const { post } = await pausedRollout();
    const version = h!.controller.get('app').version;
    expect(version).toBeGreaterThan(0);
    const [abort, promote] = await Promise.all([
      post('/v1/services/app/abort', { expectedVersion: version }),
      post('/v1/services/app/promote', { full: true, expectedVersion: version }),
    ]);
    expect([abort.status, promote.status].sort()).toEqual([200, 409]);
    const lost = abort.status === 409 ? abort : promote;
    const won = abort.status === 200 ? 'abort' : 'promote';
    expect(lost.body.error?.code).toBe('Conflict');
    expect(lost.body.error?.message).toMatch(new RegExp(`^(abort|promote) not done: app changed since you looked \\(version ${version}, now [0-9]+.*${won} by operator`));
    expect(lost.body.error?.message).toContain('graylane status app');
    // The winner's decision stands.
    expect(h!.controller.get('app').aborted).toBe(won === 'abort');
  });

  it('If-Match carries the version too; the current one is accepted, a malformed one is a 400', async () => {
    const { post } = await pausedRollout();
    const version = h!.controller.get('app').version!;
    expect((await post('/v1/services/app/abort', {}, { 'if-match': 'nonsense' })).status).toBe(400);
    expect((await post('/v1/services/app/abort', {}, { 'if-match': `"${version - 1}"` })).status).toBe(409);
    const ok = await post('/v1/services/app/abort', {}, { 'if-match': `"${version}"` });
    expect(ok.status).toBe(200);
    expect(ok.body.version).toBeGreaterThan(version);
  });
});

it('the CLI prints the conflict and exits non-zero', async () => {
  await pausedRollout();
  const stale = h!.controller.get('app').version! - 1;
  let err = '';
  const code = await main(['promote', 'app', '--full', '--expected-version', String(stale), '--state-dir', h!.stateDir], { out: () => undefined, err: (s) => void (err += s), isTty: false, env: {}, cwd: h!.dir });
  expect(code).toBe(1);
  expect(err).toMatch(/^error: promote not done: app changed since you looked \(version \d+, now \d+, Paused\)/);
  expect(h!.controller.get('app').phase).toBe('Paused');
});
