import { afterEach, describe, expect, it } from 'vitest';
import { appYaml, startHarness, until, type Harness } from '../fixtures/controller/local-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe('event log retention', () => {
  it('the daemon trims the event log in the background to the newest N per service, and past the age limit', async () => {
    h = await startHarness({ eventRetention: { keepPerService: 5, maxAgeMs: 3_600_000, trimIntervalMs: 50 } });
    await h.apply(appYaml({ version: 'v1' }));
    const old = h.clock.now - 7_200_000;
    h.store.appendEvents('other', [{ atMs: old, level: 'info', reason: 'Old', message: 'two hours ago' }]);
    h.store.appendEvents('app', Array.from({ length: 40 }, (_, i) => ({ atMs: h!.clock.now, level: 'info' as const, reason: 'Burst', message: `event ${i}` })));
    await until(() => h!.controller.events({ service: 'app' }).length <= 5, 5_000, 'trim');
    const kept = h.controller.events({ service: 'app' });
    expect(kept.at(-1)?.message).toBe('event 39');
    expect(h.controller.events({ service: 'other' })).toEqual([]);
  });
});
