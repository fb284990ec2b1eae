/**
 * The controller reports what the router saw the canary serve, so a pause that ends over no
 * canary requests says so, and `guard.minCanaryRequests` holds a timed pause until they come.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { appYaml, startHarness, until, type Harness } from '../fixtures/controller/local-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const strategy = (guard = '') => `      canary:\n        trafficRouting: {}\n${guard ? `        guard: ${guard}\n` : ''}        steps: [{setWeight: 50}, {pause: {duration: 2s}}]`;

async function canaryPausedAt50(guard?: string): Promise<Harness> {
  h = await startHarness();
  await h.apply(appYaml({ version: 'v1', replicas: 1, strategy: strategy(guard) }));
  await until(() => h!.controller.get('app').phase === 'Healthy', 15_000, 'v1 healthy');
  await h.apply(appYaml({ version: 'v2', replicas: 1, strategy: strategy(guard) }));
  await until(() => h!.controller.get('app').phase === 'Paused', 15_000, 'v2 paused at 50%');
  return h;
}

const events = (reason: string) => h!.controller.events({ service: 'app' }).filter((e) => e.reason === reason).map((e) => e.message);

describe('evidence behind the built-in router', () => {
  it('a pause that ends with no canary requests: the event and status say "promoted without evidence"', async () => {
    const harness = await canaryPausedAt50();
    harness.clock.now += 3_000;
    await until(() => events('RolloutCompleted').length > 0, 15_000, 'v2 promoted');
    expect(events('PromotedWithoutEvidence')).toEqual(['Step 2/2 (pause 2s) ended: promoted without evidence: the canary served 0 requests during it']);
    expect(harness.controller.get('app').message).toMatch(/promoted without evidence: the canary served 0 requests at step 2\/2/);
  }, 40_000);

  it('guard.minCanaryRequests holds the pause until the canary served that many, then moves on without a warning', async () => {
    const harness = await canaryPausedAt50('{minCanaryRequests: 5}');
    harness.clock.now += 3_000;
    await until(() => /waiting for evidence: the canary served 0 of 5 requests/.test(harness.controller.get('app').message), 15_000, 'waiting for evidence');
    expect(harness.controller.get('app').phase).toBe('Progressing');
    // Fresh clients (no cookie) land on either side at 50%; 80 requests give the canary 5 with near certainty.
    for (let i = 0; i < 80 && events('RolloutCompleted').length === 0; i++) await fetch(`${harness.routerUrl}/`).then((r) => r.text());
    await until(() => events('RolloutCompleted').length > 0, 15_000, 'v2 promoted');
    expect(events('PromotedWithoutEvidence')).toEqual([]);
  }, 40_000);
});
