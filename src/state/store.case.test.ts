/** The conformance suite every store adapter runs. */
import { describe, expect, it } from 'vitest';
import type { Store } from './store.js';

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
      const ids = store.commit({ service: 'api', status: { phase: 'Progressing', step: 1 }, events: [
        { atMs: 10, level: 'info', reason: 'StepCompleted', message: 'step 1 done' },
        { atMs: 11, level: 'warning', reason: 'Slow', message: 'slow' },
      ] });
      expect(ids).toHaveLength(2);
      expect(store.getStatus('api')).toEqual({ phase: 'Progressing', step: 1 });
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
      store.commit({ service: 'api', status: { phase: 'Healthy' } });
      expect(() => store.transaction(() => {
        store.commit({ service: 'api', status: { phase: 'Degraded' }, events: [{ atMs: 1, level: 'error', reason: 'X', message: 'x' }] });
        throw new Error('boom');
      })).toThrow('boom');
      expect(store.getStatus('api')).toEqual({ phase: 'Healthy' });
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
      store.commit({ service: 'api', status: {} });
      store.deleteService('api');
      expect([store.getService('api'), store.getStatus('api')]).toEqual([undefined, undefined]);
      expect([store.listRevisions('api'), store.listInstances('api'), store.listAnalysisRuns('api')]).toEqual([[], [], []]);
    });

    it('what was committed survives a reopen', (ctx) => {
      const handle = open();
      if (!handle.reopen) return ctx.skip('this adapter keeps nothing across a reopen (in-memory)');
      handle.store.commit({ service: 'api', status: { phase: 'Paused', currentStepIndex: 3 } });
      handle.store.close();
      const again = handle.reopen();
      expect(again.getStatus('api')).toEqual({ phase: 'Paused', currentStepIndex: 3 });
      again.close();
    });
  });
}
