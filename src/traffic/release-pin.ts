/**
 * Version pinning on data planes that match plain cookie and header values (Istio, Gateway API,
 * ingress-nginx on a cluster), where the single host's built-in router signs and checks tokens.
 *
 * The names are the single host's, so one frontend works in both places: the cookie (default
 * `graylane-release`) and the header (default `x-graylane-release`). The value is
 * `<release>.<generation>.<side>`: the single host's token without position and signature. No
 * cluster data plane can check an HMAC, so a pin there is an assertion the client makes, not a
 * token graylane proved it issued: a client can pick its side by setting the cookie. That is
 * harmless for consistency (it only chooses a version that is serving anyway) and is why the
 * cluster never treats a pin as an access control. A new attempt has a new generation, so pins of
 * an earlier attempt match nothing.
 *
 * Semantics differ from the single host in one way: a data plane that matches routes cannot
 * re-decide a client's side at each page load from a position, so a pinned client keeps its side
 * for the whole attempt; only unpinned clients are split by the weight in force.
 */
import type { ReleaseSide } from '../router/contract/index.js';

/** What a member's traffic decision says about its release's pinning (absent: no pins in force). */
export interface ReleasePin {
  /** Release name. */
  release: string;
  /** The attempt's generation: pins of another generation are not honoured. */
  generation: string;
  /** Cookie carrying the pin. */
  cookie: string;
  /** Request header carrying the pin (API clients, service-to-service calls). */
  header: string;
  /** Whether the header value `canary` or `stable` alone picks a side. */
  allowForceHeader: boolean;
  /**
   * `progressing`: new clients are pinned by the side that served them and pinned clients keep it.
   * `aborted`: within the abort grace, canary-pinned clients keep the canary; nobody new is pinned.
   * `promoted`: within the skew window, stable-pinned clients keep the old version; nobody new is pinned.
   */
  phase: 'progressing' | 'aborted' | 'promoted';
}

/** The sides whose pinned clients are held to their side in the pin's phase. */
export function pinnedSides(pin: ReleasePin): ReleaseSide[] {
  if (pin.phase === 'progressing') return ['canary', 'stable'];
  return pin.phase === 'aborted' ? ['canary'] : ['stable'];
}

/** The pin value of `side`: `<release>.<generation>.<side>`. */
export function pinValue(pin: ReleasePin, side: ReleaseSide): string {
  return `${pin.release}.${pin.generation}.${side}`;
}

/** Attributes of the pin cookie: the whole site (every member), not readable by scripts, as on the single host. */
export const PIN_COOKIE_ATTRIBUTES = '; Path=/; SameSite=Lax; HttpOnly';

/** The `Set-Cookie` value pinning a client to `side`. */
export function pinSetCookie(pin: ReleasePin, side: ReleaseSide): string {
  return `${pin.cookie}=${pinValue(pin, side)}${PIN_COOKIE_ATTRIBUTES}`;
}

/** Whether `value` is a `Set-Cookie` value graylane wrote for a pin (so that it can take it away again without knowing the release). */
export function isPinSetCookie(value: unknown): boolean {
  return typeof value === 'string' && value.endsWith(PIN_COOKIE_ATTRIBUTES) && /^[A-Za-z0-9_-]+=[^;=]+\.(?:stable|canary);/.test(value);
}

/** Characters regular expressions (RE2 and JavaScript alike) treat as syntax, escaped for a literal. */
export const regexLiteral = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A whole-value pattern of the Cookie header holding the pin of `side` among any other cookies. */
export function pinCookiePattern(pin: ReleasePin, side: ReleaseSide): string {
  return `^(.*?;\\s*)?${regexLiteral(pin.cookie)}=${regexLiteral(pinValue(pin, side))}(;.*)?$`;
}

/** The header values that pin to `side`: the pin value, and the bare side where forcing is allowed. */
export function pinHeaderValues(pin: ReleasePin, side: ReleaseSide): string[] {
  return pin.allowForceHeader ? [pinValue(pin, side), side] : [pinValue(pin, side)];
}
