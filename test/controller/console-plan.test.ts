import { afterEach, describe, expect, it } from 'vitest';
import { appYaml, startHarness, until, type Harness } from '../fixtures/controller/local-harness.js';
import { ApiClient } from '../../src/api/client.js';
import { startApiServer, type ApiServer } from '../../src/api/server.js';

let h: Harness | undefined;
let api: ApiServer | undefined;
afterEach(async () => {
  await api?.close();
  await h?.stop();
  h = api = undefined;
});

const strategy = '      canary:\n        trafficRouting: {}\n        steps: [{setWeight: 20}, {pause: {}}, {setWeight: 60}, {pause: {duration: 30s}}]';

describe('the plan of a rollout on the single host (GET /v1/services/{name}/plan)', () => {
  it('answers the steps, where the rollout is on them and what is left, from the applied spec', async () => {
    h = await startHarness();
    await h.apply(appYaml({ version: 'v1', replicas: 1, strategy }));
    await until(() => h!.controller.get('app').phase === 'Healthy', 15_000, 'v1 healthy');
    api = await startApiServer({ backend: h.controller, token: 'plan-test-token' });
    const client = new ApiClient(api.url, 'plan-test-token');

    const idle = await client.plan('app');
    expect(idle.strategy).toBe('canary');
    expect(idle.rows.filter((r) => r.step !== null).map((r) => [r.step, r.canaryWeight])).toEqual([[1, 20], [2, 20], [3, 60], [4, 60]]);
    // The indefinite pause at step 2 waits for a person: the latest finish is unknown, the earliest is not.
    expect(idle.latestFinishMs).toBeNull();
    expect(idle.earliestFinishMs).toBeGreaterThanOrEqual(30_000);
    expect(idle.rows.map((r) => r.description)).toEqual(['set weight 20%', 'pause until promoted', 'set weight 60%', 'pause 30s', 'promote: new revision becomes stable']);
    // The daemon's guard judges this canary (as `graylane plan` counts it): a failure is rolled back by itself.
    expect(idle.worstCaseRollbackMs).toBe(12_000);
    expect(idle.rollbackNote).toContain('the guard aborts by itself');
    expect(idle.remaining).toBeUndefined();

    await h.apply(appYaml({ version: 'v2', replicas: 1, strategy }));
    await until(() => h!.controller.get('app').phase === 'Paused', 15_000, 'v2 paused at step 2');
    expect(h.controller.get('app').step).toBe(2);
    const paused = await client.plan('app');
    expect(paused.rows).toEqual(idle.rows);
    // From step 2 on: the person's pause, then the 30 s one.
    expect(paused.remaining).toEqual({ earliestMs: 30_000, latestMs: null });
  });

  it('is a 404 with the controller\'s sentence for a name it does not know', async () => {
    h = await startHarness();
    await h.apply(appYaml({ version: 'v1', replicas: 1, strategy }));
    api = await startApiServer({ backend: h.controller, token: 'plan-test-token' });
    await expect(new ApiClient(api.url, 'plan-test-token').plan('nope')).rejects.toMatchObject({ status: 404, code: 'NotFound', message: 'no service "nope"; services: app' });
  });
});
