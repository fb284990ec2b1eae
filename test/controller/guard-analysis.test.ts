/**
 * `graylane analysis SERVICE` right after the guard aborted a canary lists the guard's verdict:
 * its phase, the figures it judged and the reason, through the API and the CLI.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { appYaml, startHarness, until, type Harness } from '../fixtures/controller/local-harness.js';
import { startApiServer, type ApiServer } from '../../src/api/server.js';
import { loadOrCreateToken, writeDaemonInfo } from '../../src/api/state-dir.js';
import { main } from '../../src/cli/main.js';
import type { AnalysisRunView } from '../../src/controller/view-model.js';

let h: Harness | undefined;
let api: ApiServer | undefined;
afterEach(async () => {
  await api?.close();
  await h?.stop();
  h = api = undefined;
});

const strategy = '      canary:\n        trafficRouting: {}\n        steps: [{setWeight: 50}, {pause: {}}]';

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main([...args, '--state-dir', h!.stateDir], { out: (s) => void (out += `${s}\n`), err: () => undefined, isTty: false, env: {}, cwd: h!.dir });
  return { code, out };
}

describe('graylane analysis after a guard abort', () => {
  it('lists the guard entry: Failed, the requests and error rates it judged, and why', async () => {
    h = await startHarness();
    await h.apply(appYaml({ version: 'v1', replicas: 1, strategy }));
    await until(() => h!.controller.get('app').phase === 'Healthy', 15_000, 'v1 healthy');
    await h.apply(appYaml({ version: 'v2', replicas: 1, strategy, env: { FAIL_RATE: '1' } }));
    await until(() => h!.controller.get('app').phase === 'Paused', 15_000, 'v2 paused at 50%');
    api = await startApiServer({ backend: h.controller, token: loadOrCreateToken(h.stateDir) });
    writeDaemonInfo(h.stateDir, { apiUrl: api.url, routerUrl: h.routerUrl, adminUrl: undefined, pid: process.pid, appFile: h.appFile, startedAtMs: Date.now() });

    // Bounded load on loopback until the guard aborts: fresh clients land on either side.
    for (let i = 0; i < 2_000 && !h.controller.get('app').aborted; i++) {
      await Promise.all(Array.from({ length: 5 }, () => fetch(`${h!.routerUrl}/`).then((r) => r.text())));
    }
    await until(() => h!.controller.get('app').aborted, 10_000, 'guard abort');

    const json = await cli(['analysis', 'app', '--json']);
    expect(json.code).toBe(0);
    const runs = (JSON.parse(json.out) as { runs: AnalysisRunView[] }).runs;
    const guard = runs.find((r) => r.kind === 'guard');
    expect(guard).toMatchObject({ phase: 'Failed', guard: { canaryRevision: expect.any(String) as string, failedOn: 'errors' } });
    expect(guard!.message).toMatch(/^canary error rate \d+\.\d% vs stable 0\.00%: at least/);
    expect(guard!.guard!.canary.requests).toBeGreaterThan(0);
    expect(guard!.guard!.canary.errorRate).toBeGreaterThan(0.5);
    expect(guard!.guard!.stable).toMatchObject({ errors: 0, errorRate: 0 });
    expect(guard!.guard!.stable.requests).toBeGreaterThan(0);

    const text = await cli(['analysis', 'app']);
    expect(text.out).not.toMatch(/no analysis runs/);
    expect(text.out).toMatch(/^guard {2}Failed {2}started .* {2}canary error rate \d+\.\d% vs stable/m);
    expect(text.out).toMatch(/^ {2}errors \(failed\) {2}canary [0-9a-f]+: \d+ requests, \d+ failed \(\d+\.\d%\); stable: \d+ requests, 0 failed \(0\.0%\)$/m);

    // Kept with the runs, so a restarted daemon still shows it.
    expect(h.store.listAnalysisRuns('app').map((r) => [r.id, r.phase])).toContainEqual([guard!.id, 'Failed']);
  }, 60_000);
});
