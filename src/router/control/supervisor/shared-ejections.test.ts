import { describe, expect, it } from 'vitest';
import type { RouterEvent } from '../../contract/index.js';
import { SharedEjections } from './shared-ejections.js';

const ev = (type: RouterEvent['type'], instance = 'i1', extra: Partial<RouterEvent> = {}): RouterEvent => ({
  type, service: 'web', revision: 'v1', instance, address: `127.0.0.1:${instance === 'i1' ? 1001 : 1002}`, atMs: 0, ...extra,
});
const hold = (instance: string, ejectionMs: number) => ({ t: 'peer-ejection', instance, address: `127.0.0.1:${instance === 'i1' ? 1001 : 1002}`, ejectionMs });
const release = (instance: string) => ({ t: 'peer-ejection', instance, address: `127.0.0.1:${instance === 'i1' ? 1001 : 1002}` });

describe('ejections shared by the supervisor\'s workers', () => {
  it('the first worker to eject owns the ejection: the daemon hears it and its readmission once, the others follow', () => {
    const s = new SharedEjections();
    expect(s.onEvent(1, ev('instance-ejected', 'i1', { ejectionMs: 5000 }))).toEqual({ forward: true, peers: hold('i1', 5000) });
    // Worker 2 ejected it in the same moment: unheard, and nobody told.
    expect(s.onEvent(2, ev('instance-ejected', 'i1', { ejectionMs: 5000 }))).toEqual({ forward: false, peers: undefined });
    // The owner's probe failed: a longer ejection, heard and followed.
    expect(s.onEvent(1, ev('instance-ejected', 'i1', { ejectionMs: 10_000 }))).toEqual({ forward: true, peers: hold('i1', 10_000) });
    expect(s.onEvent(2, ev('instance-readmitted'))).toEqual({ forward: false, peers: undefined });
    expect(s.onEvent(1, ev('instance-readmitted'))).toEqual({ forward: true, peers: release('i1') });
    // Readmitted already: a late readmission from anyone is not news.
    expect(s.onEvent(1, ev('instance-readmitted'))).toEqual({ forward: false, peers: undefined });
  });

  it('passes drain events through, keeps instances apart, and hands back what a dead worker held out', () => {
    const s = new SharedEjections();
    expect(s.onEvent(1, ev('instance-draining'))).toEqual({ forward: true, peers: undefined });
    s.onEvent(1, ev('instance-ejected', 'i1', { ejectionMs: 5000 }));
    expect(s.onEvent(2, ev('instance-ejected', 'i2', { ejectionMs: 5000 }))).toEqual({ forward: true, peers: hold('i2', 5000) });
    expect(s.onWorkerExit(3)).toEqual([]);
    expect(s.onWorkerExit(1)).toEqual([release('i1')]);
    // i1 is nobody's now: the next worker to eject it owns it.
    expect(s.onEvent(2, ev('instance-ejected', 'i1', { ejectionMs: 5000 }))).toEqual({ forward: true, peers: hold('i1', 5000) });
  });
});
