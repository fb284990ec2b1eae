/** Compiled string matchers and the request lookups they work on (headers, cookies). */
import type { InboundRequest } from './server/inbound-types.js';
import type { StringMatch } from './types.js';

/** A compiled {@link StringMatch}. */
export type ValueTest = (value: string) => boolean;

/** Compiles a {@link StringMatch}; a missing matcher only requires presence. */
export function compileStringMatch(m: StringMatch | undefined): ValueTest {
  if (!m) return () => true;
  if (m.exact !== undefined) {
    const exact = m.exact;
    return (v) => v === exact;
  }
  if (m.prefix !== undefined) {
    const prefix = m.prefix;
    return (v) => v.startsWith(prefix);
  }
  const re = new RegExp(m.regex ?? '');
  return (v) => re.test(v);
}

/** A header's value, multiple values joined by `, ` (cookies by `; `); undefined when absent. */
export function headerValue(req: InboundRequest, lowerName: string): string | undefined {
  const v = req.headers[lowerName];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The value of cookie `name` in a Cookie header, without parsing the other cookies. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let from = 0;
  for (;;) {
    const i = header.indexOf(name, from);
    if (i < 0) return undefined;
    const end = i + name.length;
    // A match must start a pair (at 0 or after `;` and spaces) and be followed by `=`.
    let j = i - 1;
    while (j >= 0 && header.charCodeAt(j) === 32) j--;
    if ((j < 0 || header.charCodeAt(j) === 59) && header.charCodeAt(end) === 61) {
      const stop = header.indexOf(';', end + 1);
      let v = header.slice(end + 1, stop < 0 ? undefined : stop).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return v;
    }
    from = end;
  }
}

/**
 * Whether `path` (query included or not) falls under `prefix` on a segment boundary:
 * `/api` covers `/api`, `/api/x` and `/api?q`, not `/apix`.
 */
export function underPrefix(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  if (path.length === prefix.length || prefix.endsWith('/')) return true;
  const c = path.charCodeAt(prefix.length);
  return c === 47 /* / */ || c === 63 /* ? */;
}
