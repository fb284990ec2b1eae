import type { CoreV1Event } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ClusterEventLog } from './cluster-event-log.js';

const event = (name: string, kind: string, at: string, extra: Partial<CoreV1Event> = {}): CoreV1Event => ({
  metadata: { name, uid: `uid-${name}` }, involvedObject: { kind, name: 'web' }, reason: `R-${name}`, message: `m ${name}`, lastTimestamp: new Date(at), count: 1, ...extra,
});

describe('ClusterEventLog', () => {
  it('gives Rollout and Release Events increasing ids, oldest first, once per occurrence; other kinds are left out', () => {
    const log = new ClusterEventLog();
    const first = log.add([event('b', 'Rollout', '2026-05-01T10:00:02Z'), event('a', 'Release', '2026-05-01T10:00:01Z'), event('p', 'Pod', '2026-05-01T10:00:00Z')]);
    expect(first.map((e) => [e.id, e.reason])).toEqual([[1, 'R-a'], [2, 'R-b']]);
    // The same list again adds nothing; a repeat that bumped the count is a new occurrence.
    expect(log.add([event('a', 'Release', '2026-05-01T10:00:01Z'), event('b', 'Rollout', '2026-05-01T10:00:02Z')])).toEqual([]);
    const repeat = log.add([event('b', 'Rollout', '2026-05-01T10:00:09Z', { count: 2, type: 'Warning' })]);
    expect(repeat).toEqual([expect.objectContaining({ id: 3, level: 'warning', atMs: Date.parse('2026-05-01T10:00:09Z') })]);
    expect(log.events({ afterId: 1 }).map((e) => e.id)).toEqual([2, 3]);
    expect(log.events({ limit: 1 }).map((e) => e.id)).toEqual([3]);
  });

  it('keeps the newest occurrences up to its capacity', () => {
    const log = new ClusterEventLog({ capacity: 2 });
    log.add(['a', 'b', 'c'].map((n, i) => event(n, 'Rollout', `2026-05-01T10:00:0${i}Z`)));
    expect(log.events().map((e) => e.reason)).toEqual(['R-b', 'R-c']);
  });
});
