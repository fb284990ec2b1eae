import { describe, expect, it } from 'vitest';
import { pinnedCores } from '../../bench/kubernetes.js';

describe('kubernetes bench --pin: the controller gets the last core, the fake the rest', () => {
  it.each([
    [1, undefined],
    [2, { controller: '1', bench: '0' }],
    [4, { controller: '3', bench: '0-2' }],
    [16, { controller: '15', bench: '0-14' }],
  ])('%i cores → %j', (cores, expected) => {
    expect(pinnedCores(cores)).toEqual(expected);
  });
});
