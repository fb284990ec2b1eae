/**
 * The daemon's heap tuning takes effect at run time (the daemon is started by a plain `node`):
 * measured in a child process, since it changes V8's flags for the rest of the process's life.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { medianMarkingStart } from '../../../test/fixtures/heap/marking-starts.js';

const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const module = pathToFileURL(new URL('./daemon-heap.ts', import.meta.url).pathname).href;

/** The young generation's size after churning through short-lived objects, in MB. */
function youngGenerationMb(routesInProcess: boolean | 'untuned'): number {
  const script = `
    import v8 from 'node:v8';
    import { tuneDaemonHeap } from ${JSON.stringify(module)};
    if (${JSON.stringify(routesInProcess)} !== 'untuned') tuneDaemonHeap({ routesInProcess: ${JSON.stringify(routesInProcess)} });
    let keep = [];
    for (let i = 0; i < 3e6; i++) { keep.push({ a: i, b: 'x' + i }); if (keep.length > 20000) keep = []; }
    console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576);
  `;
  return Number(execFileSync(process.execPath, ['--import', tsx, '--input-type=module', '-e', script], { encoding: 'utf8' }).trim());
}

describe('the daemon heap tuning', () => {
  it.each([true, false])('keeps the young generation at its initial size (routes in process: %s), where node grows it to 32 MB', (routesInProcess) => {
    expect(youngGenerationMb('untuned')).toBeGreaterThanOrEqual(16);
    expect(youngGenerationMb(routesInProcess)).toBeLessThanOrEqual(4);
  }, 30_000);

  it('lets the old generation grow far less past what a full collection leaves (a live set with a cache churning through it)', () => {
    const script = (tuned: boolean) => `
      import { tuneDaemonHeap } from ${JSON.stringify(module)};
      if (${tuned}) tuneDaemonHeap({ routesInProcess: true });
      const live = [];
      for (let i = 0; i < 2000; i++) live.push(new Array(1000).fill(i));
      let max = 0;
      let cache = [];
      for (let round = 0; round < 400; round++) {
        for (let i = 0; i < 2000; i++) cache.push({ a: i, s: 'x'.repeat(50) + i });
        if (cache.length > 100000) cache = [];
        max = Math.max(max, process.memoryUsage().heapTotal);
      }
      console.log(max / 1048576, live.length);
    `;
    const maxHeapMb = (tuned: boolean) => Number(execFileSync(process.execPath, ['--import', tsx, '--input-type=module', '-e', script(tuned)], { encoding: 'utf8' }).trim().split(' ')[0]);
    const untuned = maxHeapMb(false);
    const tuned = maxHeapMb(true);
    expect(tuned).toBeLessThan(untuned * 0.8);
  }, 60_000);

  it('starts marking the old generation half way to its limit, where V8 on its own starts near it', () => {
    const fixture = pathToFileURL(new URL('../../../test/fixtures/heap/promoted-garbage.mjs', import.meta.url).pathname).href;
    const script = (ownTrigger: boolean) => `
      import { setFlagsFromString } from 'node:v8';
      import { tuneDaemonHeap } from ${JSON.stringify(module)};
      import { oldGenerationMb } from ${JSON.stringify(fixture)};
      tuneDaemonHeap({ routesInProcess: true });
      if (${ownTrigger}) setFlagsFromString('--incremental-marking-hard-trigger=0');
      setFlagsFromString('--trace-incremental-marking');
      await oldGenerationMb();
    `;
    const trace = (ownTrigger: boolean) => execFileSync(process.execPath, ['--import', tsx, '--input-type=module', '-e', script(ownTrigger)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    // Measured: a median of 0.80 (16 MB of 20) with the daemon's trigger, 0.95 (19 of 20) with V8's;
    // V8's own starts come from a task, later still on a busy host.
    // (The peak old generation, 18.5–20.1 MB against 20.7–22.6, is what the trigger is for, but
    // concurrent marking's share of a loaded host's CPU moves it by MBs: it failed once in CI.)
    const withTrigger = medianMarkingStart(trace(false));
    expect(withTrigger).toBeLessThan(0.86);
    expect(withTrigger).toBeLessThan(medianMarkingStart(trace(true)) - 0.05);
  }, 60_000);
});
