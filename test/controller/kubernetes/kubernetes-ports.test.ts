import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { LeaseLostError, runUntilSignal } from '../../../src/cli/commands/controller.js';
import { noCounters } from '../../../src/controller/kubernetes/kubernetes-ports.js';

const key = { namespace: 'shop', name: 'web' };

describe('the Kubernetes controller\'s small ports', () => {
  it('nothing counts a revision\'s requests on Kubernetes', async () => {
    expect(await noCounters.requests(key, 'abc')).toBeUndefined();
  });
});

describe('runUntilSignal: a lost Lease', () => {
  it('stops the controller and rejects with LeaseLost (the command exits 1)', async () => {
    const calls: string[] = [];
    const controller = {
      start: () => { calls.push('start'); return Promise.resolve(); },
      stop: () => { calls.push('stop'); return Promise.resolve(); },
      done: Promise.resolve('lease-lost' as const),
    };
    const signals = new EventEmitter();
    await expect(runUntilSignal({ controller, signals, log: () => undefined })).rejects.toBeInstanceOf(LeaseLostError);
    await expect(runUntilSignal({ controller, signals, log: () => undefined })).rejects.toMatchObject({ code: 'LeaseLost' });
    expect(calls).toEqual(['start', 'stop', 'start', 'stop']);
    expect(signals.listenerCount('SIGTERM')).toBe(0);
  });
});
