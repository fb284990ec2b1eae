/**
 * Which parsed requests a fast path may serve itself: a GET or HEAD over HTTP/1.1 with exactly one
 * Host, no body and nothing that changes what the connection carries next. Everything else (a body,
 * whose framing is where request smuggling lives; an upgrade; `Expect`; HTTP/1.0's keep-alive
 * rules) is node:http's, from the same bytes.
 */
import type { RequestHead } from './request-head-parser.js';

/** Fields whose presence leaves the request to node:http (lower case). */
const HANDED_OFF_FIELDS = new Set(['content-length', 'transfer-encoding', 'upgrade', 'expect', 'http2-settings']);

/** Why the fast path leaves `head` to node:http, or undefined when it may serve it. */
export function fastPathRefusal(head: RequestHead): string | undefined {
  if (head.method !== 'GET' && head.method !== 'HEAD') return `method ${head.method}`;
  if (head.version !== '1.1') return `HTTP/${head.version}`;
  let hosts = 0;
  const raw = head.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'host') hosts++;
    else if (HANDED_OFF_FIELDS.has(name)) return `a ${name} field`;
  }
  if (hosts !== 1) return hosts === 0 ? 'no Host field' : 'more than one Host field';
  return undefined;
}
