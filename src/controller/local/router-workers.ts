/**
 * How many worker processes the built-in router runs under its supervisor. The default is one per
 * core, so a daemon that crashes never takes the site down with it; 0 asks for the router inside
 * the daemon (one process less, and the smallest footprint, but it dies with the daemon).
 */

/** Where the count may come from, strongest first. */
export interface RouterWorkerSources {
  /** `graylane up --router-workers`. */
  flag: number | undefined;
  /** `spec.router.workers`. */
  spec: number | undefined;
  /** Cores of this host (`os.availableParallelism()`). */
  cores: number;
}

/** The number of router workers, or undefined for the router inside the daemon. */
export function routerWorkerCount(sources: RouterWorkerSources): number | undefined {
  const n = sources.flag ?? sources.spec ?? Math.max(1, sources.cores);
  return n === 0 ? undefined : n;
}
