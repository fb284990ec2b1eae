import { describe, expect, it } from 'vitest';
import type { InstanceView, RevisionLiveView, ServiceView } from '../controller/view-model.js';
import { readinessOf, ReadinessReport } from './readiness-report.js';

const instance = (state: string, extra: Partial<InstanceView> = {}): InstanceView => ({ id: `i-${state}`, state, restarts: 0, ...extra });
const revision = (weight: number, instances: InstanceView[]): RevisionLiveView => ({
  name: 'abc', number: 1, role: weight > 0 ? 'stable' : 'canary', weight, ready: instances.filter((i) => i.state === 'ready').length, total: instances.length,
  requestsPerSecond: 0, errorRate: 0, p99Ms: null, fallbacks: 0, unreadyServed: 0, instances,
});
const service = (revisions: RevisionLiveView[], kind: ServiceView['kind'] = 'service'): ServiceView => ({
  name: 'hello', namespace: 'default', kind, phase: 'Healthy', strategy: 'canary', step: 0, steps: 0, message: '', done: true, terminal: false,
  revisions, analysis: [], aborted: false, pauseReasons: [],
});

describe('readiness of a service, as up tells it', () => {
  it.each([
    ['every instance routed to is ready', [revision(100, [instance('ready'), instance('ready')])], { ready: true, instances: 2 }],
    ['a canary at weight 0 still starting does not count', [revision(100, [instance('ready')]), revision(0, [instance('starting')])], { ready: true, instances: 1 }],
    ['one starting: waiting, nothing said yet', [revision(100, [instance('ready'), instance('starting')])], { ready: false, readyCount: 1, total: 2, reason: undefined }],
    ['a failing probe says why', [revision(100, [instance('unready', { lastProbe: { outcome: 'fail', detail: 'GET /healthz: connection refused', atMs: 1 } })])], { ready: false, readyCount: 0, total: 1, reason: 'GET /healthz: connection refused' }],
    ['a crash says its first line', [revision(100, [instance('failed', { lastError: 'exited with code 1\nError: boom' })])], { ready: false, readyCount: 0, total: 1, reason: 'exited with code 1' }],
    ['no revision yet: nothing to tell', [], undefined],
    ['ready, but the route not yet in force', [revision(100, [instance('ready')])], { ready: false, readyCount: 1, total: 1, reason: undefined }, 'waiting for the router to put the route in force'],
  ] as const)('%s', (_name, revisions, expected, message: string = '') => {
    expect(readinessOf({ ...service([...revisions]), message })).toEqual(expected);
  });

  it('a release is told by its member services', () => {
    expect(readinessOf(service([revision(100, [instance('ready')])], 'release'))).toBeUndefined();
  });

  it('prints ready once per service, and waiting once after the delay, with the reason', () => {
    const lines: string[] = [];
    const report = new ReadinessReport({ print: (l) => lines.push(l), startedAtMs: 1_000, waitingAfterMs: 20_000 });
    const starting = service([revision(100, [instance('unready', { lastProbe: { outcome: 'fail', detail: 'status 500', atMs: 1 } })])]);
    report.see(starting, 5_000);
    expect(lines).toEqual([]);
    report.see(starting, 21_000);
    report.see(starting, 22_000);
    expect(lines).toEqual(['  waiting  hello: 0/1 ready 20.0 s after the start: status 500 (graylane status hello)']);
    const ready = service([revision(100, [instance('ready')])]);
    report.see(ready, 23_500);
    report.see(ready, 24_000);
    expect(lines.slice(1)).toEqual(['  ready    hello: 1/1 instance serving, 22.5 s after the start']);
  });
});
