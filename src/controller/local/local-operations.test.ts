import { describe, expect, it } from 'vitest';
import { StateConflictError } from '../../state/state-port.js';
import { ControlPlaneError } from '../control-plane.js';
import { LocalOperations, type LocalOperationsHost } from './local-operations.js';

/** A host whose release keeps moving: every commit of the release loop meets a newer version. */
function hostWithRaceyRelease(failure: Error): LocalOperationsHost {
  const release = { name: 'shop', services: ['web', 'api'], strategy: { canary: { steps: [] } } };
  return {
    releases: {
      find: (name: string) => (name === 'shop' ? release : undefined),
      operate: () => Promise.reject(failure),
    },
    tickReleases: () => Promise.resolve(),
    get: () => { throw new Error('not reached'); },
  } as unknown as LocalOperationsHost;
}

describe('an operation on a release', () => {
  it('that keeps meeting newer versions is refused as a conflict, with a sentence saying what to do', async () => {
    const ops = new LocalOperations(hostWithRaceyRelease(new StateConflictError({ namespace: 'default', name: 'shop' }, 4, 5)));
    const refusal = await ops.operate('shop', { type: 'pause' }).catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(ControlPlaneError);
    expect(refusal).toMatchObject({ code: 'Conflict', message: expect.stringMatching(/^pause not done: release shop kept changing/) });
  });

  it('that fails for another reason passes the error on unchanged', async () => {
    const boom = new Error('disk on fire');
    const ops = new LocalOperations(hostWithRaceyRelease(boom));
    await expect(ops.operate('shop', { type: 'abort' })).rejects.toBe(boom);
  });
});
