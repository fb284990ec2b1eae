/** Constants shared by the supervisor and its workers (the worker's entry file runs on import). */

/** How often a worker sends its counters unasked, and the supervisor pushes the merged ones. */
export const REPORT_INTERVAL_MS = 200;

/** Reports that say nothing new are held back (see change-gate.ts), but never for longer than this. */
export const REPORT_HEARTBEAT_MS = 5000;

/** The environment variable carrying the router's options (JSON) from supervisor to worker. */
export const WORKER_OPTIONS_ENV = 'GRAYLANE_ROUTER_WORKER_OPTIONS';
