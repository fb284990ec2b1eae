import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { LeaseLostError, runUntilSignal } from '../../../src/cli/commands/controller.js';
import { kubernetesAnalysis, noCounters } from '../../../src/controller/kubernetes/kubernetes-ports.js';

const key = { namespace: 'shop', name: 'web' };

describe('the Kubernetes controller\'s small ports', () => {
  it('analysis lists no run and refuses to start one, naming the rollout (the InvalidSpec check keeps analysis out)', async () => {
    expect(await kubernetesAnalysis.list(key)).toEqual([]);
    await expect(kubernetesAnalysis.stop(key, 'x')).resolves.toBeUndefined();
    const action = { type: 'startAnalysis', name: 'pre', kind: 'prePromotion', analysis: { templates: [{ templateName: 't' }] }, revision: 'abc' } as const;
    await expect(kubernetesAnalysis.start(key, { action: action as never })).rejects.toMatchObject({
      code: 'AnalysisUnsupported', message: 'rollout shop/web: cannot start analysis pre: analysis on Kubernetes comes with the next issue',
    });
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
