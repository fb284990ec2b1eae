/**
 * The fake traffic provider the controller's fixture tests use passes the same conformance suite
 * as the real ones: with every capability, and with only a weight (refusing the rest).
 */
import { describe, expect, it } from 'vitest';
import { describeTrafficProviderConformance, type TrafficConformanceSetup } from '../../src/traffic/traffic-provider.case.test.js';
import { FakeTrafficProvider, type FakeTrafficProviderOptions } from '../fixtures/traffic/fake-traffic-provider.js';

const PREVIEW = 'x-preview';

function setup(options: FakeTrafficProviderOptions): () => Promise<TrafficConformanceSetup> {
  return () => {
    const provider = new FakeTrafficProvider(options);
    const received: Record<string, number> = {};
    return Promise.resolve({
      provider,
      endpoints: [
        { id: 'shop-v1-1', revision: 'v1', address: '127.0.0.1:1', ready: true, draining: false },
        { id: 'shop-v2-1', revision: 'v2', address: '127.0.0.1:2', ready: true, draining: false },
      ],
      previewHeaders: { [PREVIEW]: '1' },
      send({ count, headers = {} }) {
        const counts: Record<string, number> = {};
        for (let i = 0; i < count; i++) {
          const who = provider.route({ service: 'shop' }, { headers, draw: (i + 0.5) / count, previewHeader: PREVIEW }) ?? 'none';
          counts[who] = (counts[who] ?? 0) + 1;
          received[who] = (received[who] ?? 0) + 1;
          const mirror = provider.decision({ service: 'shop' })?.traffic;
          if (who !== 'none' && mirror?.canaryRevision && mirror.mirrorRoutes.length > 0) received[mirror.canaryRevision] = (received[mirror.canaryRevision] ?? 0) + 1;
        }
        return Promise.resolve(counts);
      },
      received: (revision) => Promise.resolve(received[revision] ?? 0),
      teardown: () => Promise.resolve(),
    });
  };
}

describeTrafficProviderConformance('fake, every capability', setup({}));
describeTrafficProviderConformance('fake, weight only', setup({ type: 'weights', capabilities: ['weight'] }));

describe('the fake traffic provider', () => {
  const decision = { namespace: 'default', service: 'shop', traffic: { stableRevision: 'v1', canaryRevision: 'v2', canaryWeight: 20, headerRoutes: [], mirrorRoutes: [] }, endpoints: [] };

  it('records decisions and removals as action objects', async () => {
    const fake = new FakeTrafficProvider();
    await fake.apply(decision);
    await fake.removeManagedRoutes({ namespace: 'default', service: 'shop' });
    await fake.applyReleases!([]);
    expect(fake.actions).toEqual([
      { type: 'apply', namespace: 'default', service: 'shop', traffic: decision.traffic },
      { type: 'removeManagedRoutes', namespace: 'default', service: 'shop' },
      { type: 'applyReleases', releases: [] },
    ]);
  });

  it("answers 'pending' for the decision in force when told to, until told otherwise", async () => {
    const fake = new FakeTrafficProvider({ verification: 'pending' });
    await fake.apply(decision);
    expect(await fake.verify(decision)).toBe('pending');
    fake.verification = 'verified';
    expect(await fake.verify(decision)).toBe('verified');
  });

  it('fails the next apply when told to, then applies again', async () => {
    const fake = new FakeTrafficProvider({ failNextApply: new Error('data plane down') });
    await expect(fake.apply(decision)).rejects.toThrow('data plane down');
    expect(fake.decision({ service: 'shop' })).toBeUndefined();
    await fake.apply(decision);
    expect(fake.decision({ service: 'shop' })?.traffic).toEqual(decision.traffic);
  });

  it('keeps every apply with its endpoints and every decision asked about, and runs onApply before an apply lands', async () => {
    const fake = new FakeTrafficProvider();
    const endpoints = [{ id: 'shop-v1-1', revision: 'v1', address: '127.0.0.1:1', ready: true, draining: false }];
    const inForceAtHook: unknown[] = [];
    fake.onApply = () => Promise.resolve(void inForceAtHook.push(fake.decision({ service: 'shop' })?.traffic));
    await fake.apply({ ...decision, endpoints });
    await fake.verify(decision);
    expect(inForceAtHook).toEqual([undefined]);
    expect(fake.applied).toEqual([{ service: 'shop', traffic: decision.traffic, endpoints }]);
    expect(fake.verified).toEqual([decision]);
  });

  it('refuses a decision needing a capability it was not given, before any hook, recording nothing', async () => {
    const fake = new FakeTrafficProvider({ capabilities: ['weight'] });
    fake.onApply = () => Promise.reject(new Error('must not run'));
    const withHeader = { ...decision, traffic: { ...decision.traffic, headerRoutes: [{ name: 'testers', match: [{ headerName: 'x-tester', headerValue: { exact: '1' } }] }] } };
    await expect(fake.apply(withHeader)).rejects.toMatchObject({ code: 'UnsupportedTrafficCapability' });
    expect([fake.actions, fake.applied]).toEqual([[], []]);
  });
});
