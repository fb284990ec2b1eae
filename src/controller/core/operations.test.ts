import { describe, expect, it } from 'vitest';
import type { Operation as ApiOperation } from '../control-plane.js';
import { fromApiOperation, type CoreOperation } from './operations.js';

describe('fromApiOperation', () => {
  it.each([
    [{ type: 'promote' }, { type: 'promote' }],
    [{ type: 'promote', full: false }, { type: 'promote' }],
    [{ type: 'promote', full: true }, { type: 'promoteFull' }],
    [{ type: 'pause' }, { type: 'pause' }],
    [{ type: 'resume' }, { type: 'resume' }],
    [{ type: 'abort' }, { type: 'abort' }],
    [{ type: 'retry' }, { type: 'retry' }],
    [{ type: 'setWeight', percent: 30 }, { type: 'setWeight', weight: 30 }],
    [{ type: 'undo' }, { type: 'undo' }],
    [{ type: 'undo', toRevision: 3 }, { type: 'undo', toRevision: 3 }],
    [{ type: 'restart' }, { type: 'restart' }],
  ] as [ApiOperation, CoreOperation][])('%j → %j', (api, core) => {
    expect(fromApiOperation(api)).toEqual(core);
  });
});
