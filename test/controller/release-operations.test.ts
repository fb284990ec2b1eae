/**
 * A release handled as one, through the daemon's API and the CLI, against a real controller
 * (real processes, real router, SQLite) on a fake clock: pause holds it, a new revision after an
 * abort starts a new release, operations on a member are refused while the release holds it,
 * and undo, history, logs, analysis and set weight work on the release's name.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { shopReleaseYaml, startHarness, until, type Harness } from '../fixtures/controller/local-harness.js';
import { startApiServer, type ApiServer } from '../../src/api/server.js';
import { loadOrCreateToken, writeDaemonInfo } from '../../src/api/state-dir.js';
import { main } from '../../src/cli/main.js';
import type { ServiceView } from '../../src/controller/view-model.js';
import { signReleaseToken } from '../../src/router/release-token.js';
import { send } from '../fixtures/router/support.js';

let h: Harness | undefined;
let api: ApiServer | undefined;
afterEach(async () => {
  await api?.close();
  await h?.stop();
  h = api = undefined;
});

/** Writes a line at start (so `logs` has something), then runs the e2e fixture server. */
const LOGGING_SERVER = "console.log(`hello from ${process.env.SERVICE} ${process.env.VERSION}`);\nawait import('./server.mjs');\n";

const STEPS = `        steps:
        - setWeight: 30
        - pause: {duration: 10s}
        - setWeight: 60
        - pause: {}`;

const ANALYSIS_STEPS = `        steps:
        - setWeight: 30
        - analysis: {templates: [{templateName: always-one}]}
        - pause: {}`;

const TEMPLATE = `---
apiVersion: graylane.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: always-one}
spec:
  metrics:
  - name: one
    count: 1
    successCondition: result == 1
    provider:
      command: {command: [node, -e, 'console.log(1)']}
`;

function shopYaml(version: string, steps = STEPS): string {
  return shopReleaseYaml({ version, steps, script: 'logging-server.mjs', extra: steps === ANALYSIS_STEPS ? TEMPLATE : '' });
}

interface Reply { status: number; body: Record<string, unknown> & { error?: { code: string; message: string } } }

/** The shop at v1, healthy, with the API served over loopback. */
async function shop(steps = STEPS): Promise<{ get: (path: string) => Promise<Reply>; post: (path: string, body?: unknown) => Promise<Reply>; cli: (args: string[]) => Promise<{ code: number; out: string; err: string }> }> {
  h = await startHarness();
  writeFileSync(join(h.dir, 'logging-server.mjs'), LOGGING_SERVER);
  await h.apply(shopYaml('v1', steps));
  await until(() => ['web', 'api'].every((s) => h!.controller.get(s).phase === 'Healthy'), 15_000, 'v1 healthy');
  const token = loadOrCreateToken(h.stateDir);
  api = await startApiServer({ backend: h.controller, token });
  writeDaemonInfo(h.stateDir, { apiUrl: api.url, routerUrl: h.routerUrl, adminUrl: undefined, pid: process.pid, appFile: h.appFile, startedAtMs: Date.now() });
  const base = api.url;
  const call = async (method: string, path: string, body?: unknown): Promise<Reply> => {
    const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, body: (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : { text }) as Reply['body'] };
  };
  return {
    get: (path) => call('GET', path),
    post: (path, body = {}) => call('POST', path, body),
    async cli(args) {
      let out = '';
      let err = '';
      const code = await main([...args, '--state-dir', h!.stateDir], { out: (s) => void (out += s), err: (s) => void (err += s), isTty: false, env: {}, cwd: h!.dir });
      return { code, out, err };
    },
  };
}

const view = (name: string): ServiceView => h!.controller.get(name);
const canaryWeight = (name: string) => view(name).revisions.find((r) => r.role === 'canary')?.weight;
/** The release at its first gate: both members at 30%, waiting at step 2. */
const atFirstGate = () => view('shop').step === 2 && ['web', 'api'].every((s) => view(s).phase === 'Paused' && canaryWeight(s) === 30);

