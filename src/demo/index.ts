/** The demo's building blocks: example servers, simulated browser users, constant-rate load. */
export { runSimulatedUsers, parseAssetUrls, parseMeta, missingProductFields, PAGE_API_CALLS, InvalidSimulatedUsersOptionsError } from './simulated-users.js';
export type { SimulatedUsersOptions, SimulatedUsersReport, PageLoadResult } from './simulated-users.js';
export { runLoad, validateLoadOptions, InvalidLoadOptionsError } from './load-generator.js';
export type { LoadOptions, LoadSummary, LoadWindow } from './load-generator.js';
export { runLoadWorker, parseLoadWorkerArgs } from './load-worker.js';
export { startExampleServer, examplesDir, exampleServerScript, ExampleServerStartError } from './example-servers.js';
export type { ExampleServerName, RunningExampleServer, StartExampleServerOptions } from './example-servers.js';
export { CookieJar } from './cookie-jar.js';
export { LatencyHistogram, type LatencySummary } from './latency-histogram.js';
export { parseServedBy, SERVED_BY_HEADER, type ServedBy } from './served-by.js';
export { FAILURE_REASONS, type FailureReason } from './request-failure.js';
