import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, appYaml, until, type Harness } from '../fixtures/controller/local-harness.js';
import { startApiServer } from '../../src/api/server.js';
import { loadOrCreateToken, writeDaemonInfo } from '../../src/api/state-dir.js';
import { main } from '../../src/cli/main.js';
import { StoreError } from '../../src/state/store.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

async function healthy(harness: Harness): Promise<void> {
  await until(() => {
    const v = harness.controller.get('app');
    return v.phase === 'Healthy' && v.revisions[0]?.ready === 2;
  }, 15_000, 'app healthy');
}

/** Waits for `passes` more reconcile passes (each lists the services once). */
async function passes(harness: Harness, passes: number): Promise<void> {
  const start = harness.store.calls.get('listServices') ?? 0;
  await until(() => (harness.store.calls.get('listServices') ?? 0) - start >= passes, 10_000, `${passes} reconcile passes`);
}

async function getAll(url: string, n: number): Promise<number[]> {
  const codes: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(url);
    await res.arrayBuffer();
    codes.push(res.status);
  }
  return codes;
}

describe('the daemon and its state store', () => {
  it('an idle controller writes nothing over many reconcile passes, however much time passes', async () => {
    h = await startHarness();
    await h.apply(appYaml({ version: 'v1' }));
    await healthy(h);
    await passes(h, 5);
    const before = h.store.writes;
    for (let i = 0; i < 10; i++) {
      h.clock.now += 3_500;
      await passes(h, 5);
    }
    expect(h.store.writes - before).toBe(0);
  });

  it('a full disk: traffic keeps flowing, status says the state directory is full, writes back off, and the daemon recovers', async () => {
    h = await startHarness();
    await h.apply(appYaml({ version: 'v1' }));
    await healthy(h);
    const token = loadOrCreateToken(h.stateDir);
    const api = await startApiServer({ backend: h.controller, token });
    writeDaemonInfo(h.stateDir, { apiUrl: api.url, routerUrl: h.routerUrl, adminUrl: undefined, pid: process.pid, appFile: h.appFile, startedAtMs: Date.now() });
    try {
      h.store.failWrites = true;
      // Something that must be recorded: a new revision. Nothing of it is applied.
      const applied = await fetch(`${api.url}/v1/apply`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ text: appYaml({ version: 'v2' }), file: h.appFile }) });
      expect(applied.status).toBe(503);
      expect(((await applied.json()) as { error: { message: string } }).error.message).toMatch(/^the state directory is full/);
      // An instance dies: the runtime replaces it, the records of it cannot be written.
      const pid = (await (await fetch(`${h.routerUrl}/`)).json() as { pid: number }).pid;
      process.kill(pid, 'SIGKILL');
      expect(h.controller.get('app').stateWrites?.reason).toBe('StateDirFull');
      const codes = await getAll(`${h.routerUrl}/`, 50);
      expect(codes.filter((c) => c !== 200)).toEqual([]);

      // Many passes without moving the clock: retries wait for their back-off.
      const attempts = h.store.writes;
      await passes(h, 40);
      expect(h.store.writes - attempts).toBeLessThanOrEqual(3);

      const out: string[] = [];
      const code = await main(['status', 'app', '--state-dir', h.stateDir], { out: (s) => void out.push(s), err: (s) => void out.push(s), isTty: false, env: {}, cwd: h.dir });
      expect(out.join('')).toContain('warning: the state directory is full');
      expect(code).toBe(1);

      // Space again: the next retry after the back-off records the outage and what waited.
      h.store.failWrites = false;
      h.clock.now += 60_000;
      await until(() => h!.controller.get('app').stateWrites === undefined, 10_000, 'recovery');
      const events = h.controller.events({ service: 'daemon' });
      expect(events.some((e) => e.level === 'error' && e.reason === 'StateDirFull' && /state directory is full/.test(e.message))).toBe(true);
      await until(() => h!.controller.get('app').revisions[0]?.ready === 2, 15_000, 'instance replaced');
      await passes(h, 5);
      const live = h.store.listInstances().map((i) => i.id).sort();
      expect(live).toHaveLength(2);
      expect(await getAll(`${h.routerUrl}/`, 10)).toEqual(Array(10).fill(200));
      expect(h.controller.get('app').revisions.map((r) => r.number)).toEqual([1]);
    } finally {
      await api.close();
    }
  });

  it('a write error that is not a full disk is reported with its own sentence', async () => {
    h = await startHarness();
    await h.apply(appYaml({ version: 'v1' }));
    await healthy(h);
    h.store.failure = Object.assign(new Error('input/output error'), { code: 'EIO' });
    h.store.failWrites = true;
    await expect(h.apply(appYaml({ version: 'v2' }))).rejects.toSatisfy((e: unknown) => e instanceof StoreError && e.code === 'StateWriteFailed' && /cannot write to its state directory .*EIO: input\/output error/.test(e.message));
    expect(h.controller.get('app').stateWrites).toMatchObject({ reason: 'StateWriteFailed', message: expect.stringMatching(/^graylane cannot write to its state directory/) as unknown });
  });

  it('a full disk does not keep a failing canary in traffic: the guard abort takes effect at once and is committed once writes work', async () => {
    h = await startHarness();
    const strategy = '      canary:\n        steps: [{setWeight: 50}, {pause: {}}]';
    await h.apply(appYaml({ version: 'v1', strategy }));
    await healthy(h);
    await h.apply(appYaml({ version: 'v2', strategy, env: { FAIL_RATE: '1' } }));
    await until(() => h!.controller.get('app').phase === 'Paused', 15_000, 'canary at 50%');
    // The canary is routed, then the disk fills; its failures reach the guard through traffic.
    h.store.failWrites = true;
    const v = h.controller.get('app');
    expect(v.revisions.find((r) => r.role === 'canary')?.weight).toBe(50);
    let inARow = 0;
    await until(async () => {
      const res = await fetch(`${h!.routerUrl}/`);
      const body = await res.text();
      inARow = res.status === 200 && body.includes('"v1"') ? inARow + 1 : 0;
      return inARow >= 30;
    }, 20_000, '30 requests in a row served by stable');
    expect(h.controller.get('app').aborted).toBe(false);

    h.store.failWrites = false;
    h.clock.now += 60_000;
    await until(() => h!.controller.get('app').phase === 'Degraded', 10_000, 'abort committed');
    expect(h.controller.get('app').aborted).toBe(true);
    expect(await getAll(`${h.routerUrl}/`, 10)).toEqual(Array(10).fill(200));
    expect(h.controller.events({ service: 'app' }).some((e) => e.reason === 'GuardFailed')).toBe(true);
  });
});
