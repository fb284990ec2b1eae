import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { run } from '../../bench/allocations.js';

// The allocations bench must measure the router it names under real load, or its figures say nothing.
describe('the allocations bench', () => {
  // Debian's wrk (apt-get install wrk; .ci/run installs it) is the load: without it there is nothing to sample.
  it.skipIf(!existsSync('/usr/bin/wrk'))('samples the router under wrk load and names the sites that allocate', async () => {
    const figures = (await run({ json: true, args: ['--seconds', '1', '--rounds', '1', '--connections', '4'] })) as {
      builds: Record<string, { requests: number; bytesPerRequest: number; top: { site: string; bytesPerRequest: number }[] }>;
      thisOverBaseline: number | undefined;
    };
    const mine = figures.builds['this checkout']!;
    expect(mine.requests).toBeGreaterThan(100);
    // A proxied request through node:http allocates kilobytes; far outside this range the sampling or the division is wrong.
    expect(mine.bytesPerRequest).toBeGreaterThan(2_000);
    expect(mine.bytesPerRequest).toBeLessThan(100_000);
    expect(mine.top.some((t) => t.site.includes('src/router/'))).toBe(true);
    expect(figures.thisOverBaseline).toBeUndefined();
  }, 60_000);

  it('refuses a baseline that is no graylane checkout, before starting anything', async () => {
    await expect(run({ json: true, args: ['--baseline', '/nonexistent/checkout'] })).rejects.toThrow(/--baseline \/nonexistent\/checkout: no .*src\/router\/index\.ts/);
  });

  it('refuses a round count that is no whole number', async () => {
    await expect(run({ json: true, args: ['--rounds', '0'] })).rejects.toThrow('--rounds needs a whole number ≥ 1');
  });
});
