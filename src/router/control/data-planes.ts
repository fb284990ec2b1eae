/**
 * What each data plane can do, declared where both the documents' checks and the composition
 * roots can read it: an App asking its data plane for something it cannot do is refused when it is
 * validated, with a sentence, never applied half-way or ignored.
 */

/** The data planes a single host can run (`spec.router.type`). */
export type DataPlaneType = 'builtin' | 'nginx';

/** Something a data plane may or may not do. */
export type DataPlaneCapability =
  /** Releases: signed version tokens, per-page pinning, skew windows. */
  | 'releases'
  /** The built-in router's client limits (timeouts, body size, connection cap). */
  | 'client-limits'
  /** Keeping X-Forwarded-* from listed proxies only. */
  | 'trusted-proxies'
  /** HTTPS for clients from graylane's certificate settings (spec.router.tls, redirectToHttps). */
  | 'tls';

/** Why a data plane lacks a capability, as the end of a sentence. */
const MISSING: Record<DataPlaneType, Partial<Record<DataPlaneCapability, string>>> = {
  builtin: {},
  nginx: {
    releases: 'an nginx configuration cannot issue or check signed version tokens, so it cannot pin a client to a release across services; use router.type builtin for an App with releases',
    'client-limits': 'it is a limit of the built-in router, which nginx does not take from graylane; set it in nginx (client_header_timeout, client_body_timeout, send_timeout, client_max_body_size, worker_connections) or remove it',
    'trusted-proxies': 'graylane\'s nginx replaces X-Forwarded-For with the client address and does not read it from proxies; remove it, or use router.type builtin',
    tls: 'graylane does not render TLS server blocks for nginx yet; terminate TLS in front of it, or use router.type builtin',
  },
};

/** Whether `type` can do `capability`, and if not, why. */
export function dataPlaneLacks(type: DataPlaneType, capability: DataPlaneCapability): string | undefined {
  return MISSING[type][capability];
}
