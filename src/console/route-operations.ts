/** The header and mirror route operations of the console's editors, as the contract's operations. */
import type { ApiClient } from '../api/client.js';
import type { ServiceView } from '../api/contract/index.js';

/** A header route's match: a request header or a cookie, exact value. */
export type HeaderMatch =
  | { headerName: string; headerValue: { exact: string } }
  | { cookieName: string; cookieValue: { exact: string } };

/** Adds (with a match) or removes (without) a header route of a canary. */
export function setHeaderRoute(client: ApiClient, service: string, route: { name: string; match?: HeaderMatch[] }, expectedVersion: number | undefined): Promise<ServiceView> {
  return client.operate(service, { type: 'setHeaderRoute', ...route }, { expectedVersion });
}

/** Adds (with a percentage) or removes (without) a mirror route of a canary. */
export function setMirrorRoute(
  client: ApiClient,
  service: string,
  route: { name: string; percentage?: number; match?: { path: { prefix: string } }[] },
  expectedVersion: number | undefined,
): Promise<ServiceView> {
  return client.operate(service, { type: 'setMirrorRoute', ...route }, { expectedVersion });
}
