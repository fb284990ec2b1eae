/** Runtime adapters by `type`: the daemon picks one per service through this table, never an if-chain. */
import type { AppService } from '../documents/schema.js';
import { RuntimeInputError } from './errors.js';
import { KubernetesRuntime, type KubernetesRuntimeOptions } from './kubernetes/kubernetes-runtime.js';
import { ProcessRuntime, type ProcessRuntimeOptions } from './process/process-runtime.js';
import { StaticRuntime, type StaticRuntimeOptions } from './static/static-runtime.js';

/** Each adapter's options and class, by registry key. */
export interface RuntimeAdapters {
  process: { options: ProcessRuntimeOptions; runtime: ProcessRuntime };
  static: { options: StaticRuntimeOptions; runtime: StaticRuntime };
  kubernetes: { options: KubernetesRuntimeOptions; runtime: KubernetesRuntime };
}

/** A registry key. */
export type RuntimeType = keyof RuntimeAdapters;

const factories: { [K in RuntimeType]: (options: RuntimeAdapters[K]['options']) => RuntimeAdapters[K]['runtime'] } = {
  process: (options) => new ProcessRuntime(options),
  static: (options) => new StaticRuntime(options),
  kubernetes: (options) => new KubernetesRuntime(options),
};

/** The registered keys. */
export function runtimeTypes(): RuntimeType[] {
  return Object.keys(factories) as RuntimeType[];
}

/** Whether `type` names a registered adapter. */
export function isRuntimeType(type: string): type is RuntimeType {
  return Object.hasOwn(factories, type);
}

/** Creates the adapter registered under `type`; an unknown type is a {@link RuntimeInputError}. */
export function createRuntime<K extends RuntimeType>(type: K, options: RuntimeAdapters[K]['options']): RuntimeAdapters[K]['runtime'] {
  if (!isRuntimeType(type)) {
    throw new RuntimeInputError(`unknown runtime type "${String(type)}"; known: ${runtimeTypes().join(', ')}`);
  }
  return factories[type](options);
}

/** Which adapter runs an App service: `process` for a process template, `static` for targets. */
export function runtimeTypeOf(service: Pick<AppService, 'name' | 'process' | 'targets'>): RuntimeType {
  if (service.process && service.targets) {
    throw new RuntimeInputError(`service ${service.name} has both "process" and "targets"; keep one (graylane runs a process, or routes to targets run elsewhere)`);
  }
  if (service.process) return 'process';
  if (service.targets) return 'static';
  throw new RuntimeInputError(`service ${service.name} has neither "process" nor "targets"; add a process to run or targets to route to`);
}
