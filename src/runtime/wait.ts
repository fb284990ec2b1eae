/** Waiting for instances to reach a condition, driven by change events (with a slow poll as a net). */
import { RuntimeError } from './errors.js';
import type { InstanceFilter, InstanceInfo, Runtime } from './runtime.js';

/** Arguments of {@link waitForInstances}. */
export interface WaitForInstancesOptions extends InstanceFilter {
  /** Give up after this long with a `WaitTimeout` error naming the instances' states. */
  timeoutMs: number;
  /** What is being waited for, for the error message. */
  what?: string;
}

/** Resolves with the instances once `predicate` holds for the filtered list. */
export function waitForInstances(
  runtime: Pick<Runtime, 'listInstances' | 'on'>,
  predicate: (instances: InstanceInfo[]) => boolean,
  options: WaitForInstancesOptions,
): Promise<InstanceInfo[]> {
  const filter: InstanceFilter = { service: options.service, revision: options.revision };
  return new Promise((resolve, reject) => {
    const done = (fn: () => void) => {
      off();
      clearInterval(poll);
      clearTimeout(timer);
      fn();
    };
    const test = () => {
      const instances = runtime.listInstances(filter);
      if (predicate(instances)) done(() => resolve(instances));
    };
    const off = runtime.on('change', test);
    const poll = setInterval(test, 250);
    const timer = setTimeout(() => {
      const states = runtime.listInstances(filter).map((i) => `${i.id}=${i.state}${i.lastError ? ` (${i.lastError})` : ''}`);
      done(() => reject(new RuntimeError('WaitTimeout', `timed out after ${options.timeoutMs} ms waiting for ${options.what ?? 'instances'}; now: ${states.join(', ') || 'none'}`)));
    }, options.timeoutMs);
    test();
  });
}
