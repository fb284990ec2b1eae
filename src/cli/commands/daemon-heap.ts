/**
 * The daemon's V8 heap. Node's young generation grows to 16 MB per semi-space under load (three
 * live at once), resident for the process's life, and its old generation up to 4× past what a
 * full collection left; the daemon's own garbage is small and short-lived. Set at run time because
 * `graylane up` is started by a plain `node`, with no flags of ours (V8 reads these flags when it
 * next sizes a generation or decides on a collection; daemon-heap.test.ts checks they take effect).
 */
import { setFlagsFromString } from 'node:v8';
import { OLD_GENERATION_MARKING_FLAG } from '../../router/control/supervisor/heap-flags.js';

/**
 * Called before the daemon starts (the young generation stays at its initial size: the request
 * path's CPU does not measurably change) and again once its data plane is known: with the data
 * plane in processes of its own, the daemon is a control plane only and trades speed for size
 * throughout (`--optimize-for-size` costs a router ~60% CPU per request, so never in-process).
 * Measured with `npm run bench -- memory`.
 */
export function tuneDaemonHeap(options: { routesInProcess: boolean | undefined }): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  // The old generation grows to 1.2× what the last full collection left, not V8's up to 4×: the
  // daemon's memory otherwise rose by 60 MB between full collections (peak 186 MB, then 133 MB).
  // Its cost, more full collections, is small at the daemon's own allocation rate; with the router
  // inside, under full load, it may cost the router ~10% CPU per request (within the noise of a
  // three-round A/B); router workers run with it too (heap-flags.ts).
  setFlagsFromString('--heap-growing-percent=20');
  // Marking starts half way to the old generation's limit, as in the router's workers (heap-flags.ts has the measurement).
  setFlagsFromString(OLD_GENERATION_MARKING_FLAG);
  if (options.routesInProcess === false) setFlagsFromString('--optimize-for-size');
}
