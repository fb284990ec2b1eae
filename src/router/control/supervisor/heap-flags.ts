/**
 * V8 heap settings of the router's processes. Node's default young generation grows to 16 MB per
 * semi-space (three of them live at once) under load: a proxy's garbage is short-lived and small,
 * so that space is resident memory per process for little gain. Measured (`npm run bench -- memory`,
 * 10 services at 1,000 requests/s): a worker's anonymous memory drops from ~67 MB to ~42 MB, and
 * its CPU per request does not measurably change at 2 MB semi-spaces (nor at 4). The old
 * generation of every router process may grow to 1.2× what the last full collection left
 * (`--heap-growing-percent=20`) rather than V8's up to 4×: a worker at 500 requests/s otherwise
 * carries 15–20 MB of dead old-generation objects between full collections (peak anonymous memory
 * 63, 54, 69 MB against 49, 47, 48 MB with the flag, three rounds). Its cost at full load was not
 * measurable: in a six-round alternating A/B (one worker, wrk with 32 connections) the flag's CPU
 * per request was within ±12% of the default's in every round (mean ratio 0.97), both sides swinging
 * 85–150 µs with the host. (An earlier measurement of 20–40% more was of that swing.)
 *
 * Even so, V8 lets the old generation grow at least 8 MB past what a full collection left before
 * it starts marking (2 MB only when optimizing for size, which costs a worker ~60% CPU per
 * request). A worker keeps ~6 MB alive, so two thirds of its old generation were dead objects at
 * the peak: a request's objects still in flight at two young collections are promoted, then die
 * there. {@link OLD_GENERATION_MARKING_FLAG} starts incremental (mostly concurrent) marking once
 * the old generation is half way to that limit.
 */

/**
 * Incremental marking starts when the old generation reaches 50% of its limit, not near it.
 * Measured (`npm run bench -- memory`, 10 services at 1,000 requests/s, 5 min, the supervisor
 * with 2 workers): each worker's anonymous memory 27–30 MB → 22–24 MB, the daemon's (which sets
 * it at run time, daemon-heap.ts) 30–35 → 26–34 MB, all processes together, each page once, peak
 * 159.1 → 144.9 MB. CPU: two alternating pairs of `npm run bench -- router --rounds 2` at full load
 * gave one worker 105.6 and 91.6 µs per request with it against 96.7 and 133.9 without (the host's
 * swing is larger than any difference); a churn of promoted garbage, where GC is all the work
 * (test/fixtures/heap/promoted-garbage.mjs), spends 2–4% more CPU. The supervisor goes without:
 * V8 starts no incremental marking while the old generation is below its activation threshold,
 * and the supervisor's (~5 MB live) stays there.
 */
export const OLD_GENERATION_MARKING_FLAG = '--incremental-marking-hard-trigger=50';

/**
 * The supervisor answers the daemon and merges counters; it is off the request path, so it trades
 * speed for size throughout (`--optimize-for-size` costs ~60% CPU per request on a worker).
 */
export const SUPERVISOR_NODE_FLAGS: readonly string[] = ['--optimize-for-size', '--max-semi-space-size=1', '--heap-growing-percent=20'];

/** A worker serves requests: its young generation capped and its old generation kept near its live size (see above). */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--heap-growing-percent=20', OLD_GENERATION_MARKING_FLAG];

/**
 * glibc malloc's setting for the router's processes. glibc raises its mmap threshold each time a
 * large block is freed (up to 32 MB), after which the large blocks of V8's background threads
 * (collector worklists, compiler zones) come from per-thread arenas and stay resident there,
 * fragmented. A fixed threshold (setting one turns the sliding one off) keeps blocks of 128 KB and
 * more in mappings of their own, returned when freed. Measured (`npm run bench -- memory`, 10
 * services at 1,000 requests/s): a router process's arena memory went from 3–10 MB to ~1 MB, and
 * the supervisor with 2 workers and the daemon together from 168–178 MB to ~149 MB at one minute;
 * under full load a worker makes a handful of mmap calls a second (strace), and its CPU per request
 * did not measurably change. Other allocators (musl) ignore the variable.
 */
export const MALLOC_MMAP_THRESHOLD_BYTES = 128 * 1024;

/** The environment of the router's processes: `env` with {@link MALLOC_MMAP_THRESHOLD_BYTES}, unless the user set malloc's threshold. */
export function routerProcessEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.MALLOC_MMAP_THRESHOLD_ !== undefined || (env.GLIBC_TUNABLES ?? '').includes('glibc.malloc.mmap_threshold')) return env;
  return { ...env, MALLOC_MMAP_THRESHOLD_: String(MALLOC_MMAP_THRESHOLD_BYTES) };
}

/** The worker's `node` arguments: the supervisor's own (a loader, say), its heap flags swapped for the worker's. */
export function workerExecArgv(supervisorExecArgv: readonly string[]): string[] {
  return [...supervisorExecArgv.filter((a) => !SUPERVISOR_NODE_FLAGS.includes(a)), ...WORKER_NODE_FLAGS];
}
