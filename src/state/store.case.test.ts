/** The conformance suite every store adapter runs. */
import { describe, expect, it } from 'vitest';
import type { AnalysisTemplate, App } from '../documents/schema.js';
import { fullRelease, fullStatus, fullTraffic } from './state-port.case.test.js';
import { StateConflictError } from './state-port.js';
import type { Store } from './store.js';

const APP: App = { apiVersion: 'graylane.dev/v1alpha1', kind: 'App', metadata: { name: 'shop' }, spec: { services: [] } };
const TEMPLATES = [{ apiVersion: 'graylane.dev/v1alpha1', kind: 'AnalysisTemplate', metadata: { name: 'errors' }, spec: { metrics: [] } }] as unknown as AnalysisTemplate[];

export function storeConformance(name: string, open: () => { store: Store; reopen?: () => Store }): void {
  describe(`store conformance: ${name}`, () => {
    it('numbers revisions in order of first appearance and keeps a known one', () => {
      const { store } = open();
      const a = store.addRevision({ service: 'api', name: 'aaa', template: { v: 1 }, createdAtMs: 1 });
      const b = store.addRevision({ service: 'api', name: 'bbb', template: { v: 2 }, createdAtMs: 2 });
      const again = store.addRevision({ service: 'api', name: 'aaa', template: { v: 1 }, createdAtMs: 3 });
      const other = store.addRevision({ service: 'web', name: 'ccc', template: {}, createdAtMs: 3 });
      expect([a.number, b.number, again.number, other.number]).toEqual([1, 2, 1, 1]);
      expect(store.listRevisions('api').map((r) => r.name)).toEqual(['aaa', 'bbb']);
      store.deleteRevision('api', 'aaa');
      expect(store.listRevisions('api').map((r) => r.name)).toEqual(['bbb']);
    });

    it('commits status and events together, and events stream by id', () => {
      const { store } = open();
      const ids = store.commit({ service: 'api', status: fullStatus({ phase: 'Progressing', currentStepIndex: 1 }), events: [
        { atMs: 10, level: 'info', reason: 'StepCompleted', message: 'step 1 done' },
        { atMs: 11, level: 'warning', reason: 'Slow', message: 'slow' },
      ] });
      expect(ids).toHaveLength(2);
      expect(store.getStatus('api')).toEqual(fullStatus({ phase: 'Progressing', currentStepIndex: 1 }));
      store.appendEvents('web', [{ atMs: 12, level: 'info', reason: 'Applied', message: 'x' }]);
      expect(store.listEvents({ service: 'api' }).map((e) => e.reason)).toEqual(['StepCompleted', 'Slow']);
      expect(store.listEvents({ afterId: ids[0] }).map((e) => e.reason)).toEqual(['Slow', 'Applied']);
      expect(store.listEvents({ limit: 1 }).map((e) => e.reason)).toEqual(['Applied']);
    });

    it('trims events to the newest N per service and drops those past the age limit', () => {
      const { store } = open();
      const ev = (atMs: number) => ({ atMs, level: 'info' as const, reason: 'R', message: `at ${atMs}` });
      store.appendEvents('api', [1, 2, 3, 4, 5].map((t) => ev(1000 + t)));
      store.appendEvents('web', [ev(10), ev(1001)]);
      const removed = store.trimEvents({ keepPerService: 3, maxAgeMs: 1000, nowMs: 2000 });
      expect(removed).toBe(3);
      expect(store.listEvents({ service: 'api' }).map((e) => e.atMs)).toEqual([1003, 1004, 1005]);
      expect(store.listEvents({ service: 'web' }).map((e) => e.atMs)).toEqual([1001]);
      expect(store.trimEvents({ keepPerService: 3, maxAgeMs: 1000, nowMs: 2000 })).toBe(0);
    });

    it('a transaction that throws leaves nothing behind', () => {
      const { store } = open();
      store.commit({ service: 'api', status: fullStatus({ phase: 'Healthy' }) });
      expect(() => store.transaction(() => {
        store.commit({ service: 'api', status: fullStatus({ phase: 'Degraded' }), events: [{ atMs: 1, level: 'error', reason: 'X', message: 'x' }] });
        throw new Error('boom');
      })).toThrow('boom');
      expect(store.getStatus('api')).toEqual(fullStatus({ phase: 'Healthy' }));
      expect(store.listEvents()).toEqual([]);
    });

    it('keeps services, instances, analysis runs and settings; delete removes a service wholly', () => {
      const { store } = open();
      store.putService({ name: 'api', spec: { replicas: 2 }, baseDir: '/app', desiredRevision: 'aaa', appliedAtMs: 5 });
      store.putService({ name: 'api', spec: { replicas: 3 }, baseDir: '/app', desiredRevision: 'bbb', appliedAtMs: 6 });
      expect(store.getService('api')).toEqual({ name: 'api', spec: { replicas: 3 }, baseDir: '/app', desiredRevision: 'bbb', appliedAtMs: 6 });
      store.putInstance({ id: 'api-1', service: 'api', revision: 'bbb', record: { pid: 42, port: 4000 } });
      store.putInstance({ id: 'api-1', service: 'api', revision: 'bbb', record: { pid: 43, port: 4000 } });
      expect(store.listInstances('api')).toEqual([{ id: 'api-1', service: 'api', revision: 'bbb', record: { pid: 43, port: 4000 } }]);
      store.putAnalysisRun({ id: 'r1', service: 'api', name: 'step-2', phase: 'Running', run: { m: [] }, startedAtMs: 1, updatedAtMs: 1 });
      store.putAnalysisRun({ id: 'r1', service: 'api', name: 'step-2', phase: 'Successful', run: { m: [1] }, startedAtMs: 1, updatedAtMs: 2 });
      expect(store.listAnalysisRuns('api')).toMatchObject([{ id: 'r1', phase: 'Successful', run: { m: [1] } }]);
      store.setSetting('listen', '127.0.0.1:8080');
      expect(store.getSetting('listen')).toBe('127.0.0.1:8080');
      store.addRevision({ service: 'api', name: 'bbb', template: {}, createdAtMs: 1 });
      store.commit({ service: 'api', status: fullStatus(), traffic: fullTraffic() });
      store.deleteService('api');
      expect([store.getService('api'), store.getStatus('api'), store.getTraffic('api')]).toEqual([undefined, undefined, undefined]);
      expect([store.listRevisions('api'), store.listInstances('api'), store.listAnalysisRuns('api')]).toEqual([[], [], []]);
    });

    it('traffic comes back as committed, and a commit without traffic keeps the one in force', () => {
      const { store } = open();
      expect(store.getTraffic('api')).toBeUndefined();
      store.commit({ service: 'api', status: fullStatus(), traffic: fullTraffic() });
      store.commit({ service: 'api', status: fullStatus({ phase: 'Progressing' }) });
      expect([store.getStatus('api'), store.getTraffic('api'), store.getStatusVersion('api')]).toEqual([fullStatus({ phase: 'Progressing' }), fullTraffic(), 2]);
      store.commit({ service: 'api', status: fullStatus(), traffic: fullTraffic({ canaryWeight: 0, canaryRevision: undefined }) });
      expect(store.getTraffic('api')).toEqual(fullTraffic({ canaryWeight: 0, canaryRevision: undefined }));
    });

    it('a commit decided on a stale version throws StateConflictError and writes nothing', () => {
      const { store } = open();
      store.commit({ service: 'api', status: fullStatus(), traffic: fullTraffic(), events: [{ atMs: 1, level: 'info', reason: 'First', message: 'x' }] });
      store.commit({ service: 'api', status: fullStatus({ currentStepIndex: 3 }), expectedVersion: 1 });
      const stale = () => store.commit({ service: 'api', status: fullStatus({ phase: 'Degraded' }), traffic: fullTraffic({ canaryWeight: 0 }), events: [{ atMs: 2, level: 'error', reason: 'Lost', message: 'y' }], expectedVersion: 1 });
      expect(stale).toThrow(StateConflictError);
      expect(stale).toThrow('default/api changed meanwhile (version 1 expected, 2 found)');
      expect([store.getStatus('api'), store.getTraffic('api'), store.getStatusVersion('api')]).toEqual([fullStatus({ currentStepIndex: 3 }), fullTraffic(), 2]);
      expect(store.listEvents({ service: 'api' }).map((e) => e.reason)).toEqual(['First']);
      expect(() => store.commit({ service: 'web', status: fullStatus(), expectedVersion: 1 })).toThrow('default/web changed meanwhile (version 1 expected, 0 found)');
      expect(store.getStatus('web')).toBeUndefined();
    });

    it('events committed with a status are found by the version they came with', () => {
      const { store } = open();
      store.commit({ service: 'api', status: fullStatus(), events: [{ atMs: 1, level: 'info', reason: 'One', message: '1' }] });
      store.appendEvents('api', [{ atMs: 2, level: 'info', reason: 'Outside', message: 'not a commit' }]);
      store.commit({ service: 'api', status: fullStatus(), events: [{ atMs: 3, level: 'info', reason: 'Two', message: '2' }] });
      expect(store.eventsSinceVersion('api', 0).map((e) => e.reason)).toEqual(['One', 'Two']);
      expect(store.eventsSinceVersion('api', 1).map((e) => e.reason)).toEqual(['Two']);
      expect(store.eventsSinceVersion('api', 2)).toEqual([]);
    });

    it('keeps release states and the applied App in records of their own', () => {
      const { store } = open();
      expect([store.getRelease('shop'), store.getApp()]).toEqual([undefined, undefined]);
      store.putRelease(fullRelease());
      store.putRelease(fullRelease({ phase: 'promoted' }));
      store.putApp({ app: APP, templates: [] });
      store.putApp({ app: APP, templates: TEMPLATES });
      expect(store.getRelease('shop')).toEqual(fullRelease({ phase: 'promoted' }));
      expect(store.loadRelease({ namespace: 'default', name: 'shop' })?.version).toBe(2);
      expect(store.getApp()).toEqual({ app: APP, templates: TEMPLATES });
      expect(store.getSetting('app')).toBeUndefined();
    });

    it('records of another namespace stay out of the single host\'s view', () => {
      const { store } = open();
      store.commitRollout({ namespace: 'team-b', name: 'api' }, { status: fullStatus(), events: [{ atMs: 1, level: 'info', reason: 'InTeamB', message: 'b' }] }, 0);
      store.commitRelease({ namespace: 'team-b', name: 'shop' }, fullRelease(), 0);
      expect([store.getStatus('api'), store.getStatusVersion('api'), store.getRelease('shop')]).toEqual([undefined, 0, undefined]);
      expect(store.listEvents()).toEqual([]);
      expect(store.listEvents({ namespace: 'team-b' }).map((e) => e.reason)).toEqual(['InTeamB']);
      store.deleteService('api');
      expect(store.loadRollout({ namespace: 'team-b', name: 'api' })?.version).toBe(1);
    });

    it('what was committed survives a reopen', (ctx) => {
      const handle = open();
      if (!handle.reopen) return ctx.skip('this adapter keeps nothing across a reopen (in-memory)');
      handle.store.commit({ service: 'api', status: fullStatus({ phase: 'Paused', currentStepIndex: 3 }), traffic: fullTraffic() });
      handle.store.putRelease(fullRelease());
      handle.store.putApp({ app: APP, templates: TEMPLATES });
      handle.store.close();
      const again = handle.reopen();
      expect(again.getStatus('api')).toEqual(fullStatus({ phase: 'Paused', currentStepIndex: 3 }));
      expect([again.getTraffic('api'), again.getRelease('shop'), again.getApp()]).toEqual([fullTraffic(), fullRelease(), { app: APP, templates: TEMPLATES }]);
      again.close();
    });
  });
}
