/**
 * The headers every answer of the API server carries, pages and JSON alike: a strict Content
 * Security Policy (the console loads only its own files; no inline script or style; React and
 * uPlot set element.style from script, which the policy allows), no MIME sniffing, no referrer,
 * no framing.
 */
import type { ServerResponse } from 'node:http';

/** The console's Content-Security-Policy. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/** Every security header with its value. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** Sets them on an answer before anything is written (writeHead keeps them). */
export function setSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
}