async function rollOut(version: string, steps = STEPS): Promise<void> {
  await h!.apply(shopYaml(version, steps));
  await until(() => atFirstGate() || view('shop').aborted, 20_000, `${version} at the release's first gate`);
  expect(view('shop').aborted).toBe(false);
}

/** Lets the controller make many passes (resync is 20 ms) with nothing else happening. */
const passes = () => new Promise((r) => setTimeout(r, 600));

describe('a release handled as one', () => {
  it('pause holds a release at its gate past the pause duration; resume lets it go on', async () => {
    const { post } = await shop();
    await rollOut('v2');
    expect((await post('/v1/services/shop/pause')).status).toBe(200);
    h!.clock.now += 60_000;
    await passes();
    expect(view('shop').step).toBe(2);
    expect(view('shop').phase).toBe('Paused');
    expect(view('shop').message).toMatch(/paused by operator at step 2/);
    expect([canaryWeight('web'), canaryWeight('api')]).toEqual([30, 30]);
    expect((await post('/v1/services/shop/resume')).status).toBe(200);
    await until(() => view('shop').step === 4 && canaryWeight('web') === 60 && canaryWeight('api') === 60, 15_000, 'release on to 60%');
  }, 60_000);

  it('pause and resume of a release with nothing in progress are refused, saying so', async () => {
    const { post } = await shop();
    const paused = await post('/v1/services/shop/pause');
    expect(paused.status).toBe(409);
    expect(paused.body.error?.message).toBe('nothing to pause: release shop has no rollout in progress');
    const resumed = await post('/v1/services/shop/resume');
    expect(resumed.status).toBe(409);
    expect(resumed.body.error?.message).toBe('nothing to resume: release shop has no rollout in progress');
  }, 60_000);

  it('operations on a release that make no sense now are refused, saying why', async () => {
    const { post, get } = await shop();
    const message = async (path: string, body: unknown = {}) => {
      const reply = await post(path, body);
      expect(reply.status).toBe(409);
      return reply.body.error?.message;
    };
    expect(await message('/v1/services/shop/undo')).toBe('release shop has no earlier revision to go back to');
    expect(await message('/v1/services/shop/restart')).toBe('restart is not available on this daemon yet; apply a changed env to roll new instances');
    await rollOut('v2');
    expect(await message('/v1/services/shop/resume')).toBe('release shop was not paused by a person (`graylane promote shop` passes a pause step)');
    expect(await message('/v1/services/shop/retry')).toBe('release shop is not aborted: only an aborted release can be retried');
    expect((await post('/v1/services/shop/pause')).status).toBe(200);
    expect(await message('/v1/services/shop/pause')).toBe('release shop is already paused');
    expect((await post('/v1/services/shop/abort')).status).toBe(200);
    expect(await message('/v1/services/shop/promote')).toBe('release shop is aborted: `graylane retry shop` to run it again, or apply a new revision');
    const logs = await get('/v1/services/shop/logs?revision=2');
    expect(logs.status).toBe(409);
    expect(logs.body.error?.message).toBe('revisions belong to each member of release shop: name one, e.g. `graylane logs web --revision 2`');
    // retry brings the whole release back, paused no more.
    expect((await post('/v1/services/shop/retry')).status).toBe(200);
    await until(() => atFirstGate(), 15_000, 'the retried release at its first gate');
  }, 60_000);

  it('promote of a paused release passes the gate at once', async () => {
    const { post } = await shop();
    await rollOut('v2');
    expect((await post('/v1/services/shop/pause')).status).toBe(200);
    expect((await post('/v1/services/shop/promote')).status).toBe(200);
    await until(() => view('shop').step === 4 && canaryWeight('web') === 60 && canaryWeight('api') === 60, 15_000, 'release on to 60%');
  }, 60_000);

  it('after an abort, a canary page’s requests keep the canary through the abort grace while page loads go to stable at once', async () => {
    const { post } = await shop();
    await rollOut('v2');
    const { secret, generation } = h!.store.getRelease('shop')!;
    // A client at position 0 whose page was served by the canary (weight 30).
    const canaryPage = signReleaseToken(secret, { release: 'shop', generation, side: 'canary', position: 0 });
    // Plain HTTP, not fetch: fetch sets `sec-fetch-mode` itself, so it cannot load a page.
    const versionOf = async (path: string, headers: Record<string, string>) =>
      (JSON.parse((await send(`${h!.routerUrl}${path}`, { headers: { 'x-graylane-release': canaryPage, ...headers } })).body) as { version: string }).version;
    const API = { accept: 'application/json', 'sec-fetch-mode': 'cors' };
    expect(await versionOf('/api/cart', API)).toBe('v2');
    const abortedAtMs = h!.clock.now;
    expect((await post('/v1/services/shop/abort')).status).toBe(200);
    await until(() => view('web').phase === 'Degraded' && view('api').phase === 'Degraded', 10_000, 'members aborted');
    expect(h!.router.getRouteTable().releases?.[0]).toMatchObject({ phase: 'aborted', abortGraceUntilMs: abortedAtMs + 5000 });
    expect(await versionOf('/api/cart', API)).toBe('v2');
    expect(await versionOf('/app.js', { accept: '*/*', 'sec-fetch-mode': 'no-cors' })).toBe('v2');
    expect(await versionOf('/', { accept: 'text/html', 'sec-fetch-mode': 'navigate' })).toBe('v1');
    h!.clock.now = abortedAtMs + 5000;
    expect(await versionOf('/api/cart', API)).toBe('v1');
    expect(await versionOf('/app.js', { accept: '*/*', 'sec-fetch-mode': 'no-cors' })).toBe('v1');
  }, 60_000);

  it('a new revision after an abort starts a new release rollout instead of being aborted', async () => {
    const { post } = await shop();
    await rollOut('v2');
    expect((await post('/v1/services/shop/abort')).status).toBe(200);
    await until(() => view('web').phase === 'Degraded' && view('api').phase === 'Degraded', 10_000, 'members aborted');
    await rollOut('v3');
    expect(view('shop').message).not.toMatch(/abort/);
    expect(view('shop').phase).toBe('Paused');
  }, 60_000);

  it('a new revision of one member after an abort starts a release of that member alone', async () => {
    const { post } = await shop();
    await rollOut('v2');
    expect((await post('/v1/services/shop/abort')).status).toBe(200);
    await until(() => view('web').phase === 'Degraded' && view('api').phase === 'Degraded', 10_000, 'members aborted');
    // web goes to v3; api stays on its aborted v2 (back on stable v1).
    const yaml = shopYaml('v3').replace('{"VERSION":"v3","SERVICE":"api"}', '{"VERSION":"v2","SERVICE":"api"}');
    await h!.apply(yaml);
    await until(() => (view('shop').step === 2 && view('web').phase === 'Paused' && canaryWeight('web') === 30) || view('web').aborted, 20_000, 'web at the first gate');
    expect(view('web').aborted).toBe(false);
    expect(view('shop').aborted).toBe(false);
    expect((await post('/v1/services/shop/promote')).status).toBe(200);
    await until(() => canaryWeight('web') === 60, 15_000, 'web on to 60%');
  }, 60_000);

  it('every operation on a member of a release in progress is refused, naming the release and the command', async () => {
    const { post, cli } = await shop();
    await rollOut('v2');
    const cases: [string, unknown, string][] = [
      ['promote', {}, 'graylane promote shop'],
      ['promote', { full: true }, 'graylane promote shop --full'],
      ['pause', {}, 'graylane pause shop'],
      ['resume', {}, 'graylane resume shop'],
      ['abort', {}, 'graylane abort shop'],
      ['retry', {}, 'graylane retry shop'],
      ['weight', { percent: 50 }, 'graylane set weight shop 50'],
      ['undo', {}, 'graylane undo shop'],
      ['restart', {}, 'graylane restart shop'],
    ];
    for (const [op, body, command] of cases) {
      const reply = await post(`/v1/services/api/${op}`, body);
      expect({ op, status: reply.status, code: reply.body.error?.code }).toEqual({ op, status: 409, code: 'InvalidOperation' });
      expect(reply.body.error?.message).toBe(`api moves with release shop: use \`${command}\``);
    }
    const promoted = await cli(['promote', 'api']);
    expect(promoted.code).toBe(2);
    expect(promoted.err).toContain('api moves with release shop: use `graylane promote shop`');
    await passes();
    expect([canaryWeight('web'), canaryWeight('api')]).toEqual([30, 30]);
    expect(view('shop').aborted).toBe(false);
  }, 60_000);

  it('set weight on a release sets every member\'s weight', async () => {
    const { cli } = await shop();
    await rollOut('v2');
    const set = await cli(['set', 'weight', 'shop', '50']);
    expect(set.code).toBe(0);
    // The weight is committed when the command returns; the traffic in force follows at the member's next pass.
    await until(() => canaryWeight('web') === 50 && canaryWeight('api') === 50, 5_000, 'both members at 50%');
    expect(view('shop').step).toBe(2);
  }, 60_000);

  it('undo of a release rolls every member back together, as a release rollout', async () => {
    const { post } = await shop();
    await rollOut('v2');
    expect((await post('/v1/services/shop/promote', { full: true })).status).toBe(200);
    // Completed: v2 takes all traffic; v1 stays up for clients pinned to it (the clock stands still).
    await until(() => ['web', 'api'].every((s) => ['Healthy', 'Completed'].includes(view(s).phase) && view(s).revisions.find((r) => r.weight === 100)?.number === 2), 20_000, 'v2 released');
    const undone = await post('/v1/services/shop/undo');
    expect(undone.status).toBe(200);
    await until(() => atFirstGate() || view('shop').aborted, 20_000, 'the undo at the first gate');
    // Both members go back to revision #1 through the release's steps.
    expect(['web', 'api'].map((s) => view(s).revisions.find((r) => r.role === 'canary')?.number)).toEqual([1, 1]);
    const withNumber = await post('/v1/services/shop/undo', { toRevision: 1 });
    expect(withNumber.status).toBe(409);
    expect(withNumber.body.error?.message).toMatch(/^revision numbers belong to each member of release shop: .*`graylane undo shop` rolls every member back/);
  }, 60_000);

  it('history, logs and analysis of a release cover its members', async () => {
    const { get, cli } = await shop(ANALYSIS_STEPS);
    await h!.apply(shopYaml('v2', ANALYSIS_STEPS));
    await until(() => view('shop').step === 3 || view('shop').aborted, 30_000, 'the release past its analysis');
    const history = await get('/v1/services/shop/history');
    expect(history.status).toBe(200);
    const names = (history.body.revisions as { name: string; number: number; role: string }[]).map((r) => `${r.name.split(' ')[0]} #${r.number} ${r.role}`);
    expect(names.sort()).toEqual(['api #1 stable', 'api #2 canary', 'web #1 stable', 'web #2 canary']);
    const analysis = await get('/v1/services/shop/analysis');
    expect(analysis.status).toBe(200);
    const runs = analysis.body.runs as { name: string; phase: string }[];
    expect(runs.length).toBeGreaterThan(0);
    expect(runs.every((r) => /^(web|api)\//.test(r.name))).toBe(true);
    expect(runs.some((r) => r.phase === 'Successful')).toBe(true);
    const logs = await cli(['logs', 'shop']);
    expect(logs.code).toBe(0);
    const lines = logs.out.trim().split('\n');
    for (const line of ['web | hello from web v1', 'web | hello from web v2', 'api | hello from api v1', 'api | hello from api v2']) {
      expect(lines.some((l) => l.startsWith(line.split(' | ')[0]!) && l.endsWith(line.split(' | ')[1]!))).toBe(true);
    }
    expect(lines.every((l) => /^(web|api) \| \[/.test(l))).toBe(true);
  }, 60_000);

  it('the event stream carries the release view whenever a member\'s view changes', async () => {
    await shop();
    const seen: ServiceView[] = [];
    const unsubscribe = h!.controller.subscribe((c) => {
      if (c.view?.name === 'shop') seen.push(c.view);
    });
    try {
      await rollOut('v2');
      await until(() => seen.some((v) => v.step === 2 && v.phase === 'Paused'), 5_000, 'a release view at its gate on the stream');
    } finally {
      unsubscribe();
    }
    expect(seen.every((v) => v.kind === 'release')).toBe(true);
  }, 60_000);
});
