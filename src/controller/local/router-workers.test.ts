import { describe, expect, it } from 'vitest';
import { routerWorkerCount } from './router-workers.js';

describe('how many router workers graylane up runs', () => {
  it.each([
    // flag, spec, cores, workers (undefined: the router inside the daemon)
    [undefined, undefined, 2, 2],
    [undefined, undefined, 8, 8],
    [undefined, undefined, 0, 1],
    [undefined, 3, 8, 3],
    [undefined, 0, 8, undefined],
    [4, 0, 8, 4],
    [0, 3, 8, undefined],
    [1, undefined, 2, 1],
  ] as const)('flag %s, spec %s, %s cores → %s', (flag, spec, cores, workers) => {
    expect(routerWorkerCount({ flag, spec, cores })).toBe(workers);
  });
});
