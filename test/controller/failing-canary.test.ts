/**
 * Failing canaries explain themselves, with real child processes: a canary that crashes soon after
 * start fails its rollout at once and stops; one whose readiness never passes shows its last
 * probe result in `status` and an event, repeated at most once a minute.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { renderStatus } from '../../src/cli/render.js';
import { PROBE_FAILING_EVENT_INTERVAL_MS } from '../../src/controller/local/local-controller.js';
import { appYaml, startHarness, until, type Harness } from '../fixtures/controller/local-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const strategy = '      canary:\n        trafficRouting: {}\n        steps: [{setWeight: 50}, {pause: {}}]';

async function v1Healthy(): Promise<Harness> {
  h = await startHarness({ restartBackoffMs: 50 });
  await h.apply(appYaml({ version: 'v1', replicas: 1, strategy }));
  await until(() => h!.controller.get('app').phase === 'Healthy', 15_000, 'v1 healthy');
  return h;
}

const events = (reason: string) => h!.controller.events({ service: 'app' }).filter((e) => e.reason === reason).map((e) => e.message);
const canaryRow = () => h!.controller.get('app').revisions.find((r) => r.role === 'canary');

describe('a failing canary explains itself', () => {
  it('crashes 50 ms after start: aborted with the crash as the reason after 3 restarts, and its instances stop', async () => {
    const harness = await v1Healthy();
    await harness.apply(appYaml({ version: 'v2', replicas: 1, strategy, env: { CRASH_AFTER_MS: '50' } }));
    await until(() => harness.controller.get('app').phase === 'Degraded', 20_000, 'v2 degraded');
    const view = harness.controller.get('app');
    expect(view.aborted).toBe(true);
    expect(view.message).toMatch(/^revision \S+ crash-loops: an instance restarted 3 times without becoming ready; last: process exited with code 3 before becoming ready/);
    expect(events('CrashLoopBackOff')).toHaveLength(1);
    expect(events('InstanceFailed').length).toBeGreaterThanOrEqual(3);
    // No crash-looping after Degraded: the canary's instance is stopped and stays so.
    await until(() => canaryRow()?.instances.length === 0, 10_000, 'the canary instance stopped');
    const failedBefore = events('InstanceFailed').length;
    await new Promise((r) => setTimeout(r, 500));
    expect(canaryRow()?.instances).toEqual([]);
    expect(events('InstanceFailed')).toHaveLength(failedBefore);
    expect(harness.controller.get('app').revisions.find((r) => r.role === 'stable')?.weight).toBe(100);
  }, 40_000);

  it('readiness answers 503: status shows the last probe result; an event says so, at most once a minute', async () => {
    const harness = await v1Healthy();
    await harness.apply(appYaml({ version: 'v2', replicas: 1, strategy, env: { NEVER_READY: '1' } }));
    await until(() => canaryRow()?.instances[0]?.state === 'unready', 15_000, 'the canary instance unready');
    const instance = canaryRow()!.instances[0]!;
    expect(instance).toMatchObject({ restarts: 0, lastProbe: { outcome: 'fail', detail: 'GET /healthz returned HTTP 503' } });
    const view = harness.controller.get('app');
    expect(view.phase).toBe('Progressing');
    expect(renderStatus(view)).toContain(`${instance.id} unready, 0 restarts, last probe: fail (GET /healthz returned HTTP 503)`);
    await until(() => events('ReadinessProbeFailing').length === 1, 5_000, 'the probe event');
    expect(events('ReadinessProbeFailing')[0]).toBe(`${instance.id} (revision ${canaryRow()!.name}) is not ready: readiness probe failed: GET /healthz returned HTTP 503`);
    // Still failing, but within the interval: no new event however many passes run.
    harness.clock.now += PROBE_FAILING_EVENT_INTERVAL_MS - 1_000;
    await new Promise((r) => setTimeout(r, 300));
    expect(events('ReadinessProbeFailing')).toHaveLength(1);
    harness.clock.now += 2_000;
    await until(() => events('ReadinessProbeFailing').length === 2, 5_000, 'the probe event repeated after a minute');
  }, 40_000);
});
