/** The default set of metric providers, keyed by the metric's provider key. */
import { BuiltinMetricProvider } from './builtin/builtin-provider.js';
import type { RevisionStatsSource } from './builtin/stats-source.js';
import { CommandMetricProvider, type CommandProviderOptions } from './command/command-provider.js';
import { PrometheusMetricProvider } from './prometheus/prometheus-provider.js';
import { MetricProviderRegistry } from './provider.js';
import { WebMetricProvider } from './web/web-provider.js';

/** What the default providers need from the host. */
export interface DefaultProvidersOptions {
  /** The router's figures; without it the builtin provider is not registered. */
  statsSource?: RevisionStatsSource;
  /** Options for commands. */
  command?: CommandProviderOptions;
}

/** prometheus, web, command, and builtin when a stats source is given. */
export function createDefaultProviderRegistry(options: DefaultProvidersOptions = {}): MetricProviderRegistry {
  const registry = new MetricProviderRegistry()
    .register(new PrometheusMetricProvider())
    .register(new WebMetricProvider())
    .register(new CommandMetricProvider(options.command));
  if (options.statsSource) registry.register(new BuiltinMetricProvider(options.statsSource));
  return registry;
}
