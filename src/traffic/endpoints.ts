/**
 * From a runtime's instances to the traffic port's endpoints. The traffic layer does not import
 * runtimes; an instance is read by its shape, so any runtime's instance list fits.
 */
import { isLastResort, type TrafficEndpoint } from './traffic-provider.js';

/** The fields of a runtime instance that routing reads. */
export interface RoutableInstance {
  /** Instance id, unique. */
  id: string;
  /** Revision it runs. */
  revision: string;
  /** `host:port`; a port of 0 means it is still choosing one. */
  address: string;
  /** Lifecycle state: `ready` takes requests, `stopping` drains, `stopped` is gone; anything else waits. */
  state: string;
  /** See `InstanceInfo.readyBefore`: with `unready`, running though its readiness probe fails. */
  readyBefore?: boolean;
}

/**
 * The endpoints of a service's instances: stopped ones are gone; one still choosing its port is
 * kept (its revision exists) and left out of the route by the adapter that needs an address.
 */
export function toTrafficEndpoints(instances: readonly RoutableInstance[]): TrafficEndpoint[] {
  return instances
    .filter((i) => i.state !== 'stopped')
    .map((i) => ({ id: i.id, revision: i.revision, address: i.address, ready: i.state === 'ready', draining: i.state === 'stopping', ...(isLastResort(i) && { lastResort: true }) }));
}
