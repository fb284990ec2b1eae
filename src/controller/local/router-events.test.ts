import { describe, expect, it } from 'vitest';
import type { RouterEvent, RouterEventType } from '../../router/contract/index.js';
import { RouterEventLog, type RouterEventRecord } from './router-events.js';

function event(type: RouterEventType, instance = 'api-1', extra: Partial<RouterEvent> = {}): RouterEvent {
  return { type, service: 'api', revision: 'r2', instance, address: '127.0.0.1:9001', atMs: 1_000, ...extra };
}

function setup() {
  let now = 0;
  const stored: RouterEventRecord[] = [];
  const log = new RouterEventLog({ record: (e) => stored.push(e), nowMs: () => now, windowMs: 60_000, perWindow: 4 });
  return { log, stored, advance: (ms: number) => (now += ms) };
}

describe('RouterEventLog', () => {
  it('stores ejections and drain timeouts as warnings and readmissions as info, leaving routine drains out', () => {
    const { log, stored } = setup();
    log.onEvent(event('instance-ejected', 'api-1', { reason: '5 consecutive failures (last: status 500)', ejectionMs: 5000 }));
    log.onEvent(event('instance-readmitted'));
    log.onEvent(event('instance-draining', 'api-2'));
    log.onEvent(event('instance-drained', 'api-2'));
    log.onEvent(event('instance-drain-timeout', 'api-3', { abandoned: 2 }));
    expect(stored.map((e) => [e.service, e.level, e.reason])).toEqual([
      ['api', 'warning', 'InstanceEjected'],
      ['api', 'info', 'InstanceReadmitted'],
      ['api', 'warning', 'DrainTimeout'],
    ]);
    expect(stored[0]!.message).toBe('instance api-1 (127.0.0.1:9001) of revision r2 taken out of balancing for 5 s: 5 consecutive failures (last: status 500)');
    expect(stored[0]!.atMs).toBe(1_000);
    expect(stored[2]!.message).toContain('2 request(s) or stream(s) still open at the drain deadline');
  });

  it('a flapping instance gets a few events per window and one summary for the rest; other instances keep theirs', () => {
    const { log, stored, advance } = setup();
    for (let i = 0; i < 50; i++) {
      log.onEvent(event('instance-ejected', 'api-1', { ejectionMs: 10 }));
      log.onEvent(event('instance-readmitted', 'api-1'));
      advance(100);
    }
    log.onEvent(event('instance-ejected', 'api-2', { ejectionMs: 5000 }));
    expect(stored).toHaveLength(5);
    expect(stored.filter((e) => e.message.includes('api-2'))).toHaveLength(1);
    advance(60_000);
    log.flush();
    expect(stored).toHaveLength(6);
    expect(stored[5]).toMatchObject({ service: 'api', level: 'warning', reason: 'InstanceFlapping' });
    expect(stored[5]!.message).toBe('instance api-1: 96 more router event(s) within 60 s not recorded one by one (48 InstanceEjected, 48 InstanceReadmitted)');
    // A new window, a new budget.
    log.onEvent(event('instance-ejected', 'api-1', { ejectionMs: 10 }));
    expect(stored).toHaveLength(7);
    advance(60_000);
    log.flush();
    expect(stored).toHaveLength(7);
  });

  it('a store that fails (a full disk) loses the event but never throws into the router', () => {
    const log = new RouterEventLog({
      record: () => {
        throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      },
      nowMs: () => 0,
      perWindow: 1,
    });
    expect(() => log.onEvent(event('instance-ejected'))).not.toThrow();
    expect(() => log.onEvent(event('instance-ejected'))).not.toThrow();
    expect(() => log.flush(60_000)).not.toThrow();
  });
});
