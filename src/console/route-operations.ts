/**
 * The header and mirror route operations of the console's editors. Until `setHeaderRoute` and
 * `setMirrorRoute` are Operation types of the shared contract, they are sent here with the shared
 * client's raw fetch; once they are, each function becomes one `client.operate` call.
 */
import { ApiError, type ApiClient } from '../api/client.js';
import type { ServiceView } from '../api/contract/index.js';

/** A header route's match: a request header or a cookie, exact value. */
export type HeaderMatch =
  | { headerName: string; headerValue: { exact: string } }
  | { cookieName: string; cookieValue: { exact: string } };

/** Adds (with a match) or removes (without) a header route of a canary. */
export function setHeaderRoute(client: ApiClient, service: string, route: { name: string; match?: HeaderMatch[] }, expectedVersion: number | undefined): Promise<ServiceView> {
  return post(client, service, 'header-route', { ...route, ...(expectedVersion === undefined ? {} : { expectedVersion }) });
}

/** Adds (with a percentage) or removes (without) a mirror route of a canary. */
export function setMirrorRoute(
  client: ApiClient,
  service: string,
  route: { name: string; percentage?: number; match?: { path: { prefix: string } }[] },
  expectedVersion: number | undefined,
): Promise<ServiceView> {
  return post(client, service, 'mirror-route', { ...route, ...(expectedVersion === undefined ? {} : { expectedVersion }) });
}

async function post(client: ApiClient, service: string, path: string, body: Record<string, unknown>): Promise<ServiceView> {
  const res = await client.fetch('POST', `/v1/services/${encodeURIComponent(service)}/${path}`, body);
  let json: unknown = {};
  try {
    json = await res.json();
  } catch {
    // Not JSON: the status says it.
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: unknown; message?: unknown } }).error;
    throw new ApiError(typeof e?.code === 'string' ? e.code : 'Error', typeof e?.message === 'string' ? e.message : `HTTP ${res.status}`, res.status);
  }
  return json as ServiceView;
}
