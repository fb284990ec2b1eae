/**
 * A request's `headers` object as node:http builds it from the raw field lines (node 20,
 * `IncomingMessage#_addHeaderLine`): names lower-cased; a second value of a field that may appear
 * once is dropped; `set-cookie` values are kept in an array, `cookie` values joined with `; `,
 * every other field's with `, `. The fast path's requests must read exactly as node's do:
 * request-head-parser.fuzz.test.ts compares the two.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Fields node keeps the first value of. */
const FIRST_WINS = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since',
  'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after',
  'server', 'user-agent',
]);

/** `headers` of a request whose field lines are `raw` (name, value, name, value …). */
export function nodeHeaders(raw: readonly string[]): IncomingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const had = out[name];
    if (had === undefined) {
      out[name] = name === 'set-cookie' ? [value] : value;
    } else if (name === 'set-cookie') {
      (had as string[]).push(value);
    } else if (!FIRST_WINS.has(name)) {
      out[name] = `${had as string}${name === 'cookie' ? '; ' : ', '}${value}`;
    }
  }
  return out;
}
