/** What a process instance's snapshot tells routing: whether an unready instance is running (a release's last resort). */
import { describe, expect, it } from 'vitest';
import { instanceSnapshot, newInstance } from './managed-instance.js';

describe('instanceSnapshot readyBefore', () => {
  it.each<[string, { readyOnce: boolean; killed: boolean }, boolean | undefined]>([
    ['still starting (never ready in this process)', { readyOnce: false, killed: false }, undefined],
    ['ready once, now failing its readiness probe', { readyOnce: true, killed: false }, true],
    ['ready once, now being killed for a restart', { readyOnce: true, killed: true }, undefined],
  ])('%s → %s', (_name, o, expected) => {
    const inst = newInstance('shop-v2-1', 'shop', 'v2', { command: ['node', 'server.js'] });
    inst.state = 'unready';
    inst.readyOnce = o.readyOnce;
    if (o.killed) inst.killReason = { kind: 'liveness', message: 'liveness probe failed' };
    expect(instanceSnapshot(inst, '127.0.0.1').readyBefore).toBe(expected);
  });
});
