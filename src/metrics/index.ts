/** Metric providers: the port, the registry and the adapters. */
export * from './provider.js';
export * from './registry.js';
export * from './builtin/stats-source.js';
export * from './builtin/builtin-provider.js';
export * from './prometheus/prometheus-provider.js';
export * from './web/web-provider.js';
export * from './command/command-provider.js';
export * from './job/job-manifest.js';
export * from './job/job-provider.js';
