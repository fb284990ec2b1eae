/**
 * HTTP → HTTPS redirects for services that ask for them: the same host, path and query on the
 * HTTPS listener's port. 308 rather than 301 so a POST stays a POST with its body.
 */
import type { InboundRequest, InboundResponse } from '../server/inbound-types.js';

/**
 * Where a plain-HTTP request goes over HTTPS, or undefined when it names no host (HTTP/1.0
 * without `Host`), which cannot be redirected anywhere meaningful. The port is left out when it
 * is 443, the default for https.
 */
export function httpsLocation(req: InboundRequest, httpsPort: number): string | undefined {
  const host = req.headers.host;
  if (host === undefined || host === '') return undefined;
  const colon = host.startsWith('[') ? host.indexOf(']:') + 1 : host.lastIndexOf(':');
  const name = colon > 0 ? host.slice(0, colon) : host;
  return `https://${name}${httpsPort === 443 ? '' : `:${httpsPort}`}${req.url ?? '/'}`;
}

/** Answers a plain-HTTP request with a 308 to `location`. */
export function sendRedirect(res: InboundResponse, location: string): void {
  const body = `graylane: this service is served over HTTPS: ${location}\n`;
  res.writeHead(308, {
    location,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}
