/**
 * A small cookie jar for simulated browsers (RFC 6265 basics): host-only and Domain cookies,
 * Path with the default-path rule, Max-Age over Expires, deletion by a past expiry, Secure.
 * Enough to keep the session and release-pinning cookies a router sets; no public-suffix list.
 */
interface StoredCookie {
  name: string;
  value: string;
  domain: string;
  hostOnly: boolean;
  path: string;
  secure: boolean;
  /** Epoch ms; Infinity for a session cookie. */
  expiresAtMs: number;
  createdSeq: number;
}

export class CookieJar {
  private readonly cookies = new Map<string, StoredCookie>();
  private seq = 0;

  /** Number of cookies held, expired ones included until the next lookup drops them. */
  get size(): number {
    return this.cookies.size;
  }

  /**
   * Stores one `Set-Cookie` header value received from `url`. Malformed values, and a Domain
   * the host does not belong to, are ignored, as browsers do.
   */
  setCookie(setCookie: string, url: string | URL, nowMs: number = Date.now()): void {
    const from = typeof url === 'string' ? new URL(url) : url;
    const [pair = '', ...attributes] = setCookie.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) return;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (name === '') return;

    const host = from.hostname.toLowerCase();
    let domain = host;
    let hostOnly = true;
    let path = defaultPath(from.pathname);
    let secure = false;
    let maxAgeMs: number | undefined;
    let expiresAtMs: number | undefined;
    for (const attribute of attributes) {
      const i = attribute.indexOf('=');
      const key = (i < 0 ? attribute : attribute.slice(0, i)).trim().toLowerCase();
      const arg = i < 0 ? '' : attribute.slice(i + 1).trim();
      if (key === 'max-age' && /^-?[0-9]+$/.test(arg)) maxAgeMs = Number(arg) * 1000;
      else if (key === 'expires') {
        const t = Date.parse(arg);
        if (!Number.isNaN(t)) expiresAtMs = t;
      } else if (key === 'path') path = arg.startsWith('/') ? arg : defaultPath(from.pathname);
      else if (key === 'secure') secure = true;
      else if (key === 'domain' && arg !== '') {
        const d = arg.replace(/^\./, '').toLowerCase();
        if (!domainMatches(host, d)) return;
        domain = d;
        hostOnly = false;
      }
    }
    const expiry = maxAgeMs !== undefined ? nowMs + maxAgeMs : (expiresAtMs ?? Infinity);
    const key = `${domain};${path};${name}`;
    if (expiry <= nowMs) {
      this.cookies.delete(key);
      return;
    }
    const existing = this.cookies.get(key);
    this.cookies.set(key, {
      name, value, domain, hostOnly, path, secure, expiresAtMs: expiry,
      createdSeq: existing?.createdSeq ?? this.seq++,
    });
  }

  /** Stores every `Set-Cookie` of a response (a single value or the list undici gives). */
  setCookies(headerValue: string | string[] | undefined, url: string | URL, nowMs: number = Date.now()): void {
    if (headerValue === undefined) return;
    for (const v of Array.isArray(headerValue) ? headerValue : [headerValue]) this.setCookie(v, url, nowMs);
  }

  /** The `Cookie` request header for `url`, or undefined when no cookie applies. */
  cookieHeader(url: string | URL, nowMs: number = Date.now()): string | undefined {
    const to = typeof url === 'string' ? new URL(url) : url;
    const host = to.hostname.toLowerCase();
    const matching: StoredCookie[] = [];
    for (const [key, c] of this.cookies) {
      if (c.expiresAtMs <= nowMs) {
        this.cookies.delete(key);
        continue;
      }
      if (c.hostOnly ? host !== c.domain : !domainMatches(host, c.domain)) continue;
      if (!pathMatches(to.pathname, c.path)) continue;
      if (c.secure && to.protocol !== 'https:') continue;
      matching.push(c);
    }
    if (matching.length === 0) return undefined;
    // Longer paths first, then older cookies first (RFC 6265 5.4).
    matching.sort((a, b) => b.path.length - a.path.length || a.createdSeq - b.createdSeq);
    return matching.map((c) => `${c.name}=${c.value}`).join('; ');
  }

  /** The value of the cookie `name` that would be sent to `url`, if any. */
  get(name: string, url: string | URL, nowMs: number = Date.now()): string | undefined {
    const header = this.cookieHeader(url, nowMs);
    if (header === undefined) return undefined;
    for (const part of header.split('; ')) {
      const eq = part.indexOf('=');
      if (part.slice(0, eq) === name) return part.slice(eq + 1);
    }
    return undefined;
  }

  /** Forgets every cookie (a user clearing their browser). */
  clear(): void {
    this.cookies.clear();
  }
}

/** RFC 6265 5.1.4: the directory of the request path. */
function defaultPath(pathname: string): string {
  if (!pathname.startsWith('/')) return '/';
  const last = pathname.lastIndexOf('/');
  return last <= 0 ? '/' : pathname.slice(0, last);
}

/** RFC 6265 5.1.4 path-match. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

/** RFC 6265 5.1.3 domain-match, for host names (IP addresses only match themselves). */
function domainMatches(host: string, domain: string): boolean {
  if (host === domain) return true;
  if (/^[0-9.]+$/.test(host) || host.includes(':')) return false;
  return host.endsWith(`.${domain}`);
}
