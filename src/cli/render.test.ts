import { describe, expect, it } from 'vitest';
import type { ServiceView } from '../controller/view-model.js';
import { renderList, renderStatus } from './render.js';

const release: ServiceView = {
  name: 'shop', namespace: 'default', kind: 'release', phase: 'Paused', strategy: 'canary', step: 2, steps: 3, message: 'paused at step 2/3', done: false, terminal: false,
  revisions: [], analysis: [], aborted: false, pauseReasons: ['CanaryPauseStep'],
};

describe('status of a release', () => {
  it('shows the share of page loads and requests the canary really served beside the weight set', () => {
    const text = renderStatus({ ...release, releaseTraffic: { weight: 50, windowMs: 30_000, pageLoads: { stable: 310, canary: 290 }, requests: { stable: 930, canary: 870 } } });
    expect(text).toContain('canary served 48.3% of 600 page loads, 48.3% of 1800 requests in the last 30 s (weight 50%)');
  });

  it('says so when the router saw no page loads', () => {
    const text = renderStatus({ ...release, releaseTraffic: { weight: 20, windowMs: 30_000, pageLoads: { stable: 0, canary: 0 }, requests: { stable: 4, canary: 0 } } });
    expect(text).toContain('canary served no page loads, 0.0% of 4 requests in the last 30 s (weight 20%)');
  });

  it('shows the skew errors caught and, once promoted, until when old pages stay on stable (local time)', () => {
    const traffic = { weight: 100, windowMs: 30_000, pageLoads: { stable: 1, canary: 9 }, requests: { stable: 10, canary: 90 }, skewErrors: 3 };
    // 12:04:31 on this machine's clock, whatever its time zone.
    const endsAtMs = new Date(2030, 0, 5, 12, 4, 31, 700).getTime();
    const text = renderStatus({ ...release, phase: 'Completed', releaseTraffic: traffic, skewWindowEndsAtMs: endsAtMs });
    expect(text.split('\n')).toContain('  skew errors caught: 3 in the last 30 s; old pages stay on stable until 12:04:31');
    expect(renderStatus({ ...release, releaseTraffic: { ...traffic, skewErrors: 0 } }).split('\n')).toContain('  skew errors caught: 0 in the last 30 s');
    expect(renderStatus({ ...release, skewWindowEndsAtMs: new Date(2030, 0, 5, 9, 0, 5).getTime() })).toContain('  old pages stay on stable until 09:00:05');
    // Without the router's count (a cluster) and no window: no skew line at all.
    const { skewErrors: _none, ...clusterTraffic } = traffic;
    expect(renderStatus({ ...release, releaseTraffic: clusterTraffic })).not.toContain('skew');
  });
});

const rev = (name: string, number: number, weight: number, member?: string) => ({
  name, number, role: 'stable' as const, weight, ready: 1, total: 1, requestsPerSecond: 0, errorRate: 0, p99Ms: null, fallbacks: 0, unreadyServed: 0, instances: [], ...(member ? { member } : {}),
});

describe('get and status words', () => {
  it('names the member of each release revision in get', () => {
    const text = renderList([{ ...release, revisions: [rev('web r2', 2, 100, 'web'), rev('api r2', 2, 100, 'api'), rev('api r3', 3, 0, 'api')] }]);
    expect(text).toContain('web#2:100% api#2:100% api#3:0%');
  });

  it('shows no step between rollouts, not "step 0/4"', () => {
    const done: ServiceView = { ...release, kind: 'service', name: 'hello', phase: 'Completed', step: 0, steps: 4, message: 'revision b is stable' };
    expect(renderStatus(done).split('\n')[0]).toBe('hello (canary)  Completed');
    expect(renderList([done])).toMatch(/hello\s+canary\s+Completed\s+-\s/);
  });

  it('says what a revision with no ready instance did with its requests: sent to the other side, or served by its unready instances', () => {
    const v: ServiceView = { ...release, revisions: [rev('api r2', 2, 100, 'api'), { ...rev('api r3', 3, 0, 'api'), ready: 0, fallbacks: 4, unreadyServed: 20 }] };
    const lines = renderStatus(v).split('\n');
    expect(lines).toContain('  #3 api r3 has no ready instance: 4 of its requests went to the other side and its unready instances served 20 requests of pages pinned to it in the last 10 s');
    const served = renderStatus({ ...v, revisions: [{ ...rev('api r3', 3, 0, 'api'), ready: 0, unreadyServed: 20 }] });
    expect(served.split('\n')).toContain('  #3 api r3 has no ready instance: its unready instances served 20 requests of pages pinned to it in the last 10 s');
    expect(renderStatus({ ...release, revisions: [rev('api r2', 2, 100, 'api')] })).not.toContain('no ready instance');
  });

  it('shows the header and mirror routes in force', () => {
    const v: ServiceView = { ...release, routes: [{ kind: 'header', name: 'beta', description: 'header route beta: header x-beta=1 → canary' }, { kind: 'mirror', name: 'shadow', description: 'mirror route shadow: 20% of matching requests copied to canary' }] };
    expect(renderStatus(v)).toContain('  route in force: header route beta: header x-beta=1 → canary\n  route in force: mirror route shadow');
    expect(renderList([v])).toContain('header beta, mirror shadow');
  });
});
